"""`machine trace diff A B`: where do two traces first part?

Two runs of the same guest with the same inputs give byte-identical traces (see
docs/tracing.md), so the first differing event is where the runs diverged: a
different input, a changed image, an emulator change.  The files are read side by
side, one event per line, without loading them whole; the report shows the line
numbers, a few common lines before the divergence, both differing lines and the
fields that differ.

Either file may be text or JSON lines.  JSON records compare as objects (key order
does not matter); a JSON trace compared with a text trace is rendered as text
first, with the same renderer the trace plugin uses.

Exit status: 0 identical, 1 different, 2 unreadable input (one-line error).
"""

import argparse
import collections
import itertools
import json
import re
import sys
from typing import Any, Dict, IO, Iterator, List, Optional, Tuple

EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_UNREADABLE = 2
PROG = "machine trace diff"
DEFAULT_CONTEXT = 3
#: the keys every JSON record has (the trace plugin's header columns)
HEADER_KEYS = ("icount", "time_ns", "cs", "eip", "linear", "kind")

#: the columns every text line starts with (see plugins/debug/trace.py render_text)
TEXT_LINE = re.compile(
    r"^\s*(?P<icount>\d+)\s+t=(?P<time_ns>\d+)ns\s+"
    r"(?P<location>[0-9A-F]{4}:[0-9A-F]{4,8}|----:----)\s+"
    r"\((?P<linear>[0-9A-F]{8}|-{8})\)\s+(?P<kind>\S+)(?:\s+(?P<fields>.*))?$")
REGISTER_VALUE = re.compile(r"^[a-z][a-z0-9]*=[0-9A-F]+$")


class UnreadableTrace(Exception):
    """A file that is missing, not UTF-8, or has a line that is no trace event."""


class TraceReader:
    """Yields (line number, line as written, comparable form) for one trace file."""

    def __init__(self, path: str, stream: IO[str]) -> None:
        self.path = path
        self.lines = iter(stream)
        self.first = self._next_raw()
        self.is_json = self.first is not None and self.first.lstrip().startswith("{")
        self.as_text = False  # set when the other file is text and this one is JSON

    def _next_raw(self) -> Optional[str]:
        try:
            line = next(self.lines)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise UnreadableTrace(f"{self.path}: not a text file (not UTF-8)") from None
        except OSError as error:
            raise UnreadableTrace(f"{self.path}: {error.strerror or error}") from None
        return line.rstrip("\n").rstrip("\r")

    def events(self) -> Iterator[Tuple[int, str, Any]]:
        number = 0
        line = self.first
        while line is not None:
            number += 1
            yield number, line, self._comparable(number, line)
            line = self._next_raw()

    def _comparable(self, number: int, line: str) -> Any:
        if not self.is_json:
            if TEXT_LINE.match(line) is None:
                raise UnreadableTrace(f"{self.path}:{number}: not a trace line: {line[:60]!r}")
            return line
        try:
            record = json.loads(line)
        except ValueError:
            raise UnreadableTrace(f"{self.path}:{number}: not a JSON trace record: {line[:60]!r}") from None
        if not isinstance(record, dict) or any(key not in record for key in HEADER_KEYS):
            raise UnreadableTrace(f"{self.path}:{number}: a JSON record without "
                                  + ", ".join(HEADER_KEYS))
        if self.as_text:
            from pcmachine.plugins.debug.trace import render_text
            try:
                return render_text(record)
            except (KeyError, TypeError, ValueError) as error:
                raise UnreadableTrace(f"{self.path}:{number}: cannot render as text: {error}") from None
        return record


def _columns(comparable: Any) -> Dict[str, Any]:
    """Named parts of an event, to say which of them differ."""
    if isinstance(comparable, dict):
        return comparable
    columns = TEXT_LINE.match(comparable).groupdict()
    tokens = (columns.pop("fields") or "").split()
    if columns["kind"] == "insn" and tokens:
        # bytes, the disassembly (may hold spaces), then changed registers name=HEX
        columns["bytes"] = tokens.pop(0)
        registers = []
        while tokens and REGISTER_VALUE.match(tokens[-1]):
            registers.insert(0, tokens.pop())
        columns["disasm"] = " ".join(tokens)
        tokens = registers
    for token in tokens:
        key, _, value = token.partition("=")
        columns.setdefault(key, value)
    return columns


def differing_fields(left: Any, right: Any) -> List[str]:
    a, b = _columns(left), _columns(right)
    keys = list(a) + [key for key in b if key not in a]
    return [key for key in keys if a.get(key) != b.get(key)]


def compare(reader_a: TraceReader, reader_b: TraceReader, context: int, out: IO[str]) -> int:
    """Walk both traces; print the first divergence.  Returns the exit status."""
    if reader_a.is_json != reader_b.is_json:
        (reader_a if reader_a.is_json else reader_b).as_text = True
    common: Any = collections.deque(maxlen=context)
    count = 0
    for event_a, event_b in itertools.zip_longest(reader_a.events(), reader_b.events()):
        if event_a is not None and event_b is not None and event_a[2] == event_b[2]:
            common.append(event_a[:2])
            count += 1
            continue
        _report(reader_a, reader_b, event_a, event_b, list(common), out)
        return EXIT_DIFFERENT
    out.write(f"traces are identical ({count} events)\n")
    return EXIT_SAME


def _report(reader_a: TraceReader, reader_b: TraceReader, event_a: Optional[Tuple[int, str, Any]],
            event_b: Optional[Tuple[int, str, Any]], common: List[Tuple[int, str]], out: IO[str]) -> None:
    number = (event_a or event_b)[0]
    if event_a is None or event_b is None:
        ended = reader_a.path if event_a is None else reader_b.path
        out.write(f"traces differ at line {number}: {ended} ends after line {number - 1}\n")
    else:
        out.write(f"traces differ at line {number} of {reader_a.path} and line {number} of {reader_b.path}\n")
    if common:
        out.write(f"common context (lines {common[0][0]}-{common[-1][0]}):\n")
        for line_number, line in common:
            out.write(f"  {line_number:>8}  {line}\n")
    for reader, event in ((reader_a, event_a), (reader_b, event_b)):
        text = event[1] if event is not None else "(end of trace)"
        out.write(f"{reader.path}:{number}: {text}\n")
    if event_a is not None and event_b is not None:
        out.write("differs in: " + ", ".join(differing_fields(event_a[2], event_b[2])) + "\n")


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_UNREADABLE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog=PROG, description="Show where two traces first diverge.")
    parser.add_argument("a", metavar="A", help="first trace file (text or jsonl)")
    parser.add_argument("b", metavar="B", help="second trace file (text or jsonl)")
    parser.add_argument("--context", type=int, default=DEFAULT_CONTEXT, metavar="N",
                        help=f"common lines shown before the divergence (default {DEFAULT_CONTEXT})")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:
        return int(exit_request.code or 0)
    if args.context < 0:
        print(f"{PROG}: error: --context must be 0 or more", file=sys.stderr)
        return EXIT_UNREADABLE
    streams = []
    try:
        for path in (args.a, args.b):
            try:
                streams.append(open(path, encoding="utf-8", newline=""))
            except OSError as error:
                raise UnreadableTrace(f"{path}: {error.strerror}") from None
        readers = [TraceReader(path, stream) for path, stream in zip((args.a, args.b), streams)]
        return compare(readers[0], readers[1], args.context, sys.stdout)
    except UnreadableTrace as error:
        sys.stdout.flush()
        print(f"{PROG}: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        for stream in streams:
            stream.close()


if __name__ == "__main__":
    sys.exit(main())
