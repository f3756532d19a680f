"""A status line for long runs on a terminal: instructions, virtual time, MIPS and
the current step, redrawn twice per host second on standard error.  Quiet with
`--quiet`, and whenever standard error is not a terminal (logs and CI stay clean).
Machine runs read the clock from a host task, so the guest pays nothing for it;
loops of their own (`machine cputest`, `machine bench`) call `tick()`, which
costs a clock read and draws at most twice a second."""

import sys
import time
from typing import Any, Callable, Optional, TextIO

import trio

from .steps import describe_step

INTERVAL = 0.5


class StatusLine:
    """One line rewritten in place on a terminal; nothing at all elsewhere."""

    def __init__(self, stream: Optional[TextIO] = None, quiet: bool = False) -> None:
        # sys.stderr is looked up now, not at import: it may have been replaced since.
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self.shown = False
        self._next = 0.0

    def tick(self, text: Callable[[], str]) -> None:
        """Redraw with `text()` if the last redraw is half a second old."""
        if self.enabled:
            now = time.monotonic()
            if now >= self._next:
                self._next = now + INTERVAL
                self.show(text())

    def show(self, text: str) -> None:
        if self.enabled:
            self.stream.write("\r" + text[:200] + "\x1b[K")
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def describe(machine: Any, instructions: int, host_seconds: float, step: str) -> str:
    """`12,345,678 instr | 1.234 s virtual | 45.6 MIPS | step 2/3: --wait 'A:\\>'`"""
    mips = instructions / host_seconds / 1e6 if host_seconds > 0 else 0.0
    text = (f"{machine.clock.icount:,} instr | {machine.clock.now() / 1e9:.3f} s virtual | "
            f"{mips:.1f} MIPS")
    return text + (f" | {step}" if step else "")


async def watch(machine: Any, line: StatusLine, step: Callable[[], str] = lambda: "") -> None:
    """Host task: redraw the status line until cancelled (the run's end)."""
    if not line.enabled:
        return
    last_count, last_time = machine.clock.icount, time.monotonic()
    try:
        while True:
            await trio.sleep(INTERVAL)
            now, count = time.monotonic(), machine.clock.icount
            line.show(describe(machine, count - last_count, now - last_time, step()))
            last_count, last_time = count, now
    finally:
        line.clear()


def step_label(steps: Optional[Any]) -> Callable[[], str]:
    """The current scripted step as the status line shows it."""
    def label() -> str:
        if steps is None or not steps.steps or steps.all_done:
            return ""
        kind, value = steps.steps[steps.completed]
        return f"step {steps.completed + 1}/{len(steps.steps)}: {describe_step(kind, value)}"
    return label


async def run_with_status(machine: Any, line: StatusLine) -> str:
    """`machine.run()` with the status line beside it (replay and tools)."""
    trio.lowlevel.spawn_system_task(watch, machine, line)
    return await machine.run()
