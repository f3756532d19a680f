"""The built-in monitor: Bochs-debugger-style commands over a stopped machine.

`Monitor.execute(line)` returns the text to show and what the machine should do
next (stay stopped, continue, step, quit); the same commands serve the terminal
(`--monitor stdio`, `machine debug`, the console's Ctrl+A C) and gdb's `monitor`.
`help` lists them.  Addresses are numbers (hex with 0x, or plain hex as in Bochs
when they contain a-f), `seg:off` pairs (real mode: segment * 16 + offset;
protected mode: the selector's descriptor base + offset), or register names.
"""

import shlex
import struct
from typing import Any, Callable, Dict, List, Optional, Tuple

from pcmachine.errors import UserError
from pcmachine.steps import press_power_button

from . import inspect
from .control import Debugger

SEGMENTS = ("es", "cs", "ss", "ds", "fs", "gs")
SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}
HELP = """\
c | continue                  run until a breakpoint, a watchpoint or Ctrl+C
s | step [N]                  execute N instructions (default 1)
step-interrupts into|over     whether a step may stop inside a hardware interrupt
                              handler (into, the default) or runs it to its return
b ADDR | break ADDR           breakpoint at a linear address (or seg:off; Bochs: lb, vb)
pb ADDR                       breakpoint at a physical address
break int N | exc N | mode | io PORT   stop on an event
break magic                   stop after Bochs' magic breakpoint, xchg bx, bx
watch [r|w|a] ADDR [LEN]      watchpoint on linear bytes (write by default)
info break | bl | blist       list breakpoints; delete N | d N removes one; delete all
r | info registers            general registers, EIP, EFLAGS
sreg | creg                   segment registers (with descriptor caches) | control registers
info gdt|idt|ldt|tss          descriptor tables decoded
info tab | page ADDR          page tables as ranges | the walk for one address
x [/NF] ADDR                  N units (F: b h w g) at a linear address
xp [/NF] ADDR                 the same at a physical address
u [ADDR] [N]                  disassemble N instructions (default at CS:EIP, 10)
print-stack [N]               N entries (default 16) from SS:ESP, of the stack's size
info DEVICE                   a component's state (pic_master, pit, ata0, ...)
trace on FILE [KINDS] | trace off    event trace (KINDS as --trace-events)
snapshot FILE | restore FILE  save / load the machine state
screenshot FILE               PNG of the screen
sendkey KEYS                  type KEYS (--type syntax)
change DRIVE FILE [readonly|overlay]   put FILE in floppy drive DRIVE (fda, fdb, A, B)
eject DRIVE                   take the floppy out of DRIVE
system_powerdown | powerdown  press the ACPI power button (the guest may shut down)
rs | reverse-step [N]         go back N instructions
rc | reverse-continue         go back to the previous breakpoint or watchpoint hit
quit | q                      end the run"""

Action = Optional[str]        # None (stay stopped), "continue", "step", "quit"


def parse_number(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    try:
        if text.startswith("0x"):
            return int(text, 16)
        if text.endswith("h"):
            return int(text[:-1], 16)
        if any(c in "abcdef" for c in text):
            return int(text, 16)
        return int(text, 0) if text.startswith(("0b", "0o")) else int(text)
    except ValueError:
        raise UserError(f"not a number: {text!r}") from None


class Monitor:
    """Commands over one machine and its debugger."""

    def __init__(self, machine: Any, debugger: Debugger,
                 screenshot: Optional[Callable[[str], Any]] = None) -> None:
        self.machine = machine
        self.debugger = debugger
        self.screenshot = screenshot
        self.breakpoint_list: List[Tuple[str, Any]] = []
        self.step_count = 1
        self.commands: Dict[str, Callable[[List[str]], Tuple[str, Action]]] = {
            "c": self._continue, "continue": self._continue, "s": self._step, "step": self._step,
            "si": self._step, "step-interrupts": self._step_interrupts, "b": self._break, "break": self._break,
            "lb": self._break, "vb": self._break, "pb": self._physical_break,
            "watch": self._watch, "bl": self._list_breaks, "blist": self._list_breaks, "delete": self._delete, "d": self._delete,
            "r": self._registers, "sreg": self._sreg, "creg": self._creg, "info": self._info,
            "page": self._page, "x": self._examine, "xp": self._examine_physical, "u": self._disassemble,
            "print-stack": self._print_stack,
            "trace": self._trace, "snapshot": self._snapshot, "restore": self._restore,
            "screenshot": self._screenshot, "sendkey": self._sendkey,
            "change": self._change_medium, "eject": self._eject_medium,
            "system_powerdown": self._powerdown, "powerdown": self._powerdown, "quit": self._quit, "q": self._quit,
            "help": self._help, "rs": self._reverse_step, "reverse-step": self._reverse_step,
            "rc": self._reverse_continue, "reverse-continue": self._reverse_continue,
        }

    def names(self) -> List[str]:
        return sorted(self.commands)

    def execute(self, line: str) -> Tuple[str, Action]:
        """Run one command line; errors come back as text, never as exceptions."""
        try:
            words = shlex.split(line)
        except ValueError as error:
            return f"error: {error}", None
        if not words:
            return "", None
        command = self.commands.get(words[0].lower())
        if command is None:
            return f"unknown command {words[0]!r} (help lists them)", None
        try:
            return command(words[1:])
        except UserError as error:
            return f"error: {error}", None
        except (KeyError, IndexError, ValueError) as error:
            return f"error: {error}", None

    # ------------------------------------------------------------------ addresses
    def address(self, text: str) -> int:
        """A linear address: number, seg:off, or a register name."""
        cpu = self.machine.cpu
        if ":" in text:
            segment_text, offset_text = text.split(":", 1)
            offset = self.address(offset_text)
            if segment_text.lower() in SEGMENTS:
                return (cpu.seg_base[SEGMENTS.index(segment_text.lower())] + offset) & 0xFFFFFFFF
            selector = parse_number(segment_text)
            if not cpu.cr[0] & 1 or cpu.get_eflags() & 0x20000:
                return (selector << 4) + offset
            table_base = cpu.ldtr_base if selector & 4 else cpu.gdtr_base
            raw = inspect.read_linear(self.machine, table_base + (selector & ~7), 8)
            if raw is None:
                raise UserError(f"selector {selector:#x}: descriptor not readable")
            entry = inspect.decode_descriptor(*struct.unpack("<II", raw))
            return (entry.get("base", 0) + offset) & 0xFFFFFFFF
        try:
            return cpu.get_reg(text)
        except KeyError:
            return parse_number(text)

    def current_linear(self) -> int:
        cpu = self.machine.cpu
        return (cpu.seg_base[1] + cpu.eip) & 0xFFFFFFFF

    # ------------------------------------------------------------------ run control
    def _continue(self, args: List[str]) -> Tuple[str, Action]:
        return "", "continue"

    def _step(self, args: List[str]) -> Tuple[str, Action]:
        self.step_count = parse_number(args[0]) if args else 1
        return "", "step"

    def _step_interrupts(self, args: List[str]) -> Tuple[str, Action]:
        if args:
            if args[0] not in ("into", "over"):
                raise UserError("step-interrupts takes into or over")
            self.debugger.step_interrupts = args[0]
        return f"steps go {self.debugger.step_interrupts} hardware interrupts", None

    def _quit(self, args: List[str]) -> Tuple[str, Action]:
        return "", "quit"

    def _help(self, args: List[str]) -> Tuple[str, Action]:
        return HELP, None

    def _reverse_step(self, args: List[str]) -> Tuple[str, Action]:
        count = parse_number(args[0]) if args else 1
        full = self.debugger.reverse_step(count)
        note = "" if full else " (history begins here)"
        return self.where() + note, None

    def _reverse_continue(self, args: List[str]) -> Tuple[str, Action]:
        found = self.debugger.reverse_continue()
        return (self.debugger.stop_message + "\n" if found else "no earlier hit; at the start of history\n") \
            + self.where(), None

    # ------------------------------------------------------------------ breakpoints
    def _break(self, args: List[str]) -> Tuple[str, Action]:
        if not args:
            raise UserError("break ADDR, or break int N | exc N | mode | io PORT | magic")
        kind = args[0].lower()
        if kind in ("int", "exc", "io"):
            value = parse_number(args[1])
            self.debugger.add_event_break(kind, value)
            self.breakpoint_list.append((kind, value))
            return f"breakpoint {len(self.breakpoint_list)}: {kind} {value:#x}", None
        if kind == "mode":
            self.debugger.add_event_break("mode")
            self.breakpoint_list.append(("mode", None))
            return f"breakpoint {len(self.breakpoint_list)}: mode changes", None
        if kind == "magic":
            self.debugger.add_event_break("magic")
            self.breakpoint_list.append(("magic", None))
            return f"breakpoint {len(self.breakpoint_list)}: magic breakpoint (xchg bx, bx)", None
        address = self.address(args[0])
        self.debugger.add_breakpoint(address)
        self.breakpoint_list.append(("linear", address))
        return f"breakpoint {len(self.breakpoint_list)} at linear {address:#010x}", None

    def _physical_break(self, args: List[str]) -> Tuple[str, Action]:
        address = parse_number(args[0])
        self.debugger.add_breakpoint(address, physical=True)
        self.breakpoint_list.append(("physical", address))
        return f"breakpoint {len(self.breakpoint_list)} at physical {address:#010x}", None

    def _watch(self, args: List[str]) -> Tuple[str, Action]:
        kind = "w"
        if args and args[0].lower() in ("r", "w", "a"):
            kind, args = args[0].lower(), args[1:]
        linear = self.address(args[0])
        length = parse_number(args[1]) if len(args) > 1 else 1
        self.debugger.add_watchpoint(linear, length, kind)
        self.breakpoint_list.append(("watch", (linear, length, kind)))
        mapped = inspect.translate(self.machine, linear)
        where = f"physical {mapped[0]:#010x}" if mapped is not None else "not mapped yet"
        return (f"watchpoint {len(self.breakpoint_list)}: {dict(r='read', w='write', a='access')[kind]} "
                f"of {length} byte(s) at linear {linear:#010x} ({where})"), None

    def _list_breaks(self, args: List[str]) -> Tuple[str, Action]:
        lines = []
        for number, (kind, value) in enumerate(self.breakpoint_list, 1):
            if kind is None:
                continue
            if kind == "watch":
                lines.append(f"{number}: watch {value[2]} linear {value[0]:#010x} length {value[1]}")
            else:
                lines.append(f"{number}: {kind}" + ("" if value is None else f" {value:#x}"))
        return "\n".join(lines) or "no breakpoints", None

    def _delete(self, args: List[str]) -> Tuple[str, Action]:
        if args and args[0] == "all":
            self.debugger.clear_all()
            self.breakpoint_list = []
            return "all breakpoints deleted", None
        number = parse_number(args[0])
        if not 1 <= number <= len(self.breakpoint_list) or self.breakpoint_list[number - 1][0] is None:
            raise UserError(f"no breakpoint {number}")
        kind, value = self.breakpoint_list[number - 1]
        self.breakpoint_list[number - 1] = (None, None)
        debugger = self.debugger
        if kind in ("linear", "physical"):
            debugger.remove_breakpoint(value, physical=kind == "physical")
        elif kind == "watch":
            debugger.remove_watchpoint(value[0], value[1])
        elif kind == "mode":
            debugger.mode_break = False
        elif kind == "magic":
            debugger.magic_break = False
        else:
            {"int": debugger.int_breaks, "exc": debugger.exception_breaks, "io": debugger.io_breaks}[kind].discard(value)
        debugger._sync_hooks()
        return f"breakpoint {number} deleted", None

    # ------------------------------------------------------------------ state
    def where(self) -> str:
        cpu = self.machine.cpu
        return (f"({self.machine.clock.icount} instructions) "
                + self.disassemble(self.current_linear(), 1, cpu.seg_sel[1], cpu.eip))

    def _registers(self, args: List[str]) -> Tuple[str, Action]:
        cpu = self.machine.cpu
        names = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp")
        lines = [" ".join(f"{name}={cpu.get_reg(name):08x}" for name in names[:4]),
                 " ".join(f"{name}={cpu.get_reg(name):08x}" for name in names[4:]),
                 f"eip={cpu.eip:08x} eflags={cpu.get_eflags():08x} " + self._flag_names(cpu.get_eflags()),
                 f"cpl={cpu.cpl} icount={self.machine.clock.icount}"]
        return "\n".join(lines), None

    @staticmethod
    def _flag_names(flags: int) -> str:
        bits = ((0x800, "OF"), (0x400, "DF"), (0x200, "IF"), (0x100, "TF"), (0x80, "SF"), (0x40, "ZF"),
                (0x10, "AF"), (0x4, "PF"), (0x1, "CF"), (0x20000, "VM"), (0x4000, "NT"))
        names = [name for bit, name in bits if flags & bit]
        return f"[{' '.join(names)}] IOPL={(flags >> 12) & 3}"

    def _sreg(self, args: List[str]) -> Tuple[str, Action]:
        cpu = self.machine.cpu
        lines = []
        for index, name in enumerate(SEGMENTS):
            flags = cpu.seg_flags[index]
            lines.append(f"{name}={cpu.seg_sel[index]:04x} base={cpu.seg_base[index]:08x} "
                         f"limit={cpu.seg_limit[index] & 0xFFFFFFFF:08x} access={flags & 0xFF:02x} "
                         f"{'32-bit' if flags & 0x4000 else '16-bit'}")
        lines.append(f"ldtr={cpu.ldtr:04x} base={cpu.ldtr_base:08x} limit={cpu.ldtr_limit:08x}")
        lines.append(f"tr={cpu.tr:04x} base={cpu.tr_base:08x} limit={cpu.tr_limit:08x}")
        lines.append(f"gdtr base={cpu.gdtr_base:08x} limit={cpu.gdtr_limit:04x}")
        lines.append(f"idtr base={cpu.idtr_base:08x} limit={cpu.idtr_limit:04x}")
        return "\n".join(lines), None

    def _creg(self, args: List[str]) -> Tuple[str, Action]:
        cpu = self.machine.cpu
        cr0 = cpu.cr[0]
        bits = ((0x1, "PE"), (0x2, "MP"), (0x4, "EM"), (0x8, "TS"), (0x10, "ET"), (0x20, "NE"),
                (0x10000, "WP"), (0x40000, "AM"), (0x20000000, "NW"), (0x40000000, "CD"), (0x80000000, "PG"))
        lines = [f"cr0={cr0:08x} [{' '.join(name for bit, name in bits if cr0 & bit)}]",
                 f"cr2={cpu.cr[2]:08x}", f"cr3={cpu.cr[3]:08x}"]
        if len(cpu.cr) > 4:
            lines.append(f"cr4={cpu.cr[4]:08x}")
        return "\n".join(lines), None

    def _info(self, args: List[str]) -> Tuple[str, Action]:
        if not args:
            raise UserError("info registers|break|gdt|idt|ldt|tss|tab|DEVICE")
        what = args[0].lower()
        if what in ("registers", "r", "reg"):
            return self._registers(args[1:])
        if what in ("break", "breakpoints", "b"):
            return self._list_breaks(args[1:])
        if what in ("gdt", "idt", "ldt"):
            return "\n".join(inspect.table_lines(self.machine, what)), None
        if what == "tss":
            return "\n".join(inspect.tss_lines(self.machine)), None
        if what == "tab":
            ranges = inspect.page_ranges(self.machine)
            if not self.machine.cpu.cr[0] & inspect.CR0_PG:
                return "paging is off", None
            return "\n".join(f"{first:08x}-{last:08x} -> {phys:08x}-{phys + last - first:08x}  "
                             f"{inspect.flag_text(flags)}" for first, last, phys, flags in ranges) \
                or "no pages mapped", None
        return self._device(what), None

    def _device(self, name: str) -> str:
        components = self.machine.components
        aliases = {"pic": "pic_master", "ata": "ata0", "apic": "lapic"}
        component = components.get(name) or components.get(aliases.get(name, ""))
        if component is None:
            matches = [c for key, c in components.items()
                       if getattr(c, "PLUGIN_NAME", "") == name or key.startswith(name)]
            component = matches[0] if matches else None
        if component is None:
            raise UserError(f"no component {name!r}; components: {', '.join(sorted(components))}")
        if hasattr(component, "describe"):
            return component.describe()
        state = component.snapshot()
        return "\n".join(f"{key}: {_short(value)}" for key, value in sorted(state.items()))

    def _page(self, args: List[str]) -> Tuple[str, Action]:
        return "\n".join(inspect.page_walk(self.machine, self.address(args[0]))), None

    def _dump(self, args: List[str], physical: bool) -> str:
        count, unit = 1, 4
        if args and args[0].startswith("/"):
            spec = args[0][1:]
            digits = "".join(c for c in spec if c.isdigit())
            letters = [c for c in spec if c in SIZES]
            count = int(digits) if digits else 1
            unit = SIZES[letters[-1]] if letters else 4
            args = args[1:]
        address = parse_number(args[0]) if physical else self.address(args[0])
        data = inspect.read_physical(self.machine, address, count * unit) if physical \
            else inspect.read_linear(self.machine, address, count * unit)
        if data is None:
            raise UserError(f"linear {address:#x}: page not present")
        lines = []
        per_line = max(1, 16 // unit)
        for start in range(0, count, per_line):
            values = [int.from_bytes(data[(start + i) * unit:(start + i + 1) * unit], "little")
                      for i in range(min(per_line, count - start))]
            lines.append(f"{address + start * unit:08x}: " + " ".join(f"{v:0{unit * 2}x}" for v in values))
        return "\n".join(lines)

    def _examine(self, args: List[str]) -> Tuple[str, Action]:
        return self._dump(args, physical=False), None

    def _examine_physical(self, args: List[str]) -> Tuple[str, Action]:
        return self._dump(args, physical=True), None

    def disassemble(self, linear: int, count: int, cs: Optional[int] = None, eip: Optional[int] = None) -> str:
        import capstone
        cpu = self.machine.cpu
        bits32 = cpu.code32
        engine = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32 if bits32 else capstone.CS_MODE_16)
        code = inspect.read_linear(self.machine, linear, count * 15) or b""
        lines = []
        offset = eip if eip is not None else linear
        for insn in engine.disasm(code, offset):
            where = f"{cs:04x}:{insn.address:0{8 if bits32 else 4}x}" if cs is not None else f"{insn.address:08x}"
            lines.append(f"{where} ({linear + insn.address - offset:08x}) {insn.bytes.hex():<16} "
                         f"{insn.mnemonic} {insn.op_str}".rstrip())
            if len(lines) == count:
                break
        return "\n".join(lines) or f"{linear:08x}: (not readable)"

    def _disassemble(self, args: List[str]) -> Tuple[str, Action]:
        cpu = self.machine.cpu
        count = parse_number(args[1]) if len(args) > 1 else 10
        if args:
            return self.disassemble(self.address(args[0]), count), None
        return self.disassemble(self.current_linear(), count, cpu.seg_sel[1], cpu.eip), None

    def _print_stack(self, args: List[str]) -> Tuple[str, Action]:
        """Bochs' print-stack: entries of the stack's address size from SS:ESP up."""
        cpu = self.machine.cpu
        count = parse_number(args[0]) if args else 16
        size = 4 if cpu.stack32 else 2
        mask = 0xFFFFFFFF if cpu.stack32 else 0xFFFF
        lines = [f"Stack address size {size}"]
        for index in range(count):
            linear = (cpu.seg_base[SEGMENTS.index("ss")] + ((cpu.get_reg("esp") + index * size) & mask)) \
                & 0xFFFFFFFF
            raw = inspect.read_linear(self.machine, linear, size)
            value = "(not readable)" if raw is None else f"[0x{int.from_bytes(raw, 'little'):0{size * 2}x}]"
            lines.append(f" | STACK 0x{linear:08x} {value}")
        return "\n".join(lines), None

    # ------------------------------------------------------------------ tools
    def _trace(self, args: List[str]) -> Tuple[str, Action]:
        from pcmachine.plugins.debug.trace import Tracer
        machine = self.machine
        if args and args[0] == "off":
            tracer = machine.components.pop("monitor-trace", None)
            if tracer is None:
                return "no trace is on", None
            machine.remove_plugin(tracer)
            tracer.close()
            return "trace off", None
        if len(args) < 2 or args[0] != "on":
            raise UserError("trace on FILE [KINDS] | trace off")
        options = {"output": args[1]}
        if len(args) > 2:
            options["events"] = args[2]
        machine.add_component(Tracer, "monitor-trace", options)
        return f"tracing to {args[1]}", None

    def _snapshot(self, args: List[str]) -> Tuple[str, Action]:
        from pcmachine.record import save_snapshot
        save_snapshot(self.machine, args[0])
        return f"snapshot written to {args[0]}", None

    def _restore(self, args: List[str]) -> Tuple[str, Action]:
        from pcmachine.record import load_snapshot
        _, state, _ = load_snapshot(args[0])
        self.machine.restore(state)
        return f"restored {args[0]}\n" + self.where(), None

    def _screenshot(self, args: List[str]) -> Tuple[str, Action]:
        from pcmachine.screenshot import save_screenshot
        width, height = save_screenshot(self.machine, args[0])
        return f"screenshot {width}x{height} written to {args[0]}", None

    def _sendkey(self, args: List[str]) -> Tuple[str, Action]:
        keyboard = self.machine.keyboard
        if keyboard is None:
            raise UserError("this machine has no keyboard")
        text = " ".join(args)
        keyboard.type(text)
        return f"typed {text!r}", None


    def _change_medium(self, args: List[str]) -> Tuple[str, Action]:
        """As QEMU's `change floppy0 FILE`: a host input, applied when the machine runs on."""
        if len(args) < 2 or any(option not in ("readonly", "overlay") for option in args[2:]):
            raise UserError("usage: change DRIVE FILE [readonly|overlay]")
        data = self.machine.drives.request(args[0], args[1], readonly="readonly" in args[2:] or None,
                                           overlay="overlay" in args[2:] or None)
        return f"{data['drive']}: {data['path']} goes in when the machine runs on", None

    def _eject_medium(self, args: List[str]) -> Tuple[str, Action]:
        if len(args) != 1:
            raise UserError("usage: eject DRIVE")
        data = self.machine.drives.request(args[0], None)
        return f"{data['drive']}: ejected when the machine runs on", None

    def _powerdown(self, args: List[str]) -> Tuple[str, Action]:
        """As QEMU's `system_powerdown`: a host input, applied when the machine runs on."""
        if args:
            raise UserError("usage: system_powerdown")
        press_power_button(self.machine)
        return "power button pressed: the guest sees it when the machine runs on", None


def _short(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>" if len(value) > 16 else value.hex()
    text = repr(value)
    return text if len(text) < 200 else text[:197] + "..."
