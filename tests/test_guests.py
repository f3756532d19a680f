"""The public guest corpus (shared/guests/manifest.yaml) booted through the pytest
plugin, marker by marker, as `machine compat run` does; and docs/compatibility.md
checked against what `machine compat write` makes from the stored results.

Guests whose hardware is not built yet are strict xfails naming the missing part:
the day they boot, the test fails and the mark must go.  Boots that take long on a
runtime are `slow` there (Linux 2.4 on CPython)."""

import os
import platform

import pytest

from pcmachine import compat

#: guests in the default run (they boot in well under two minutes there)
DEFAULT_RUN = {"freedos-fdstd144": ("CPython", "PyPy"), "boote-linux": ("PyPy",)}
try:
    SHARED = compat.shared_folder()
except Exception as error:          # the corpus must be there in CI: fail, do not skip
    SHARED = None
    MISSING_CORPUS = str(error)


def guest_params():
    entries = compat.load_manifest(SHARED) if SHARED else []
    for entry in entries:
        marks = [pytest.mark.guests]
        name = entry["name"]
        if name in compat.MISSING:
            marks.append(pytest.mark.xfail(strict=True, reason=compat.MISSING[name]))
        if name != "linux-busybox" and platform.python_implementation() not in DEFAULT_RUN.get(name, ()):
            marks.append(pytest.mark.slow)
        yield pytest.param(entry, id=name, marks=marks)


def test_the_corpus_is_there():
    assert SHARED is not None, MISSING_CORPUS


@pytest.mark.parametrize("entry", list(guest_params()))
def test_guest_reaches_every_marker(pc, entry):
    result = compat.boot_guest(pc, entry, SHARED, timeout=float(os.environ.get("PCMACHINE_GUEST_TIMEOUT", 600)))
    assert result["status"] == "pass", result.get("cause")
    markers = [str(next(iter(step.values()))) for step in entry["steps"] if "type" not in step]
    assert list(result["markers"]) == markers


def test_compatibility_page_is_generated():
    """docs/compatibility.md is exactly what `machine compat write` makes."""
    with open(compat.PAGE, encoding="utf-8") as handle:
        assert handle.read() == compat.render(SHARED), "run `machine compat write`"
