"""Guest programs that drive the chipset devices through their ports, booted the way a
user boots them: a floppy image in drive A: and the full pc.yaml machine (issue 5
"Done when").  Sources are in tests/guests/devices/ (rebuild with its build.sh); each
guest reports through the debug console, port 0xE9.

* timer.asm: PIC pair and PIT counter 0 at 100 Hz, IRQ0 counted against virtual time;
* kbdecho.asm: an IRQ1 handler echoes keys typed with --type to the screen;
* atadisk.asm: IDENTIFY, polled and IRQ14-driven sector reads and writes on a hard
  disk image, whose host file must show the written bytes after the run;
* atasrst.asm: the Pintos IDE probe and soft reset with no device 1;
* atadma.asm: bus master DMA through the PIIX3 IDE function's BAR4 and PRD tables;
* rtl8139.asm: the RTL8139 set up as the OSDev wiki driver does, ARP, ICMP echo and
  DHCP with the user-mode network, replies taken from the receive ring on its IRQ;
* e1000.asm: the 82540EM reset, its EEPROM (EERD) and PHY (MDIC), both descriptor
  rings, ARP, an ICMP echo with the checksums offloaded, and DHCP;
* stihlt.asm: STI; HLT with IRQ0 already pending;
* apicwire.asm: the 8259A's IRQ0 after the local APIC is enabled;
* rtcserial.asm: the RTC in BCD and binary, its periodic interrupt on IRQ8 counted
  against virtual time, a year rollover; "hello" through the COM1 UART;
* parallel.asm: LPT1 in the BIOS data area, int 17h, the printer port's registers,
  the strobe handshake and IRQ7; what it printed must reach the printer's sink;
* uartpulse.asm: COM1's THRE interrupt enabled and disabled again with IF=0 (the
  8259A answers with a spurious IR7);
* display/chain4wrap.asm: chain-4 writes beyond the first 64 KiB of the 128 KiB
  window wrap within the planes.

The RTC start time is fixed so that runs are repeatable.
"""

from typing import Any, List, Optional, Tuple

import pytest

from conftest import guest_path
from pcmachine import hookimpl
from pcmachine.cli import main
from pcmachine.machine import Machine
from pcmachine.plugins.net.usernet import read_pcap

PROFILE = "pc.yaml"
FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
#: A run that has not ended by then is stuck (each guest needs well under 1 M).
MAX_INSTRUCTIONS = 20_000_000


def boot(tmp_path: Any, floppy_from: Any, guest: str, plugin: Any = None,
         overrides: Tuple[str, ...] = ()) -> Tuple[Machine, str]:
    """Boot `guest` from a floppy with pc.yaml until it stops; returns the machine
    (closed, media flushed) and why the run ended."""
    media = {"fda": floppy_from(tmp_path, guest)}
    setup = None if plugin is None else (lambda machine: machine.add_plugin(plugin))
    machine = Machine.from_profile(PROFILE, [FIXED_RTC, *overrides], media, setup=setup)
    try:
        reason = machine.run_headless(MAX_INSTRUCTIONS)
    finally:
        machine.close()
    return machine, reason


def run_cli(capsys: Any, *argv: str) -> Tuple[int, str, str]:
    status = main(["run", PROFILE, "--headless", "--timeout", "120", "--set", FIXED_RTC, *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def read_text(path: str) -> str:
    """A debug console or serial log as written: bytes as Latin-1, no newline translation."""
    with open(path, "rb") as handle:
        return handle.read().decode("latin-1")


def debugcon_lines(tmp_path: Any, capsys: Any, floppy_from: Any, guest: str,
                   *argv: str) -> List[str]:
    """Boot `guest` from a floppy with the CLI (more `argv`); the lines it wrote to
    the debug console."""
    log = str(tmp_path / "debugcon.txt")
    status, out, err = run_cli(capsys, "--fda", floppy_from(tmp_path, guest),
                               "--debugcon", f"file:{log}", *argv)
    assert status == 0, err
    return read_text(log).splitlines()


# ---------------------------------------------------------------- timer: PIC + PIT
PIT_HZ = 1_193_182
PIT_DIVISOR = 11932
TICK_NS = PIT_DIVISOR * 1_000_000_000 / PIT_HZ     # 10.00015 ms


class Timeline:
    """Virtual times of the guest's PIT loads (the MSB write that starts counter 0),
    of the first byte of each line it prints and of each byte COM1 sends."""

    def __init__(self) -> None:
        self.pit_loads: List[int] = []
        self.lines: List[Tuple[int, str]] = []
        self.serial_sent: List[Tuple[int, int]] = []
        self.printed: List[Tuple[str, int]] = []
        self._msb_next = False
        self._line: Optional[Tuple[int, bytearray]] = None

    @hookimpl
    def io_write(self, machine: Any, port: int, size: int, value: int) -> None:
        if port == 0x43:
            self._msb_next = False
        elif port == 0x40:
            if self._msb_next:
                self.pit_loads.append(machine.clock.now())
            self._msb_next = not self._msb_next

    @hookimpl
    def debugcon_byte(self, machine: Any, value: int) -> None:
        if self._line is None:
            self._line = (machine.clock.now(), bytearray())
        if value == 10:
            self.lines.append((self._line[0], self._line[1].decode("latin-1")))
            self._line = None
        else:
            self._line[1].append(value)

    @hookimpl
    def serial_byte(self, machine: Any, port: str, direction: str, value: int) -> None:
        if port == "com1" and direction == "tx":
            self.serial_sent.append((machine.clock.now(), value))

    @hookimpl
    def parallel_byte(self, port: str, value: int) -> None:
        self.printed.append((port, value))

    def texts(self) -> List[str]:
        return [text for _, text in self.lines]

    def time_of(self, prefix: str) -> int:
        return next(time for time, text in self.lines if text.startswith(prefix))


def boot_timer(tmp_path: Any, floppy_from: Any) -> Tuple[Machine, str, Timeline]:
    timeline = Timeline()
    machine, reason = boot(tmp_path, floppy_from, "devices/timer.bin", timeline)
    return machine, reason, timeline


def test_timer_guest_counts_100hz_ticks_against_virtual_time(tmp_path, floppy_from):
    machine, reason, timeline = boot_timer(tmp_path, floppy_from)
    assert reason == "halted"
    assert timeline.texts() == ["timer: start",
                                "mode2 ticks=50 wakeups=50",
                                "mode3 ticks=50 wakeups=50",
                                "busy ticks=2",
                                "isr=00",
                                "done"]
    guest_loads = [time for time in timeline.pit_loads if time > timeline.time_of("timer:")]
    assert len(guest_loads) == 3            # the BIOS loaded counter 0 before them
    phases = (("mode2", 50), ("mode3", 50), ("busy", 2))
    for start, (report, ticks) in zip(guest_loads, phases):
        elapsed = timeline.time_of(report) - start
        assert abs(elapsed - ticks * TICK_NS) < TICK_NS, (report, elapsed)
    assert machine.clock.now() == pytest.approx(102 * TICK_NS, rel=0.02)


def test_timer_guest_runs_identically_twice(tmp_path, floppy_from):
    first, reason1, timeline1 = boot_timer(tmp_path, floppy_from)
    second, reason2, timeline2 = boot_timer(tmp_path, floppy_from)
    assert reason1 == reason2 == "halted"
    assert timeline1.lines == timeline2.lines
    assert timeline1.pit_loads == timeline2.pit_loads
    assert first.clock.icount == second.clock.icount
    assert first.snapshot() == second.snapshot()


@pytest.mark.parametrize("snapshot_icount", [500, 300_000], ids=["halted-phase", "busy-phase"])
def test_timer_guest_resumes_identically_from_a_snapshot(tmp_path, floppy_from, snapshot_icount):
    """A snapshot taken mid-run (PIC, PIT, CPU and RAM as plain data) restored into a
    fresh machine ends exactly as the uninterrupted run does."""
    image = floppy_from(tmp_path, "devices/timer.bin")
    states = []
    whole = Machine.from_profile(PROFILE, [FIXED_RTC], {"fda": image})
    try:
        whole.at_icount(snapshot_icount, lambda: states.append(whole.snapshot()))
        assert whole.run_headless(MAX_INSTRUCTIONS) == "halted"
    finally:
        whole.close()
    resumed = Machine.from_profile(PROFILE, [FIXED_RTC], {"fda": image})
    try:
        resumed.restore(states[0])
        assert resumed.clock.icount == snapshot_icount
        assert resumed.run_headless(MAX_INSTRUCTIONS) == "halted"
    finally:
        resumed.close()
    assert resumed.components["debugcon"].text == whole.components["debugcon"].text
    assert "busy ticks=2" in resumed.components["debugcon"].text
    assert resumed.clock.icount == whole.clock.icount
    assert resumed.snapshot() == whole.snapshot()


# ---------------------------------------------------------------- idle loop: JMP $ with STI
class InstructionCounter:
    """An instruction hook: the CPU then runs instruction by instruction."""

    def __init__(self) -> None:
        self.count = 0

    @hookimpl
    def instruction(self, machine: Any, cs: int, eip: int, linear: int, cpu: Any) -> None:
        self.count += 1


def boot_idlespin(tmp_path: Any, floppy_from: Any, hooked: bool) -> Tuple[Machine, Timeline, Any]:
    from pcmachine.bench import BlockCounter
    timeline = Timeline()
    counter = InstructionCounter()
    blocks: List[Any] = []

    def setup(machine: Machine) -> None:
        machine.add_plugin(timeline)
        if hooked:
            machine.add_plugin(counter)
        blocks.append(BlockCounter(machine.cpu))
    media = {"fda": floppy_from(tmp_path, "devices/idlespin.bin")}
    machine = Machine.from_profile(PROFILE, [FIXED_RTC], media, setup=setup)
    try:
        assert machine.run_headless(MAX_INSTRUCTIONS) == "halted"
    finally:
        machine.close()
    return machine, timeline, (counter.count if hooked else blocks[0].run_instructions[0])


def test_an_idle_jmp_to_itself_is_counted_at_once_with_the_same_timeline(tmp_path, floppy_from):
    fast, fast_timeline, run_one_by_one = boot_idlespin(tmp_path, floppy_from, hooked=False)
    slow, slow_timeline, hooked_count = boot_idlespin(tmp_path, floppy_from, hooked=True)
    assert fast_timeline.texts() == ["idlespin: start", "ticks=20 spins=10,10"]
    # The same instruction count and virtual times, to the instruction.
    assert fast_timeline.lines == slow_timeline.lines
    assert fast.clock.icount == slow.clock.icount == hooked_count
    assert fast.cpu.get_reg("eip") == slow.cpu.get_reg("eip")
    # 20 ms of virtual time at 20 M instructions per second: ~400,000 turns of
    # the loops, which the hooked run executed one by one and the other did not.
    assert fast.clock.icount > 400_000
    assert run_one_by_one < fast.clock.icount // 10


# ---------------------------------------------------------------- REP INS and INTR
class InterruptOnThirdRead:
    """A port (0x300) whose reads count 1, 2, 3...; the third read raises INTR, which
    the CPU acknowledges as vector 0x40."""

    PORT = 0x300
    VECTOR = 0x40

    def __init__(self, machine: Machine) -> None:
        self.bus = machine.bus
        self.reads = 0
        machine.bus.register_io(self.PORT, self.PORT, self.read, self.write, "intr-on-read")
        machine.bus.interrupt_controller = self

    def read(self, port: int, size: int) -> int:
        self.reads += 1
        if self.reads == 3:
            self.bus.set_intr(True)
        return self.reads

    def write(self, port: int, size: int, value: int) -> None:
        raise AssertionError("the guest only reads this port")

    def acknowledge(self) -> int:
        self.bus.set_intr(False)
        return self.VECTOR


def test_rep_insb_takes_an_interrupt_between_iterations():
    """Intel SDM vol. 2, REP: a repeated string instruction is interruptible between
    iterations and resumes after the handler returns.  ATA drivers rely on it: the
    next sector's IRQ14 arrives in the middle of a multi-sector REP INSW."""
    from pcmachine.plugins.cpu import CPU
    from pcmachine.plugins.ram import RAM

    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": "1M"})
    machine.add_component(CPU, "cpu", {})
    device = InterruptOnThirdRead(machine)
    machine.configure()
    with open(guest_path("devices", "rep_irq.bin"), "rb") as handle:
        code = handle.read()
    machine.bus.memory[0x7C00:0x7C00 + len(code)] = code
    machine.cpu.set_reg("cs", 0)
    machine.cpu.set_reg("eip", 0x7C00)
    assert machine.run_headless(10_000) == "halted"
    memory = machine.bus.memory
    assert int.from_bytes(memory[0x7000:0x7002], "little") == 5      # CX left at the IRQ
    assert int.from_bytes(memory[0x7002:0x7004], "little") == 0x8003  # DI at the IRQ
    assert bytes(memory[0x8000:0x8008]) == bytes(range(1, 9))
    assert device.reads == 8
    assert machine.cpu.get_reg("cx") == 0


# ---------------------------------------------------------------- keyboard echo: 8042 + IRQ1
READY = "Keyboard echo ready"


def echo_run(tmp_path: Any, capsys: Any, floppy_from: Any, *steps: str) -> Tuple[List[str], str]:
    """Boot the echo guest, wait until it is ready, run `steps`; returns the final
    screen rows and what the guest wrote to the debug console."""
    image = floppy_from(tmp_path, "devices/kbdecho.bin")
    dump = str(tmp_path / "screen.txt")
    log = str(tmp_path / "debugcon.txt")
    status, out, err = run_cli(capsys, "--fda", image, "--screen-dump", dump,
                               "--debugcon", f"file:{log}", "--wait", READY, *steps)
    assert status == 0, out + err
    with open(dump, encoding="utf-8") as handle:
        rows = [row.rstrip() for row in handle.read().splitlines()]
    return rows, read_text(log)


def test_keyboard_guest_echoes_typed_text(tmp_path, capsys, floppy_from):
    rows, log = echo_run(tmp_path, capsys, floppy_from,
                         "--type", r"Hello World 42\n", "--type", "ok", "--wait", "ok")
    assert rows[0] == READY
    assert rows[2:5] == ["Hello World 42", "ok", ""]
    assert log == "kbd: ready\nHello World 42\nok"


def test_keyboard_guest_named_keys_and_chords(tmp_path, capsys, floppy_from):
    rows, log = echo_run(tmp_path, capsys, floppy_from,
                         "--type", "{rshift+h}ey you{backspace}{bksp}{backspace}all{shift+1}"
                                   "{up}{f1}{kpenter}",
                         "--type", "x{shift+slash}{enter}{{=}", "--wait", "{=}")
    assert rows[2:5] == ["Hey all!", "x?", "{=}"]
    assert log == "kbd: ready\nHey you\b\b\ball!\nx?\n{=}"


def test_keyboard_guest_takes_many_keys_and_scrolls(tmp_path, capsys, floppy_from):
    """26 lines, about 2300 scan code bytes typed in four bursts: each IRQ1 needs the
    EOI of the one before; the screen scrolls below row 24."""
    lines = [f"Line {n:02d}: The Quick Brown Fox Jumps Over {n} Lazy Dogs" for n in range(26)]
    steps: List[str] = []
    for first in range(0, len(lines), 7):
        burst = lines[first:first + 7]
        text = ("\\n" if first else "") + "\\n".join(burst)
        steps += ["--type", text, "--wait", burst[-1]]
    rows, log = echo_run(tmp_path, capsys, floppy_from, *steps)
    assert log == "kbd: ready\n" + "\n".join(lines)
    assert rows[2:25] == lines[-23:]


# ---------------------------------------------------------------- ATA disk: polled and IRQ14
HD_SECTORS = 8192                       # 4 MiB: default geometry 8 cylinders, 16 heads, 63 sectors
SECTOR = 512
#: Sectors the guest writes: LBA -> (label, seed) of the pattern it fills them with.
GUEST_WRITES = {2000: ("POLLED LBA 2000 ", 0x11),
                (2 * 16 + 3) * 63 + 3: ("POLLED CHS 2/3/4", 0x22),   # C/H/S 2/3/4
                2100: ("IRQ LBA 2100    ", 0x33)}
_SECTOR_BODY = bytes(((i * 13) ^ (i >> 4)) & 0xFF for i in range(8, SECTOR))
_ADD_TABLES = [bytes((byte + amount) & 0xFF for byte in range(256)) for amount in range(256)]


def disk_sector(lba: int) -> bytes:
    """The test image's sector `lba`: an "LBA00000" label, then bytes that differ
    from sector to sector (a fixed body plus 7 * lba, modulo 256)."""
    return b"LBA%05d" % lba + _SECTOR_BODY.translate(_ADD_TABLES[lba * 7 & 0xFF])


def guest_pattern(label: str, seed: int) -> bytes:
    return label.encode("ascii") + bytes((3 * i + seed) & 0xFF for i in range(16, SECTOR))


def sector_report(data: bytes) -> str:
    """What the guest prints for a sector: its first 8 bytes and the 16-bit sum of its words."""
    total = sum(int.from_bytes(data[i:i + 2], "little") for i in range(0, SECTOR, 2)) & 0xFFFF
    return f"[{data[:8].decode('latin-1')}] sum={total:04X}"


def test_ata_guest_reads_and_writes_sectors_polled_and_by_irq14(tmp_path, capsys, floppy_from):
    from pcmachine.plugins.ata.identify import MODEL

    original = b"".join(disk_sector(lba) for lba in range(HD_SECTORS))
    disk = tmp_path / "hd.img"
    disk.write_bytes(original)
    log = str(tmp_path / "debugcon.txt")
    status, out, err = run_cli(capsys, "--fda", floppy_from(tmp_path, "devices/atadisk.bin"),
                               "--hda", str(disk), "--debugcon", f"file:{log}")
    assert status == 0, err
    assert "halted with interrupts disabled" in err

    def read(lba: int) -> str:
        return sector_report(disk_sector(lba))

    multi = " ".join(read(lba) for lba in range(400, 404))
    assert read_text(log).splitlines() == [
        "ata: start",
        f"identify model=[{MODEL:<40}] chs=8/16/63 sectors={HD_SECTORS:08X} multiple=16 checksum=00",
        f"polled read lba 100 {read(100)}",
        f"polled read lba 8191 {read(8191)}",
        f"polled read chs 1/2/3 {read((1 * 16 + 2) * 63 + 2)}",
        "polled write lba 2000 status=50 readback=same",
        "polled write chs 2/3/4 status=50 readback=same",
        f"irq read lba 300 {read(300)} irqs=1",
        "irq write lba 2100 status=50 readback=same",
        # one interrupt per sector: the later ones arrive during the guest's REP INSW
        f"irq read lba 400 x4 {multi} irqs=7 status=50",
        "irq read lba 8192 status=51 error=10 irqs=8",          # ERR; IDNF
        "done",
    ]
    expected = bytearray(original)
    for lba, (label, seed) in GUEST_WRITES.items():
        expected[lba * SECTOR:(lba + 1) * SECTOR] = guest_pattern(label, seed)
    assert disk.read_bytes() == bytes(expected)


def test_ata_dma_guest_moves_sectors_through_the_bus_master(tmp_path, capsys, floppy_from):
    """atadma.asm: PCI scan for the IDE function, its Bus Master bit, IDENTIFY's
    DMA words, SET FEATURES to multiword DMA 2, WRITE DMA and READ DMA over two
    PRDs with IRQ14, a PRD longer and one shorter than the request, the Bus Master
    bit cleared and set again, and READ DMA over code that already ran.  QEMU 7.2
    prints the same lines but for BAR4 (C041: SeaBIOS moves it), IDENTIFY word 49
    (0B00: IORDY) and the two Bus Master steps (QEMU completes the command with
    the bit clear, and its data reaches no memory)."""
    disk = tmp_path / "hd.img"
    disk.write_bytes(bytes(HD_SECTORS * SECTOR))
    lines = debugcon_lines(tmp_path, capsys, floppy_from, "devices/atadma.bin", "--hda", str(disk))
    assert lines == [
        "ata dma: start",
        "pci ide 01.01 bar4=0000C001",
        "identify w49=0300 w63=0007 w88=203F",
        "mode status=50 w63=0407",
        "write dma lba 50 x2 bm=04 after=00 stopped=00 status=50 irqs=4",
        "read dma lba 50 x2 bm=04 after=00 stopped=00 status=50 irqs=5",
        "read back same",
        "long prd bm=05 after=01 stopped=00 status=50 irqs=6",
        "short prd bm=00 status=50 irqs=6 first=0700 beyond=1234",
        "master off status=58 bm=01 irqs=6 data=0000",
        "master on bm=04 after=00 stopped=00 status=50 irqs=7 data=0700",
        "code before=AA after=BB",
        "done",
    ]
    written = disk.read_bytes()
    assert written[50 * SECTOR:52 * SECTOR] == bytes(7 * i & 0xFF for i in range(2 * SECTOR))
    assert written[60 * SECTOR:60 * SECTOR + 3] == b"\xb0\xbb\xc3"      # mov al, 0BBh; ret


def test_rtl8139_guest_talks_to_the_user_mode_network(tmp_path, capsys, floppy_from):
    """rtl8139.asm: PCI scan for 10EC:8139, the OSDev wiki driver's set-up with its
    IRQ on the 8259A pair, an ARP request for 10.0.2.2, an ICMP echo to it and a
    DHCPDISCOVER; each reply read from the ring.  QEMU 7.2 (`-netdev user -device
    rtl8139`) prints the same lines but for BAR0 (C001: SeaBIOS puts it first), the
    header status of the replies (0001: QEMU sets no address-match bits while RCR
    accepts all physical addresses; the chip sets PAM/BAR as here) and irqs=3 (slirp
    answers within the transmit, so TOK and ROK come in one interrupt; here the
    network answers 100 us later).  Its filter-dump capture holds the same six
    frames, byte for byte, as the `pcap` written here."""
    capture = tmp_path / "guest.pcap"
    lines = debugcon_lines(tmp_path, capsys, floppy_from, "devices/rtl8139.bin",
                           "--set", "nic.plugin=rtl8139", "--set", f"nic.pcap={capture}")
    assert lines == [
        "rtl8139: start",
        "pci rtl8139 03.00 bar0=0000C101 irq=0B",
        "mac 525400123456",
        "arp tx tsd=0000A02A",
        "arp rx status=4001 len=0044 isr=0005 op=0002 sha=52550A000202 spa=0A000202",
        "icmp tx tsd=0000A04A",
        "icmp rx status=4001 len=004E isr=0005 ttl=FF src=0A000202 type=00 id=1234 seq=0001 data=same",
        "dhcp tx tsd=0000A11E",
        "dhcp rx status=2001 len=0252 isr=0005 op=02 xid=12345678 yiaddr=0A00020F siaddr=0A000202 "
        "options=350102 36040A000202 0104FFFFFF00 03040A000202 06040A000203 330400015180 FF",
        "capr 02E4 cbr=02F4 cr=0D irqs=6",
        "done",
    ]
    frames = [frame for _, frame in read_pcap(str(capture))]
    assert [len(frame) for frame in frames] == [42, 64, 74, 74, 286, 590]


def test_e1000_guest_talks_to_the_user_mode_network(tmp_path, capsys, floppy_from):
    """e1000.asm: PCI scan for 8086:100E, CTRL.RST, the MAC and checksum through
    EERD, the PHY through MDIC, STATUS through IOADDR/IODATA, both rings, then ARP
    (a legacy descriptor), an ICMP echo whose IP and ICMP checksums the card inserts
    (context and data descriptors, IXSM and TXSM) and a DHCPDISCOVER, each reply
    taken from the receive ring on the card's IRQ.  QEMU 7.2 (`-netdev user
    -device e1000`) prints the same lines but for the BARs (FEBC0000 and C001:
    SeaBIOS's placement), BMSR 794D (its auto-negotiation is not complete until a
    driver restarts it; here it is from reset), "io status=00000000" (QEMU's I/O
    BAR is a stub) and irqs=4 (slirp answers within the transmit, so TXDW and RXT0
    share interrupts; here the network answers 100 us later).  Its filter-dump
    capture holds the same six frames, byte for byte, checksums included, as the
    `pcap` written here."""
    capture = tmp_path / "guest.pcap"
    lines = debugcon_lines(tmp_path, capsys, floppy_from, "devices/e1000.bin",
                           "--set", "nic.plugin=e1000", "--set", f"nic.pcap={capture}")
    assert lines == [
        "e1000: start",
        "pci e1000 03.00 class=02000003 sub=11001AF4 bar0=FEA00000 bar1=0000C101 irq=0B",
        "reset ctrl=00000000 status=80080783",
        "eeprom mac=525400123456 sum=BABA",
        "phy id=01410C20 bmsr=796D",
        "io status=80080783",
        "arp tx dd=01 tdh=0001",
        "arp rx status=07 len=0044 icr=00000083 op=0002 sha=52550A000202 spa=0A000202",
        "icmp tx dd=01 tdh=0003",
        "icmp rx status=07 len=004E icr=00000083 ttl=FF src=0A000202 type=00 id=1234 seq=0001 data=same",
        "dhcp tx dd=01 tdh=0004",
        "dhcp rx status=07 len=0252 icr=00000083 op=02 xid=12345678 yiaddr=0A00020F siaddr=0A000202 "
        "options=350102 36040A000202 0104FFFFFF00 03040A000202 06040A000203 330400015180 FF",
        "end rdh=0003 rdt=0002 gprc=00000003 gptc=00000003 gorc=000002E4 gotc=0000019E irqs=6",
        "done",
    ]
    frames = [frame for _, frame in read_pcap(str(capture))]
    assert [len(frame) for frame in frames] == [42, 64, 74, 74, 286, 590]
    checksum_fields = frames[2][24:26] + frames[2][36:38]
    assert checksum_fields != bytes(4)                      # the card filled them in


def test_srst_signs_the_absent_device_1_as_pintos_waits_for(tmp_path, capsys, floppy_from):
    """atasrst.asm probes as the Pintos IDE driver does: both devices "present" by
    the register read-back test, then after SRST device 1's Sector Count and LBA
    Low read 1 at once (Pintos polls for that 3000 times, 10 ms apart: 30 s of a
    Pintos boot when they kept the 55h/AAh written before the reset).  QEMU 7.2
    prints the same but e=00 for device 1 (it reads 0 from an absent device's
    error register; Bochs and this model answer from the shared register file)."""
    disk = tmp_path / "hd.img"
    disk.write_bytes(bytes(HD_SECTORS * SECTOR))
    assert debugcon_lines(tmp_path, capsys, floppy_from, "devices/atasrst.bin",
                          "--hda", str(disk)) == [
        "present 0=1 1=1",
        "dev0 01 01 00 00 e=01 s=50",
        "dev1 01 01 FF FF e=01 s=00 polls=0000",
    ]


def test_a_uart_interrupt_pulse_with_interrupts_off_ends_as_spurious_irq7(tmp_path, capsys,
                                                                          floppy_from):
    """uartpulse.asm: with IF=0, IER=02h raises IRQ4 (THR empty) and IER=00h drops it
    before any INTA; after STI the 8259A answers with IR7 and sets no ISR bit (the
    datasheet's "DEFAULT IR7", as Bochs).  NuttX's 16550 driver does this while it
    prints its banner, and NuttX panics on the unexpected IRQ 7 here as on a PC;
    QEMU 7.2 keeps the edge request and delivers IRQ4 (V=24 ISR=10)."""
    assert debugcon_lines(tmp_path, capsys, floppy_from, "devices/uartpulse.bin") == ["V=27 ISR=00"]


def test_chain4_writes_wrap_at_64_kib_per_plane(tmp_path, capsys, floppy_from):
    """display/chain4wrap.asm: mode 13h with GR06 set to the 128 KiB window; chain-4
    puts byte N in plane N & 3 at offset N & ~3 (16 bits), so B000:0000 is the byte of
    A000:0000, as on a VGA with 64 KiB planes (Bochs).  NuttX's 320x240 chained
    mode draws past 64 KiB and wraps so; QEMU packs chained bytes linearly
    (A0000=11)."""
    assert debugcon_lines(tmp_path, capsys, floppy_from, "display/chain4wrap.bin") == ["A0000=22"]


def test_sti_hlt_takes_a_pending_interrupt_at_once(tmp_path, capsys, floppy_from):
    """stihlt.asm: IRQ0 pending while interrupts are off, then STI; HLT.  The
    interrupt is taken right after the HLT, as on the chip and in QEMU; before,
    the machine let time skip to the PIT's next output change, where the IRQ0
    line fell before it was acknowledged (a spurious IRQ7 instead, ticks=00), and
    Pintos' idle loop left each IDE interrupt waiting for the next timer tick."""
    assert debugcon_lines(tmp_path, capsys, floppy_from, "devices/stihlt.bin") == [
        "irq0 pending", "ticks=01 counter FFFB -> FFFA"]


def test_the_time_stamp_counter_counts_on_through_a_reset(tmp_path, capsys, floppy_from):
    """tscreset.asm waits 20 timer ticks in HLT, reads the TSC, resets the machine
    through the keyboard controller and reads it again: larger, as in QEMU 7.2
    and Bochs 2.7.  Before, a reset set the TSC to the instruction count, without
    the idle time HLT had skipped: it went back."""
    assert debugcon_lines(tmp_path, capsys, floppy_from, "devices/tscreset.bin") == [
        "tsc: kept counting"]


def test_enabling_the_local_apic_keeps_the_8259a_interrupts(tmp_path, capsys, floppy_from):
    """apicwire.asm sets the local APIC's SVR enable bit without programming LINT0,
    as the Bochs BIOS's rombios32 does (it then waited for ever at "Press F12 for
    boot menu"), and waits in STI; HLT for three IRQ0 ticks: LINT0 resets to ExtINT
    on the bootstrap processor, as QEMU's does."""
    assert debugcon_lines(tmp_path, capsys, floppy_from, "devices/apicwire.bin",
                          "--timeout", "60") == ["lint0=00000700", "svr=000001FF", "ticks=03"]


# ---------------------------------------------------------------- CMOS/RTC and COM1
RTC_PERIOD_NS = 1_000_000_000 / 1024        # status A rate 6
SERIAL_CHARACTER_NS = 10 * 1_000_000_000 / 115200   # start, 8 data, stop bits at divisor 1


def test_serial_bytes_leave_at_once_by_default(tmp_path, floppy_from):
    """pc.yaml's UARTs transmit as QEMU's do (tx_timing: instant): the guest's
    polled bytes leave a few instructions apart, not one character time apart."""
    serial = tmp_path / "com1.txt"
    timeline = Timeline()
    _, reason = boot(tmp_path, floppy_from, "devices/rtcserial.bin", timeline,
                     (f"com1.output=file:{serial}",))
    assert reason == "halted" and serial.read_bytes() == b"hello from COM1\r\n"
    times = [time for time, _ in timeline.serial_sent]
    assert len(times) == 17 and times[-1] - times[0] < SERIAL_CHARACTER_NS


def test_rtc_and_serial_guest(tmp_path, floppy_from):
    serial = tmp_path / "com1.txt"
    timeline = Timeline()
    _, reason = boot(tmp_path, floppy_from, "devices/rtcserial.bin", timeline,
                     (f"com1.output=file:{serial}", "com1.tx_timing=line"))
    assert reason == "halted"
    assert timeline.texts() == [
        "rtcserial: start",
        "serial scratch=A5 loopback=5A msr=D0 sent",   # RTS->CTS, OUT1->RI, OUT2->DCD
        "rtc bcd 2026-01-01 00:00:00 b=02",            # the BIOS leaves BCD, 24 hours
        "rtc binary 2026-01-01 00:00:00",
        "rtc periodic start",
        "rtc periodic ticks=512",
        "rtc after 2027-01-01 00:00:00",               # set to 2026-12-31 23:59:59
        "rtc 12h hours=0C",                            # 12 AM
        "done",
    ]
    elapsed = timeline.time_of("rtc periodic ticks") - timeline.time_of("rtc periodic start")
    assert abs(elapsed - 512 * RTC_PERIOD_NS) < RTC_PERIOD_NS

    hello = b"hello from COM1\r\n"
    assert serial.read_bytes() == hello
    assert bytes(value for _, value in timeline.serial_sent) == hello
    times = [time for time, _ in timeline.serial_sent]
    for earlier, later in zip(times, times[1:]):      # back to back at 115200 baud
        assert later - earlier == pytest.approx(SERIAL_CHARACTER_NS, rel=0.01)


# ---------------------------------------------------------------- LPT1 and int 17h
PARALLEL_LINES = [
    "parallel: start",
    "bda lpt=0378 0000 0000 count=1 timeout=14",
    # QEMU + SeaBIOS give AH=91h first: SeaBIOS passes on QEMU's reset bit 0 (EPP
    # time-out) as the time-out flag, where the IBM BIOS masks bits 0-2
    "int17 status ah=90 cf=0 init ah=90 cf=0",
    "int17 print ah=50 any=50",                       # acknowledged, selected
    "int17 refused ah=02 cf=1 ah=00 cf=1 ah=03 cf=1",  # printers 1 and 3, function 03h
    "data=5A control=CC input data=FF control=EC status=D8",
    "strobe status 58 18 D8",                         # busy; busy, ACK# low; ready
    "deselected status D8 D8 D8 init held status D8 D8 D8",
    "strobe twice status 58 18 D8",
    # QEMU's 8259 keeps an edge request in IRR after the line falls (irr=80); ours
    # drops it, as Bochs does (plugins/chipset/i8259.py)
    "irq7 masked irr=80 status=58 irr=00",
    "irq7 count=01 status=58 isr=80",
    "irq7 disabled count=01 irr=00",
    "done",
]
#: the guest's printer output; the lines above were checked against QEMU 7.2 with
#: SeaBIOS (-parallel file:), which printed the same bytes
PRINTED = b"via int 17h\r\nvia ports\r\nEIQN"


def test_parallel_guest(tmp_path, floppy_from):
    printer = tmp_path / "lpt1.txt"
    timeline = Timeline()
    _, reason = boot(tmp_path, floppy_from, "devices/parallel.bin", timeline,
                     (f"lpt1.output=file:{printer}",))
    assert reason == "halted"
    assert timeline.texts() == PARALLEL_LINES
    assert printer.read_bytes() == PRINTED
    assert timeline.printed == [("lpt1", value) for value in PRINTED]


def test_parallel_option_sends_the_printer_output_to_a_file(tmp_path, capsys, floppy_from):
    printer, log = tmp_path / "printer.txt", tmp_path / "e9.txt"
    status, out, err = run_cli(capsys, "--fda", floppy_from(tmp_path, "devices/parallel.bin"),
                               "--parallel", f"file:{printer}", "--debugcon", f"file:{log}")
    assert status == 0, out + err
    assert read_text(str(log)).splitlines() == PARALLEL_LINES
    assert printer.read_bytes() == PRINTED


def test_parallel_option_needs_the_port(tmp_path, capsys, floppy_from):
    status, _, err = run_cli(capsys, "--fda", floppy_from(tmp_path, "devices/parallel.bin"),
                             "--set", "lpt1=null", "--parallel", "stdio")
    assert status == 2
    assert err.strip().splitlines() == ["machine: error: --parallel: the profile has no lpt1 component"]


def test_parallel_guest_without_the_port(tmp_path, floppy_from):
    """A profile without LPT1: the BDA and the equipment word count no printer, and
    int 17h refuses printer 0 (CF=1, AH unchanged, as SeaBIOS)."""
    timeline = Timeline()
    _, reason = boot(tmp_path, floppy_from, "devices/parallel.bin", timeline, ("lpt1=null",))
    assert reason == "halted"
    assert timeline.texts()[:4] == [
        "parallel: start",
        "bda lpt=0000 0000 0000 count=0 timeout=00",
        "int17 status ah=02 cf=1 init ah=01 cf=1",
        "int17 print: CF set",
    ]
    assert timeline.printed == []
