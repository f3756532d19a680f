"""The monitor on the terminal: `--monitor stdio`, `machine debug`, and the screen
console's Ctrl+A C.  When the machine stops (breakpoint, step, Ctrl+C, triple
fault, a reset) it shows why and where, then reads commands — with history and
completion through prompt_toolkit on a terminal, line by line from a pipe — until
one of them continues, steps or quits."""

import signal
import sys
from typing import Any, Awaitable, Callable, Optional

import trio

from .control import Debugger
from .monitor import Monitor

PROMPT = "(pcmachine) "


class MonitorTerminal:
    """Reads monitor commands on standard input whenever the machine stops."""

    def __init__(self, machine: Any, screenshot: Optional[Callable[[str], Any]] = None,
                 start_stopped: bool = False) -> None:
        self.machine = machine
        self.debugger = getattr(machine, "debugger", None) or Debugger(machine)
        self.monitor = Monitor(machine, self.debugger, screenshot)
        self.debugger.command_handler = self.on_stop
        self.interactive = sys.stdin.isatty()
        self.session: Any = None
        self.before: Optional[Callable[[], None]] = None
        self.after: Optional[Callable[[], None]] = None
        #: where lines come from when a console owns the terminal's input
        self.read_line: Optional[Callable[[], Awaitable[Optional[str]]]] = None
        self._previous_sigint: Any = None
        if start_stopped:
            self.debugger.stop_message = "stopped before the first instruction"
            machine.request_stop("debug")

    def install(self) -> None:
        """Ctrl+C while the guest runs stops it into the monitor."""
        self._previous_sigint = signal.signal(signal.SIGINT, self._interrupt)

    def uninstall(self) -> None:
        if self._previous_sigint is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None

    def _interrupt(self, number: int, frame: Any) -> None:
        self.debugger.stop_message = "interrupted (Ctrl+C)"
        self.machine.request_stop("debug")

    def enter(self) -> None:
        """The console's Ctrl+A C: stop into the monitor at the next slice."""
        self.debugger.stop_message = "monitor"
        self.machine.request_stop("debug")

    async def on_stop(self, reason: str) -> Optional[str]:
        if self.before is not None:
            self.before()
        try:
            message = self.debugger.stop_message or reason
            print(f"{message}\n{self.monitor.where()}", flush=True)
            while True:
                line = await self._read_line()
                if line is None:
                    return "quit"
                output, action = self.monitor.execute(line)
                if output:
                    print(output, flush=True)
                if action == "quit":
                    return "quit"
                if action == "step":
                    self.debugger.step(self.monitor.step_count)
                    return None
                if action == "continue":
                    return None
        finally:
            if self.after is not None:
                self.after()

    def share_terminal(self, console: Any) -> None:
        """Run on the screen console's terminal: it hands over while stopped."""
        self.before, self.after = console.pause_for_monitor, console.resume
        self.read_line = console.monitor_line

    async def _read_line(self) -> Optional[str]:
        if self.read_line is not None:
            print(PROMPT, end="", flush=True)
            return await self.read_line()
        if not self.interactive:
            line = await trio.to_thread.run_sync(sys.stdin.readline)
            return line.rstrip("\n") if line else None
        if self.session is None:
            from prompt_toolkit import PromptSession
            from prompt_toolkit.completion import WordCompleter
            self.session = PromptSession(completer=WordCompleter(self.monitor.names()))
        try:
            return await trio.to_thread.run_sync(lambda: self.session.prompt(PROMPT, handle_sigint=False))
        except KeyboardInterrupt:
            return ""
        except EOFError:
            return None
