"""Host output sinks for character devices (serial ports, the debug console).

A sink is named by a spec string in the profile:

* ``null``: bytes are dropped;
* ``stdio``: bytes go to the emulator's standard output;
* ``file:PATH``: bytes go to PATH, created or truncated when the machine is built.

Every write reaches the host at once (no buffering in the emulator), so a guest's
last words before a crash or a hang are on disk, and a test can read the file while
the machine is still running.
"""

import os
import sys
from typing import BinaryIO, Optional

from .errors import UserError

SINK_SPEC_HELP = "null, stdio or file:PATH"


class OutputSink:
    """Where a device's output bytes go; `write()` never raises for a closed sink."""

    def __init__(self, spec: str, stream: Optional[BinaryIO] = None) -> None:
        self.spec = spec
        self._stream = stream     # the file we opened; None for null and stdio

    def write(self, data: bytes) -> None:
        if self.spec == "stdio":
            self._write_stdout(data)
            return
        stream = self._stream
        if stream is not None and not stream.closed:
            stream.write(data)

    @staticmethod
    def _write_stdout(data: bytes) -> None:
        # Looked up at each write: the CLI and pytest may replace sys.stdout.
        stdout = sys.stdout
        buffer = getattr(stdout, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            stdout.write(data.decode("latin-1"))
            stdout.flush()

    def close(self) -> None:
        if self._stream is not None and not self._stream.closed:
            self._stream.close()
        self._stream = None


def open_sink(spec: str, what: str = "output") -> OutputSink:
    """Open the sink a spec names; raises UserError (one line naming `what`) for a
    bad spec or a file that cannot be created."""
    if spec == "null":
        return OutputSink(spec)
    if spec == "stdio":
        return OutputSink(spec)
    if spec.startswith("file:") and len(spec) > len("file:"):
        path = os.path.expanduser(spec[len("file:"):])
        try:
            stream = open(path, "wb", buffering=0)
        except OSError as error:
            raise UserError(f"{what}: cannot open {path}: {error.strerror}") from None
        return OutputSink(spec, stream)
    raise UserError(f"{what}: expected {SINK_SPEC_HELP}, got {spec!r}")
