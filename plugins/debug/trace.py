"""The trace plugin: one line per machine event, as text or as JSON lines.

Every line carries where the machine was when the event happened: the instruction
count, the virtual time, CS:EIP and the linear address of the current instruction,
then the event kind and its fields.  Nothing host-dependent goes in (no host time,
no object ids, no paths), so two runs of the same guest with the same inputs give
byte-identical traces and `machine trace diff` can show where two runs part.

Each event kind maps to hooks in `pcmachine.hookspecs`.  The tracer registers one
small plugin object per *selected* kind, so the hooks of the other kinds keep
their zero cost (their `machine.hooks.<name>` flags stay False); in particular
only the `insn` kind makes the CPU switch to its traced step loop.  With a count
window (`from`/`to`) the kind plugins are registered only while the window is
open (`machine.at_icount()` cuts a slice at each edge), so the CPU runs its fast
loop before and after an instruction-trace window.

The `insn` kind disassembles with capstone (16- or 32-bit, per the CPU's code size)
and lists the registers that changed since the previous traced instruction, as
Bochs' and QEMU's `-d exec,cpu` logs do; its first line lists them all.  Code bytes
are read without side effects: from RAM or ROM directly, never through MMIO
handlers, and across a page boundary only when the instruction needs it.

The line formats are documented in docs/tracing.md; `render_text()` turns a JSON
record into its text line, so the two formats always carry the same information.
"""

import json
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from pcmachine.bus import ROMRegion, PAGE_SHIFT, PAGE_SIZE
from pcmachine.component import Component, Option
from pcmachine.errors import ProfileError, UserError
from pcmachine.hookspecs import hookimpl

#: every event kind, in the order the docs list them
EVENT_KINDS = ("io", "irq", "int", "exc", "mode", "bios", "disk", "key", "serial",
               "insn", "mmio", "debugcon", "parallel", "input")
#: the costly or very chatty kinds are opt-in
DEFAULT_KINDS = tuple(kind for kind in EVENT_KINDS if kind not in ("insn", "mmio"))
FORMATS = ("text", "jsonl")

#: registers the `insn` kind compares between traced instructions (Bochs' order)
TRACKED_REGISTERS = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eflags",
                     "cs", "ds", "es", "ss", "fs", "gs", "cr0", "cr2", "cr3", "cr4")
SEGMENT_REGISTERS = frozenset(("cs", "ds", "es", "ss", "fs", "gs"))
MAX_INSTRUCTION_LENGTH = 15
DISASSEMBLY_CACHE_LIMIT = 1 << 16
OUTPUT_BUFFER_BYTES = 1 << 20
CR0_PE = 0x1
CR0_PE_PG = 0x80000001
HEADER_KEYS = ("icount", "time_ns", "cs", "eip", "linear", "kind")
#: fields whose text form is a list of `name=value` pairs, written without `key=`
FLATTENED_FIELDS = frozenset(("registers",))


# ---------------------------------------------------------------------------
# Record -> text line
# ---------------------------------------------------------------------------

def _quoted_if_needed(text: str) -> str:
    """Bare words stay bare; anything that would break the `key=value` layout is
    JSON-quoted (spaces, quotes, '=', control characters)."""
    if text and all(33 <= ord(ch) < 127 and ch not in '"=\\' for ch in text):
        return text
    return json.dumps(text)


def _hex(width: int) -> Callable[[Any, Dict[str, Any]], str]:
    return lambda value, record: "0x%0*X" % (width, value)


def _sized_value(value: Any, record: Dict[str, Any]) -> str:
    """A port or memory value shown with as many digits as the access is wide."""
    return "0x%0*X" % (2 * record.get("size", 1), value)


def _optional_hex(value: Any, record: Dict[str, Any]) -> str:
    return "none" if value is None else "0x%X" % value


def _registers16(value: Any, record: Dict[str, Any]) -> str:
    return " ".join("%s=%04X" % (name, reg) for name, reg in value.items())


def _byte_list(value: Any, record: Dict[str, Any]) -> str:
    return ",".join("%02X" % byte for byte in value)


def _boolean(value: Any, record: Dict[str, Any]) -> str:
    return "true" if value else "false"


def _json_default(value: Any) -> Any:
    """Plain data may hold bytes (input payloads): written as a hex string."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex().upper()
    raise TypeError(f"{type(value).__name__} is not plain data")


def _compact_json(value: Any, record: Dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=_json_default)


def _plain(value: Any, record: Dict[str, Any]) -> str:
    if isinstance(value, bool):
        return _boolean(value, record)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quoted_if_needed(value)
    return _compact_json(value, record)


#: how each event field is written in the text form (JSON keeps plain values)
FIELD_STYLES: Dict[str, Callable[[Any, Dict[str, Any]], str]] = {
    "port": lambda value, record: "0x%X" % value,
    "value": _sized_value,
    "address": _hex(8),
    "vector": _hex(2),
    "function": _hex(2),
    "return_cs": _hex(4),
    "return_eip": _hex(4),
    "fault_cs": _hex(4),
    "fault_eip": _hex(4),
    "error_code": _optional_hex,
    "old": lambda value, record: "0x%X" % value,
    "new": lambda value, record: "0x%X" % value,
    "registers": _registers16,
    "scancodes": _byte_list,
    "pressed": _boolean,
    "data": _compact_json,
}


def _register_value(name: str, value: int) -> str:
    return "%s=%04X" % (name, value) if name in SEGMENT_REGISTERS else "%s=%08X" % (name, value)


def _location_text(record: Dict[str, Any]) -> str:
    cs, eip, linear = record["cs"], record["eip"], record["linear"]
    if cs is None:
        return "%13s (--------)" % "----:----"
    where = "%04X:%0*X" % (cs, 4 if eip <= 0xFFFF else 8, eip)
    return "%13s (%s)" % (where, "--------" if linear is None else "%08X" % linear)


def _insn_fields(record: Dict[str, Any]) -> str:
    changed = " ".join(_register_value(name, value) for name, value in record["changed"].items())
    return ("%-16s %-32s %s" % (record["bytes"], record["disasm"], changed)).rstrip()


def _field_text(key: str, value: Any, record: Dict[str, Any]) -> str:
    if isinstance(value, (bytes, bytearray)):
        value = _json_default(value)  # as the JSON form has it, so both render alike
    style = FIELD_STYLES.get(key, _plain) if not isinstance(value, str) else _plain
    text = style(value, record)
    return text if key in FLATTENED_FIELDS else "%s=%s" % (key, text)


def render_text(record: Dict[str, Any]) -> str:
    """The text line of one event record (the jsonl form parsed back gives the
    same line)."""
    head = "%10d %16s %s %-10s" % (record["icount"], "t=%dns" % record["time_ns"],
                                   _location_text(record), record["kind"])
    if record["kind"] == "insn":
        fields = _insn_fields(record)
    else:
        fields = " ".join(_field_text(key, value, record)
                          for key, value in record.items() if key not in HEADER_KEYS)
    return (head + " " + fields).rstrip()


def render_jsonl(record: Dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), default=_json_default)


# ---------------------------------------------------------------------------
# Option parsing
# ---------------------------------------------------------------------------

def parse_span(text: Optional[str], what: str, limit: int) -> Optional[Tuple[int, int]]:
    """"LO-HI" (inclusive, numbers in any Python base: 0x7C00-0x7DFF) or a single
    number; None when not given.  Raises ValueError naming `what`."""
    if text is None or str(text).strip() == "":
        return None
    parts = str(text).split("-")
    try:
        if len(parts) == 1:
            low = high = int(parts[0].strip(), 0)
        elif len(parts) == 2:
            low, high = int(parts[0].strip(), 0), int(parts[1].strip(), 0)
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"{what}: expected START-END such as 0x7C00-0x7DFF, got {text!r}") from None
    if not 0 <= low <= high <= limit:
        raise ValueError(f"{what}: expected 0 <= START <= END <= {limit:#x}, got {text!r}")
    return low, high


def tracer_options_from_cli(args: Any) -> Dict[str, Any]:
    """The profile entry (`{"plugin": "trace", ...}`) that the `--trace*` flags ask
    for, or {} without `--trace`.  Only the flags given become options."""
    if getattr(args, "trace", None) is None:
        return {}
    entry: Dict[str, Any] = {"plugin": "trace", "file": args.trace}
    for flag, option in (("trace_events", "events"), ("trace_range", "range"),
                         ("trace_ports", "ports"), ("trace_from", "from"),
                         ("trace_to", "to"), ("trace_format", "format"),
                         ("trace_max_size", "max_size")):
        value = getattr(args, flag, None)
        if value is not None:
            entry[option] = value
    return entry


# ---------------------------------------------------------------------------
# Per-kind hook plugins: only the selected ones are registered
# ---------------------------------------------------------------------------

class _KindPlugin:
    def __init__(self, tracer: "Tracer") -> None:
        self.tracer = tracer


class IoEvents(_KindPlugin):
    @hookimpl
    def io_read(self, port: int, size: int, value: int) -> None:
        if self.tracer.port_selected(port):
            self.tracer.emit("io.read", {"port": port, "size": size, "value": value})

    @hookimpl
    def io_write(self, port: int, size: int, value: int) -> None:
        if self.tracer.port_selected(port):
            self.tracer.emit("io.write", {"port": port, "size": size, "value": value})


class MmioEvents(_KindPlugin):
    @hookimpl
    def mmio_read(self, address: int, size: int, value: int) -> None:
        self.tracer.emit("mmio.read", {"address": address, "size": size, "value": value})

    @hookimpl
    def mmio_write(self, address: int, size: int, value: int) -> None:
        self.tracer.emit("mmio.write", {"address": address, "size": size, "value": value})


class IrqEvents(_KindPlugin):
    @hookimpl
    def irq_raised(self, line: int) -> None:
        self.tracer.emit("irq.raise", {"line": line})

    @hookimpl
    def irq_lowered(self, line: int) -> None:
        self.tracer.emit("irq.lower", {"line": line})


class InterruptEvents(_KindPlugin):
    @hookimpl
    def interrupt(self, vector: int, kind: str, cs: int, eip: int) -> None:
        self.tracer.emit("int", {"vector": vector, "type": kind, "return_cs": cs, "return_eip": eip})


class ExceptionEvents(_KindPlugin):
    @hookimpl
    def cpu_exception(self, vector: int, error_code: Optional[int], cs: int, eip: int) -> None:
        self.tracer.emit("exc", {"vector": vector, "error_code": error_code,
                                 "fault_cs": cs, "fault_eip": eip})

    @hookimpl
    def triple_fault(self, report: str) -> None:
        self.tracer.emit("exc.triple", {"report": report})


class ModeEvents(_KindPlugin):
    @hookimpl
    def cpu_mode_change(self, what: str, old: int, new: int) -> None:
        self.tracer.emit("mode", {"what": what, "old": old, "new": new})


class BiosEvents(_KindPlugin):
    @hookimpl
    def bios_call(self, vector: int, function: int, registers: Dict[str, int]) -> None:
        self.tracer.emit("bios", {"vector": vector, "function": function,
                                  "registers": dict(registers)})


class DiskEvents(_KindPlugin):
    @hookimpl
    def disk_transfer(self, drive: str, operation: str, lba: int, count: int) -> None:
        self.tracer.emit("disk", {"drive": drive, "operation": operation, "lba": lba, "count": count})


class KeyEvents(_KindPlugin):
    @hookimpl
    def key_input(self, key: str, pressed: bool, scancodes: bytes) -> None:
        self.tracer.emit("key", {"key": key, "pressed": bool(pressed), "scancodes": list(scancodes)})


class SerialEvents(_KindPlugin):
    @hookimpl
    def serial_byte(self, port: str, direction: str, value: int) -> None:
        self.tracer.emit("serial", {"port": port, "direction": direction, "value": value})


class DebugconEvents(_KindPlugin):
    @hookimpl
    def debugcon_byte(self, value: int) -> None:
        self.tracer.emit("debugcon", {"value": value})


class ParallelEvents(_KindPlugin):
    @hookimpl
    def parallel_byte(self, port: str, value: int) -> None:
        self.tracer.emit("parallel", {"port": port, "value": value})


class InputEvents(_KindPlugin):
    @hookimpl
    def machine_input(self, kind: str, data: Any) -> None:
        self.tracer.emit("input", {"type": kind, "data": data})


class InstructionEvents(_KindPlugin):
    """The instruction trace: disassembly plus the registers that changed."""

    def __init__(self, tracer: "Tracer") -> None:
        super().__init__(tracer)
        try:
            import capstone  # only when insn is traced: other kinds work without it
        except ImportError:
            raise UserError("the insn trace needs capstone (pip install capstone)") from None
        self.disassemblers = {
            False: capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16),
            True: capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32),
        }
        self.cache: Dict[Tuple[bool, int, bytes], Tuple[int, str]] = {}
        self.registers: Optional[List[str]] = None
        self.previous: Optional[Dict[str, int]] = None

    def forget_registers(self) -> None:
        """The next traced instruction lists every register again (after a restore
        or a gap in the window, a diff against old values would mislead)."""
        self.previous = None

    @hookimpl
    def instruction(self, cs: int, eip: int, linear: int, cpu: Any) -> None:
        tracer = self.tracer
        if not tracer.address_selected(linear) or not tracer.icount_selected():
            return
        code32 = bool(getattr(cpu, "code32", False))
        values = self.register_values(cpu)
        paging = (values.get("cr0", 0) & CR0_PE_PG) == CR0_PE_PG
        length, text, code = self.disassemble(cpu, linear, eip, code32, paging)
        previous = self.previous
        if previous is None:
            changed = values
        else:
            changed = {name: value for name, value in values.items() if previous.get(name) != value}
        self.previous = values
        tracer.emit("insn", {"bytes": code[:length].hex().upper(), "disasm": text, "changed": changed},
                    (cs, eip, linear & 0xFFFFFFFF))

    def register_values(self, cpu: Any) -> Dict[str, int]:
        if self.registers is None:
            self.registers = [name for name in TRACKED_REGISTERS if _has_register(cpu, name)]
        return {name: cpu.get_reg(name) for name in self.registers}

    def disassemble(self, cpu: Any, linear: int, eip: int, code32: bool,
                    paging: bool = False) -> Tuple[int, str, bytes]:
        """(length, text, bytes read).  Reads the rest of the page first and crosses
        into the next page only when the instruction does not fit."""
        in_page = min(MAX_INSTRUCTION_LENGTH, PAGE_SIZE - (linear & (PAGE_SIZE - 1)))
        code = read_code(cpu, self.tracer.bus, linear, in_page, paging)
        decoded = self._decode(code, eip, code32)
        if decoded is None and in_page < MAX_INSTRUCTION_LENGTH and len(code) == in_page:
            code = read_code(cpu, self.tracer.bus, linear, MAX_INSTRUCTION_LENGTH, paging)
            decoded = self._decode(code, eip, code32)
        if decoded is None:
            return min(1, len(code)), "(bad)", code
        return decoded[0], decoded[1], code

    def _decode(self, code: bytes, eip: int, code32: bool) -> Optional[Tuple[int, str]]:
        key = (code32, eip, code)
        found = self.cache.get(key)
        if found is not None:
            return found
        insn = next(self.disassemblers[code32].disasm(code, eip, 1), None)
        if insn is None:
            return None
        found = (insn.size, ("%s %s" % (insn.mnemonic, insn.op_str)).strip())
        if len(self.cache) >= DISASSEMBLY_CACHE_LIMIT:
            self.cache.clear()
        self.cache[key] = found
        return found


def _has_register(cpu: Any, name: str) -> bool:
    try:
        cpu.get_reg(name)
    except (KeyError, ValueError, IndexError):
        return False
    return True


def read_code(cpu: Any, bus: Any, linear: int, length: int, paging: bool) -> bytes:
    """Up to `length` code bytes at `linear`, without side effects: RAM and ROM
    only (an MMIO handler could change device state), stopping at the first byte
    that is not there.  With paging on, the CPU translates."""
    if not paging:
        first = linear & bus.a20_mask
        last = (linear + length - 1) & bus.a20_mask
        if (last - first == length - 1 and first >> PAGE_SHIFT == last >> PAGE_SHIFT
                and bus.read_fast[first >> PAGE_SHIFT] and last < len(bus.memory)):
            return bytes(bus.memory[first:last + 1])   # the common case: one RAM/ROM page
    result = bytearray()
    for offset in range(length):
        address = (linear + offset) & 0xFFFFFFFF
        if paging:
            try:
                physical = cpu.translate(address, False)
            except Exception:  # a page fault: the instruction ends here for us
                break
        else:
            physical = address & bus.a20_mask
        page = physical >> PAGE_SHIFT
        if bus.read_fast[page] and physical < len(bus.memory):
            result.append(bus.memory[physical])
            continue
        region = bus.page_region.get(page)
        if isinstance(region, ROMRegion) and region.contains(physical, 1):
            result.append(region.read(physical, 1))
            continue
        break
    return bytes(result)


KIND_PLUGINS: Dict[str, Any] = {
    "io": IoEvents, "irq": IrqEvents, "int": InterruptEvents, "exc": ExceptionEvents,
    "mode": ModeEvents, "bios": BiosEvents, "disk": DiskEvents, "key": KeyEvents,
    "serial": SerialEvents, "insn": InstructionEvents, "mmio": MmioEvents,
    "debugcon": DebugconEvents, "parallel": ParallelEvents, "input": InputEvents,
}


# ---------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------

#: room kept under `max_size` for the closing `trace.stopped` line
STOP_NOTE_RESERVE = 512


class Tracer(Component):
    """Writes the selected machine events to a file, one per line."""

    OBSERVER = True

    OPTIONS = {
        "file": Option("str", "-", "trace file, or - for standard error"),
        "format": Option("str", "text", "text (aligned, readable) or jsonl (JSON lines)",
                         choices=FORMATS),
        "events": Option("list", list(DEFAULT_KINDS),
                         "event kinds: " + ", ".join(EVENT_KINDS)
                         + ", or all (default: all but insn and mmio)"),
        "range": Option("str", None, "START-END: linear addresses traced by insn (inclusive)"),
        "ports": Option("str", None, "LO-HI: I/O ports traced by io (inclusive)"),
        "from": Option("int", 0, "first instruction count traced"),
        "to": Option("int", None, "instruction count where tracing ends (not included)"),
        "max_size": Option("size", 0, "stop tracing before the file passes this size (0: no limit); "
                           "a full disk stops it too", minimum=0),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.kinds = self._selected_kinds(options["events"])
        try:
            self.address_span = parse_span(options["range"], "range", 0xFFFFFFFF)
            self.port_span = parse_span(options["ports"], "ports", 0xFFFF)
        except ValueError as error:
            key, _, problem = str(error).partition(": ")
            raise ProfileError("component", f"{name}.{key}", problem) from None
        self.first_icount = options["from"]
        self.end_icount = options["to"]
        if self.first_icount < 0 or (self.end_icount is not None and self.end_icount < self.first_icount):
            raise ProfileError("component", f"{name}.to", "expected 0 <= from <= to")
        self.render = render_jsonl if options["format"] == "jsonl" else render_text
        self.plugins = {kind: KIND_PLUGINS[kind](self) for kind in self.kinds}
        self.registered = False
        self.max_size = options["max_size"]
        self.written = 0
        self.stopped = False
        self.path = options["file"]
        self.stream, self.owns_stream = self._open(options["file"])
        self._update_window()

    def _selected_kinds(self, events: Iterable[str]) -> List[str]:
        kinds: List[str] = []
        for kind in events:
            if kind == "all":
                kinds.extend(other for other in EVENT_KINDS if other not in kinds)
                continue
            if kind not in EVENT_KINDS:
                raise ProfileError("component", f"{self.name}.events",
                                   f"unknown event kind {kind!r}; expected all or from "
                                   + ", ".join(EVENT_KINDS))
            if kind not in kinds:
                kinds.append(kind)
        return kinds

    def _open(self, path: str) -> Tuple[Any, bool]:
        if path == "-":
            return sys.stderr, False
        try:
            return open(path, "w", encoding="utf-8", newline="\n", buffering=OUTPUT_BUFFER_BYTES), True
        except OSError as error:
            raise UserError(f"{self.name}.file: cannot open {path}: {error.strerror}") from None

    # -------------------------------------------------------------- filters
    def port_selected(self, port: int) -> bool:
        span = self.port_span
        return span is None or span[0] <= port <= span[1]

    def address_selected(self, linear: int) -> bool:
        span = self.address_span
        return span is None or span[0] <= linear <= span[1]

    def icount_selected(self) -> bool:
        icount = self.clock.icount
        return self.first_icount <= icount and (self.end_icount is None or icount < self.end_icount)

    # -------------------------------------------------------------- the window
    def _update_window(self) -> None:
        """Register the kind plugins while the count window is open, unregister
        them outside it, and ask to be called at the next edge of the window.
        Idempotent, so stale boundary calls (after a restore) do no harm."""
        icount = self.clock.icount
        # Open one instruction early: events fired by the clock at the end of the
        # slice that reaches `from` already carry icount == from.
        opens_at = max(self.first_icount - 1, 0)
        is_open = opens_at <= icount and (self.end_icount is None or icount < self.end_icount)
        self._set_registered(self.stream is not None and not self.stopped and is_open)
        if icount < opens_at:
            self.machine.at_icount(opens_at, self._update_window)
        elif self.end_icount is not None and icount < self.end_icount:
            self.machine.at_icount(self.end_icount, self._update_window)

    def _set_registered(self, wanted: bool) -> None:
        if wanted == self.registered:
            return
        manager = self.machine.plugin_manager
        for kind, plugin in self.plugins.items():
            if wanted:
                manager.register(plugin, name=f"{self.name}:{kind}")
            else:
                manager.unregister(plugin)
        self.registered = wanted
        insn = self.plugins.get("insn")
        if insn is not None:
            insn.forget_registers()

    # -------------------------------------------------------------- output
    def location(self) -> Tuple[Optional[int], Optional[int], Optional[int]]:
        """CS, EIP and linear address of the instruction the CPU is executing."""
        cpu = self.machine.cpu
        if cpu is None:
            return None, None, None
        cs = cpu.get_reg("cs")
        eip = cpu.get_reg("eip")
        segment_base = getattr(cpu, "segment_base", None)
        if segment_base is not None:
            base = segment_base("cs")
        elif cpu.get_reg("cr0") & CR0_PE:
            return cs, eip, None   # the base is in the descriptor cache: unknown, not guessed
        else:
            base = cs << 4
        return cs, eip, (base + eip) & 0xFFFFFFFF

    def emit(self, kind: str, fields: Dict[str, Any],
             where: Optional[Tuple[Optional[int], Optional[int], Optional[int]]] = None) -> None:
        """Write one event line (events outside the count window are dropped)."""
        if self.stream is None or self.stopped or not self.icount_selected():
            return
        cs, eip, linear = where if where is not None else self.location()
        record = {"icount": self.clock.icount, "time_ns": self.clock.now(),
                  "cs": cs, "eip": eip, "linear": linear, "kind": kind}
        record.update(fields)
        line = self.render(record) + "\n"
        if self.max_size:
            size = len(line.encode("utf-8"))
            if self.written + size + STOP_NOTE_RESERVE > self.max_size:
                self._stop(f"the trace reached its maximum size ({self.max_size} bytes, --trace-max-size)")
                return
            self.written += size
        try:
            self.stream.write(line)
        except OSError as error:
            self._stop(f"cannot write {self.path}: {error.strerror}")

    def _stop(self, why: str) -> None:
        """Tracing ends for the rest of the run (the machine goes on): one line on
        standard error, and as the trace's last line when it still fits."""
        self.stopped = True
        self._set_registered(False)
        message = f"trace stopped at instruction {self.clock.icount}: {why}"
        note = self.render({"icount": self.clock.icount, "time_ns": self.clock.now(), "cs": None,
                            "eip": None, "linear": None, "kind": "trace.stopped", "reason": why}) + "\n"
        try:
            if not self.max_size or self.written + len(note.encode("utf-8")) <= self.max_size:
                self.stream.write(note)
            self.stream.flush()
        except OSError:
            pass
        if self.stream is not sys.stderr:
            print(f"machine: {message}", file=sys.stderr)

    def flush(self) -> None:
        if self.stream is not None:
            try:
                self.stream.flush()
            except OSError as error:
                if not self.stopped:
                    self._stop(f"cannot write {self.path}: {error.strerror}")

    @hookimpl
    def machine_stop(self, machine: Any, reason: str) -> None:
        """Everything traced so far reaches the file when a run ends; the file stays
        open for a run that continues (the machine's `close()` closes it)."""
        self.flush()

    def restore(self, state: Dict[str, Any]) -> None:
        """The tracer holds no guest state; a restore moves the instruction count,
        so the window is worked out again."""
        insn = self.plugins.get("insn")
        if insn is not None:
            insn.forget_registers()
        self._update_window()

    def close(self) -> None:
        self._set_registered(False)
        if self.stream is None:
            return
        self.flush()
        if self.owns_stream:
            try:
                self.stream.close()
            except OSError:
                pass                  # the disk is full: what was written stays
        self.stream = None
