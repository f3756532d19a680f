"""The gdb remote stub: `--gdb tcp:127.0.0.1:1234` (`--gdb-wait` holds the machine
before its first instruction, like QEMU's `-s -S`).

The GDB Remote Serial Protocol over TCP (gdb's "Remote Protocol" appendix):
registers as the i386 target description (`org.gnu.gdb.i386.core` with the x87
registers, the control registers in `org.pcmachine.system`, and on a CPU with SSE
`org.gnu.gdb.i386.sse`: xmm0-7 and mxcsr) sent with
`qXfer:features:read`; memory by linear address through the page tables;
breakpoints kept by the debugger, never written into guest memory (Z0, Z1);
watchpoints on the bus (Z2 write, Z3 read, Z4 access); `s`, `c`, `vCont`, Ctrl+C;
reverse execution (`bs`, `bc`) from the debugger's snapshots; `monitor CMD`
(qRcmd) runs a command of the built-in monitor.  One gdb at a time.

Each processor is a thread, as QEMU shows them (thread N is `cpu.count` CPU N-1;
`info threads`, `thread N`): a stop names the processor that was running, `Hg`
picks whose registers and page tables `g`/`G`/`p`/`P`/`m`/`M` use, and
`qThreadExtraInfo` says whether it runs, halts or waits for a start-up IPI.
Stepping and continuing move the whole machine (all processors in their turns),
so `Hc` is accepted and changes nothing.
"""

import struct
from typing import Any, List, Optional, Tuple

import trio

from pcmachine.errors import UserError
from pcmachine.plugins.cpu.sse_float import mxcsr_mask

from . import inspect
from .control import Debugger
from .monitor import Monitor

GENERAL = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
           "cs", "ss", "ds", "es", "fs", "gs")
X87_CONTROL = ("fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop")
SYSTEM = ("cr0", "cr2", "cr3", "cr4")
REGISTER_COUNT = len(GENERAL) + 8 + len(X87_CONTROL) + len(SYSTEM)
XMM0 = REGISTER_COUNT               # then xmm0-7 and mxcsr on a CPU with SSE
MXCSR = XMM0 + 8
SSE_REGISTER_COUNT = MXCSR + 1
#: gdb's vec128 and i386_mxcsr types (its features/i386/32bit-sse.xml)
SSE_TYPES = (
    '<vector id="v4f" type="ieee_single" count="4"/><vector id="v2d" type="ieee_double" count="2"/>'
    '<vector id="v16i8" type="int8" count="16"/><vector id="v8i16" type="int16" count="8"/>'
    '<vector id="v4i32" type="int32" count="4"/><vector id="v2i64" type="int64" count="2"/>'
    '<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>'
    '<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/>'
    '<field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>'
    '<field name="uint128" type="uint128"/></union><flags id="i386_mxcsr" size="4">'
    + "".join(f'<field name="{name}" start="{bit}" end="{bit}"/>' for bit, name in enumerate(
        ("IE", "DE", "ZE", "OE", "UE", "PE", "DAZ", "IM", "DM", "ZM", "OM", "UM", "PM")))
    + '<field name="FZ" start="15" end="15"/></flags>')
SIGINT, SIGTRAP = 2, 5


def target_xml(sse: bool = False) -> str:
    """The target description: gdb's i386 core registers, x87 included, then ours,
    then (`sse`) gdb's SSE registers."""
    regs = []
    for number, name in enumerate(GENERAL):
        kind = {"esp": "data_ptr", "ebp": "data_ptr", "eip": "code_ptr", "eflags": "i386_eflags"}.get(name, "int32")
        regs.append(f'<reg name="{name}" bitsize="32" type="{kind}" regnum="{number}"/>')
    for n in range(8):
        regs.append(f'<reg name="st{n}" bitsize="80" type="i387_ext" regnum="{16 + n}"/>')
    for n, name in enumerate(X87_CONTROL):
        regs.append(f'<reg name="{name}" bitsize="32" type="int" group="float" regnum="{24 + n}"/>')
    system = "".join(f'<reg name="{name}" bitsize="32" type="int32" regnum="{32 + n}"/>'
                     for n, name in enumerate(SYSTEM))
    flags = ('<flags id="i386_eflags" size="4">' + "".join(
        f'<field name="{name}" start="{bit}" end="{bit}"/>' for bit, name in (
            (0, "CF"), (1, ""), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"),
            (10, "DF"), (11, "OF"), (14, "NT"), (16, "RF"), (17, "VM"), (18, "AC"), (19, "VIF"),
            (20, "VIP"), (21, "ID"))) + "</flags>")
    return ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">'
            '<architecture>i386</architecture><feature name="org.gnu.gdb.i386.core">'
            + flags + "".join(regs) + '</feature><feature name="org.pcmachine.system">'
            + system + "</feature>" + (sse_feature() if sse else "") + "</target>")


def sse_feature() -> str:
    xmm = "".join(f'<reg name="xmm{n}" bitsize="128" type="vec128" regnum="{XMM0 + n}"/>' for n in range(8))
    return ('<feature name="org.gnu.gdb.i386.sse">' + SSE_TYPES + xmm
            + f'<reg name="mxcsr" bitsize="32" type="i386_mxcsr" group="vector" regnum="{MXCSR}"/></feature>')


def checksum(data: bytes) -> bytes:
    return b"%02x" % (sum(data) & 0xFF)


def parse_address(spec: str) -> Tuple[str, int]:
    """`tcp:HOST:PORT`, `tcp::PORT`, `HOST:PORT` or `PORT` (loopback by default)."""
    text = spec[4:] if spec.startswith("tcp:") else spec
    host, _, port_text = text.rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise UserError(f"--gdb {spec}: expected tcp:HOST:PORT, e.g. tcp:127.0.0.1:1234") from None
    if not 0 < port < 65536:
        raise UserError(f"--gdb {spec}: port {port} is out of range")
    return host or "127.0.0.1", port


class GDBStub:
    """Serves one gdb connection; the debugger's command handler while attached."""

    def __init__(self, machine: Any, spec: str, wait: bool = False) -> None:
        self.machine = machine
        self.host, self.port = parse_address(spec)
        self.debugger: Debugger = getattr(machine, "debugger", None) or Debugger(machine)
        self.monitor = Monitor(machine, self.debugger)
        self.stream: Optional[trio.SocketStream] = None
        self.packets_in, self.packets_out = trio.open_memory_channel(64)
        self.ack = True
        self.sse = bool(getattr(getattr(machine.cpu, "model", None), "sse", False))
        self.register_count = SSE_REGISTER_COUNT if self.sse else REGISTER_COUNT
        self.xml = target_xml(self.sse).encode()
        self.connected = trio.Event()
        self.sending = trio.Lock()            # acks (reader) and replies (machine) share the socket
        self.history_begin = False
        if wait:
            self.debugger.stop_message = "waiting for gdb"
            self.debugger.command_handler = self.on_stop
            machine.request_stop("debug")

    async def open(self) -> None:
        try:
            listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        except OSError as error:
            raise UserError(f"--gdb: cannot listen on {self.host}:{self.port}: {error.strerror}") from None
        trio.lowlevel.spawn_system_task(self._serve, listeners)

    async def _serve(self, listeners: List[trio.SocketListener]) -> None:
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, stream: trio.SocketStream) -> None:
        if self.stream is not None:
            await stream.aclose()             # one gdb at a time
            return
        self.stream = stream
        self.ack = True
        self.debugger.command_handler = self.on_stop
        if self.debugger.stop_message != "waiting for gdb":
            self.debugger.stop_message = "gdb attached"
            self.machine.request_stop("debug")
        self.connected.set()
        try:
            await self._read_packets(stream)
        finally:
            self.stream = None
            self.debugger.command_handler = None
            await self.packets_in.send(None)

    async def _read_packets(self, stream: trio.SocketStream) -> None:
        buffer = b""
        while True:
            try:
                data = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            buffer += data
            while buffer:
                if buffer[:1] in (b"+", b"-"):
                    buffer = buffer[1:]
                elif buffer[:1] == b"\x03":
                    buffer = buffer[1:]
                    self.debugger.stop_message = "interrupted by gdb"
                    self.debugger.last_hit = {"interrupt": True}
                    self.machine.request_stop("debug")
                elif buffer[:1] == b"$":
                    end = buffer.find(b"#")
                    if end < 0 or len(buffer) < end + 3:
                        break
                    payload = buffer[1:end]
                    buffer = buffer[end + 3:]
                    if self.ack:
                        async with self.sending:
                            await stream.send_all(b"+")
                    await self.packets_in.send(payload)
                else:
                    buffer = buffer[1:]

    async def send(self, payload: bytes) -> None:
        if self.stream is None:
            return
        escaped = payload.replace(b"}", b"}]").replace(b"#", b"}\x03").replace(b"$", b"}\x04")
        try:
            async with self.sending:
                await self.stream.send_all(b"$" + escaped + b"#" + checksum(escaped))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    # ------------------------------------------------------------------ stops
    def stop_reply(self) -> bytes:
        hit = self.debugger.last_hit or {}
        thread = b"thread:%x;" % self.running_thread()
        if self.history_begin:
            return b"T05replaylog:begin;" + thread
        if hit.get("interrupt"):
            return b"T%02x" % SIGINT + thread
        if "watch" in hit:
            kind = {"w": "watch", "r": "rwatch", "a": "awatch"}[hit["watch"]]
            return b"T05%s:%x;" % (kind.encode(), hit["address"]) + thread
        if "breakpoint" in hit:
            return b"T05swbreak:;" + thread
        return b"T05" + thread

    # ------------------------------------------------------------------ threads
    def processors(self) -> List[Any]:
        return self.machine.processors.cpus or [self.machine.cpu]

    def running_thread(self) -> int:
        """The thread ID (1, 2, ...) of the processor whose turn it is."""
        cpus = self.processors()
        return cpus.index(self.machine.cpu) + 1 if self.machine.cpu in cpus else 1

    def selected_cpu(self) -> Any:
        """The processor `Hg` chose, or the running one."""
        cpus = self.processors()
        if self.register_thread is not None and 0 < self.register_thread <= len(cpus):
            return cpus[self.register_thread - 1]
        return self.machine.cpu

    def select_thread(self, text: str) -> bytes:
        """`Hg<id>` / `Hc<id>`: 0 or -1 mean any or all."""
        thread = int(text[2:], 16) if text[2:] not in ("", "-1") else 0
        if thread > len(self.processors()):
            return b"E01"
        if text[1] == "g":
            self.register_thread = thread or None
        return b"OK"

    def thread_info(self, thread: int) -> str:
        cpu = self.processors()[thread - 1]
        state = ("waiting for INIT/SIPI" if getattr(cpu, "waiting_sipi", False)
                 else "halted" if cpu.halted else "running")
        return f"CPU#{thread - 1} [{state}]"

    register_thread: Optional[int] = None

    async def on_stop(self, reason: str) -> Optional[str]:
        """The machine stopped: report it to gdb (if it is waiting) and serve packets
        until it resumes the machine."""
        if self.stream is None:
            await self.connected.wait()
        elif self.resumed:
            await self.send(self.stop_reply())
        self.resumed = False
        while True:
            payload = await self.packets_out.receive()
            if payload is None:                     # gdb went away: run freely
                self.debugger.clear_all()
                self.connected = trio.Event()
                return None
            action = await self.handle(payload)
            if action is not None:
                self.register_thread = None          # the next stop names its own
                self.resumed = action != "quit"
                return "killed" if action == "quit" else None

    resumed = False

    # ------------------------------------------------------------------ packets
    async def handle(self, payload: bytes) -> Optional[str]:
        """Answer one packet; returns "continue"/"step"/"quit" when it resumes."""
        text = payload.decode("latin-1")
        self.history_begin = False
        if text == "?":
            await self.send(self.stop_reply())
        elif text.startswith("qSupported"):
            await self.send(b"PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+;"
                            b"ReverseStep+;ReverseContinue+;vContSupported+;QStartNoAckMode+")
        elif text == "QStartNoAckMode":
            await self.send(b"OK")
            self.ack = False
        elif text.startswith("qXfer:features:read:target.xml:"):
            offset, length = (int(part, 16) for part in text.rsplit(":", 1)[1].split(","))
            chunk = self.xml[offset:offset + length]
            await self.send((b"l" if offset + length >= len(self.xml) else b"m") + chunk)
        elif text.startswith("Qqemu.sstep="):
            # QEMU's single-step bits (gdb: maintenance packet Qqemu.sstep=0x3): NOIRQ
            # (2) is stepping over interrupts; NOTIMER has no separate meaning here.
            self.debugger.step_interrupts = "over" if int(text[12:], 16) & 2 else "into"
            await self.send(b"OK")
        elif text == "qqemu.sstepbits":
            await self.send(b"ENABLE=1,NOIRQ=2,NOTIMER=4")
        elif text == "qqemu.sstep":
            await self.send(b"0x3" if self.debugger.step_interrupts == "over" else b"0x1")
        elif text == "qAttached":
            await self.send(b"1")
        elif text == "qC":
            await self.send(b"QC%x" % self.running_thread())
        elif text == "qfThreadInfo":
            await self.send(b"m" + b",".join(b"%x" % (n + 1) for n in range(len(self.processors()))))
        elif text == "qsThreadInfo":
            await self.send(b"l")
        elif text.startswith("qThreadExtraInfo,"):
            thread = int(text[17:], 16)
            known = 0 < thread <= len(self.processors())
            await self.send(self.thread_info(thread).encode().hex().encode() if known else b"E01")
        elif text[:2] in ("Hg", "Hc"):
            await self.send(self.select_thread(text))
        elif text.startswith("T"):
            await self.send(b"OK" if 0 < int(text[1:], 16) <= len(self.processors()) else b"E01")
        elif text == "g":
            await self.send(b"".join(self.register_bytes(n).hex().encode() for n in range(self.register_count)))
        elif text.startswith("G"):
            data = bytes.fromhex(text[1:])
            offset = 0
            for number in range(self.register_count):
                size = len(self.register_bytes(number))
                if offset + size <= len(data):
                    self.set_register(number, data[offset:offset + size])
                offset += size
            await self.send(b"OK")
        elif text.startswith("p"):
            number = int(text[1:], 16)
            await self.send(self.register_bytes(number).hex().encode() if number < self.register_count else b"E01")
        elif text.startswith("P"):
            number_text, value = text[1:].split("=")
            self.set_register(int(number_text, 16), bytes.fromhex(value))
            await self.send(b"OK")
        elif text.startswith("m"):
            address, length = (int(part, 16) for part in text[1:].split(","))
            data = inspect.read_linear(self.machine, address, length, self.selected_cpu())
            await self.send(data.hex().encode() if data is not None else b"E14")
        elif text.startswith("M"):
            where, data = text[1:].split(":")
            address, _ = (int(part, 16) for part in where.split(","))
            await self.send(b"OK" if self.write_linear(address, bytes.fromhex(data)) else b"E14")
        elif text.startswith("X"):
            where, _, raw = payload[1:].partition(b":")
            address, _ = (int(part, 16) for part in where.split(b","))
            await self.send(b"OK" if self.write_linear(address, unescape(raw)) else b"E14")
        elif text[:1] in ("Z", "z"):
            await self.send(self.breakpoint(text))
        elif text.startswith("vCont?"):
            await self.send(b"vCont;c;C;s;S")
        elif text.startswith("vCont;"):
            action = text[6:7].lower()
            if action == "s":
                self.debugger.step(1)
                return "step"
            return "continue"
        elif text[:1] in ("c", "C"):
            return "continue"
        elif text[:1] in ("s", "S"):
            self.debugger.step(1)
            return "step"
        elif text == "bs":
            full = self.debugger.reverse_step(1)
            self.history_begin = not full
            await self.send(self.stop_reply() if full else b"T05replaylog:begin;thread:%x;" % self.running_thread())
        elif text == "bc":
            found = self.debugger.reverse_continue()
            self.history_begin = not found
            await self.send(self.stop_reply())
        elif text.startswith("qRcmd,"):
            output, action = self.monitor.execute(bytes.fromhex(text[6:]).decode("utf-8", "replace"))
            if output:
                await self.send(b"O" + (output + "\n").encode().hex().encode())
            await self.send(b"OK")
        elif text == "D" or text.startswith("D;"):
            await self.send(b"OK")
            self.debugger.clear_all()
            self.debugger.command_handler = None
            return "continue"
        elif text == "k" or text.startswith("vKill"):
            await self.send(b"OK")
            return "quit"
        else:
            await self.send(b"")
        return None

    def breakpoint(self, text: str) -> bytes:
        insert = text[0] == "Z"
        kind, address_text, length_text = text[1:].split(";")[0].split(",")[:3]
        address, length = int(address_text, 16), int(length_text, 16)
        debugger = self.debugger
        if kind in ("0", "1"):
            if insert:
                debugger.add_breakpoint(address)
            else:
                debugger.remove_breakpoint(address)
            return b"OK"
        if kind in ("2", "3", "4"):
            if insert:
                debugger.add_watchpoint(address, length, {"2": "w", "3": "r", "4": "a"}[kind])
            else:
                debugger.remove_watchpoint(address, length)
            return b"OK"
        return b""

    # ------------------------------------------------------------------ registers
    def register_bytes(self, number: int) -> bytes:
        cpu = self.selected_cpu()
        if number < len(GENERAL):
            return struct.pack("<I", cpu.get_reg(GENERAL[number]) & 0xFFFFFFFF)
        if number < 24:
            return x87_register(cpu, number - 16)
        if number < 32:
            return struct.pack("<I", x87_control(cpu, X87_CONTROL[number - 24]))
        if number >= XMM0:
            return struct.pack("<I", cpu.mxcsr) if number == MXCSR else cpu.xmm[number - XMM0].to_bytes(16, "little")
        return struct.pack("<I", cpu.cr[int(SYSTEM[number - 32][2:])] if int(SYSTEM[number - 32][2:]) < len(cpu.cr) else 0)

    def set_register(self, number: int, data: bytes) -> None:
        cpu = self.selected_cpu()
        if number < len(GENERAL):
            name = GENERAL[number]
            value = struct.unpack("<I", data[:4])[0]
            if name in ("cs", "ss", "ds", "es", "fs", "gs") and cpu.get_reg(name) == value & 0xFFFF:
                return                                   # unchanged: no segment reload
            cpu.set_reg(name, value)
        elif number < 32:
            set_x87(cpu, number, data)
        elif number == MXCSR:
            cpu.mxcsr = struct.unpack("<I", data[:4])[0] & mxcsr_mask(cpu)
        elif number >= XMM0:
            cpu.xmm[number - XMM0] = int.from_bytes(data[:16], "little")
        else:
            cpu.set_reg(SYSTEM[number - 32], struct.unpack("<I", data[:4])[0])

    def write_linear(self, address: int, data: bytes) -> bool:
        for offset, byte in enumerate(data):
            mapped = inspect.translate(self.machine, address + offset, self.selected_cpu())
            if mapped is None:
                return False
            self.machine.bus.write_byte(mapped[0], byte)
        return True


def unescape(data: bytes) -> bytes:
    out = bytearray()
    escape = False
    for byte in data:
        if escape:
            out.append(byte ^ 0x20)
            escape = False
        elif byte == 0x7D:
            escape = True
        else:
            out.append(byte)
    return bytes(out)


def x87_register(cpu: Any, index: int) -> bytes:
    """ST(index) as gdb's 10-byte extended value (zeros without an FPU)."""
    fpu = getattr(cpu, "fpu", None)
    if fpu is None:
        return bytes(10)
    return fpu.state.regs[fpu.physical(index)].to_bytes(10, "little")


def x87_control(cpu: Any, name: str) -> int:
    """fctrl fstat ftag fiseg fioff foseg fooff fop (the FSAVE values)."""
    fpu = getattr(cpu, "fpu", None)
    if fpu is None:
        return 0x037F if name == "fctrl" else 0xFFFF if name == "ftag" else 0
    state = fpu.state
    return {"fctrl": state.cw, "fstat": fpu.status_word(), "ftag": fpu.tag_word(), "fiseg": state.fcs,
            "fioff": state.fip, "foseg": state.fds, "fooff": state.fdp, "fop": state.fop}[name]


def set_x87(cpu: Any, number: int, data: bytes) -> None:
    """gdb writes an x87 register (`set $st0 = ...`, `set $fctrl = ...`)."""
    fpu = getattr(cpu, "fpu", None)
    if fpu is None:
        return
    state = fpu.state
    if number < 24:
        fpu.set(number - 16, int.from_bytes(data[:10], "little"))
        return
    value = struct.unpack("<I", data[:4])[0]
    name = X87_CONTROL[number - 24]
    if name == "fstat":
        state.top, state.sw = (value >> 11) & 7, value & 0xC7FF
    elif name == "ftag":
        fpu.set_tag_word(value)
    else:
        field = {"fctrl": "cw", "fiseg": "fcs", "fioff": "fip", "foseg": "fds", "fooff": "fdp", "fop": "fop"}[name]
        setattr(state, field, value & (0xFFFFFFFF if field in ("fip", "fdp") else 0xFFFF))
