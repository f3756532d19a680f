"""Shared fixtures: guest images and small profiles."""

import os
from typing import Any, Callable, List

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


def pytest_addoption(parser) -> None:
    parser.addoption("--tier2-threshold", type=int, default=None, metavar="N",
                     help="run every machine with the CPU's tier 2 on, translating a block "
                          "after N runs (0: at its first run); default: the profile's setting")
    parser.addoption("--shard", default=None, metavar="K/N",
                     help="run the Kth of N shares of the selected tests, balanced by their "
                          "`heavy` marks: tests/run.sh runs PyPy's suite as two")


def pytest_configure(config) -> None:
    threshold = config.getoption("--tier2-threshold")
    if threshold is not None:
        force_tier2(threshold)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """`--shard K/N`: keep the Kth of N shares of the tests left after the `-m`
    selection, so that N processes with the same arguments share the tests out."""
    shard = config.getoption("--shard")
    if shard is None:
        return
    try:
        number, count = (int(part) for part in shard.split("/"))
    except ValueError:
        raise pytest.UsageError("--shard wants K/N, two numbers: %r" % shard) from None
    if not 1 <= number <= count:
        raise pytest.UsageError("--shard K/N wants 1 <= K <= N: %r" % shard)
    shares = share_out(items, count)
    config.hook.pytest_deselected(items=[item for item, share in zip(items, shares)
                                         if share != number - 1])
    items[:] = [item for item, share in zip(items, shares) if share == number - 1]


def share_out(items: List[Any], count: int) -> List[int]:
    """The share of each test: the heaviest first, each to the share with the
    least work so far.  `heavy(seconds)` marks the long tests with their time on
    PyPy; the others count half a second, about their mean there.  Dealing
    by position made one of PyPy's halves several long boots heavier than the
    other, so the whole run waited on it."""
    weights = []
    for item in items:
        marker = item.get_closest_marker("heavy")
        weights.append(float(marker.args[0]) if marker else 0.5)
    loads = [0.0] * count
    shares = [0] * len(items)
    for index in sorted(range(len(items)), key=lambda index: -weights[index]):
        share = loads.index(min(loads))
        shares[index] = share
        loads[share] += weights[index]
    return shares


def force_tier2(threshold: int) -> None:
    """Make tier 2 on with `threshold` the default of every CPU built from now on
    (profiles that set the options themselves keep them)."""
    import dataclasses
    from pcmachine.plugins.cpu.cpu import CPU
    CPU.OPTIONS["tier2"] = dataclasses.replace(CPU.OPTIONS["tier2"], default=True)
    CPU.OPTIONS["tier2_threshold"] = dataclasses.replace(CPU.OPTIONS["tier2_threshold"],
                                                         default=threshold)
