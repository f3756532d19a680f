"""Shared fixtures: guest images and small profiles."""

import os
from typing import Callable

import pytest

GUESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests")
FLOPPY_144 = 1474560


def guest_path(*parts: str) -> str:
    return os.path.join(GUESTS, *parts)


@pytest.fixture
def floppy_from() -> Callable[..., str]:
    """floppy_from(tmp_path, "boot/vga_direct.bin") -> path of a 1.44 MB image whose
    first sector is that boot sector."""

    def make(folder, relative: str) -> str:
        with open(guest_path(relative), "rb") as handle:
            boot = handle.read()
        path = os.path.join(str(folder), os.path.basename(relative).replace(".bin", ".img"))
        with open(path, "wb") as handle:
            handle.write(boot.ljust(FLOPPY_144, b"\0"))
        return path

    return make
