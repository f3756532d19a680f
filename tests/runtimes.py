"""Long tests that the default run takes on one runtime only.

The default run (tests/run.sh) runs the suite on CPython and on PyPy side by side
and must stay under fifteen minutes.  A guest boot costs CPython three to ten
times what it costs PyPy, so the long boots run by default on PyPy alone (and
under `-m slow` on CPython); a test of a setting that differs by runtime runs by
default on the runtime whose default it is."""

import platform
from typing import Any, Callable, List

import pytest

RUNTIME = platform.python_implementation()


def slow_except_on(*runtimes: str) -> List[Any]:
    """The marks of a test that the default run takes on `runtimes` only: none
    there, `slow` on the others (for `pytestmark` and `pytest.param`)."""
    return [] if RUNTIME in runtimes else [pytest.mark.slow]


def default_run_on(*runtimes: str) -> Callable[[Any], Any]:
    """`slow_except_on` as a decorator of one test function."""
    def mark(test: Any) -> Any:
        for marker in slow_except_on(*runtimes):
            test = marker(test)
        return test
    return mark
