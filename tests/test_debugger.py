"""The debugger: the built-in monitor on a protected-mode kernel with paging (its
tables decoded as the kernel built them, tests/guests/pm/kernel.asm), and the gdb
remote stub driven by the real gdb in batch mode: breakpoints, stepping, a
watchpoint on a C variable of a kernel with debug info (tests/guests/debug), and
reverse execution that lands on exactly the state of the forward run."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from requirements import STRICT, require_nasm

from test_cpu_protected import FLOPPY_144, KERNEL_LBA, kernel_floppy

MACHINE = os.path.join(os.path.dirname(sys.executable), "machine")
GDB = shutil.which("gdb")
DEBUG_KERNEL = os.path.join(os.path.dirname(__file__), "guests", "debug", "kernel_debug.elf")
needs_gdb = pytest.mark.skipif(GDB is None and not (os.environ.get("CI") or STRICT),
                               reason="gdb is not installed (apt-get install gdb)")


def monitor(image: str, commands: str, *extra: str) -> str:
    result = subprocess.run([MACHINE, "debug", "pc.yaml", "--fda", image, "--set", "cpu.model=pentium",
                             "--headless", "--quiet", *extra], input=commands.encode(),
                            capture_output=True, timeout=300)
    return result.stdout.decode()


def test_monitor_decodes_the_tables_the_kernel_built(tmp_path):
    out = monitor(kernel_floppy(tmp_path), "break int 0x80\nc\ninfo gdt\ninfo idt\ninfo tab\n"
                  "page 0xd0000000\ninfo tss\nr\nq\n")
    assert "stopped before the first instruction" in out
    assert "int 0x80 (software)" in out
    # GDT: kernel.asm's table (flat 4 GiB segments at DPL 0 and 3, two TSSs, a call gate)
    for line in ("0008: code 32-bit, execute/read, accessed, base 0x00000000, limit 0xffffffff, DPL 0",
                 "0010: data 32-bit, read/write, accessed, base 0x00000000, limit 0xffffffff, DPL 0",
                 "0018: code 32-bit, execute/read, accessed, base 0x00000000, limit 0xffffffff, DPL 3",
                 "0020: data 32-bit, read/write, accessed, base 0x00000000, limit 0xffffffff, DPL 3",
                 "0028: TSS32 (busy)", "0030: TSS32 (avail)", "0038: call gate32 -> 0008:"):
        assert line in out, line
    # IDT: #GP and #PF interrupt gates at DPL 0, int 0x80 a DPL-3 trap gate; the
    # machine stopped on the handler's first instruction
    gate_80 = re.search(r"80: trap gate32 -> 0008:([0-9a-f]{8}), DPL 3", out)
    assert gate_80 and re.search(r"0d: interrupt gate32 -> 0008:c01[0-9a-f]{5}, DPL 0", out)
    assert f"0008:{gate_80.group(1)} " in out
    # paging: the loader's identity map and 0xC0000000 alias, the #PF handler's page
    assert re.search(r"^00000000-003fefff -> 00000000-003fefff  P W U", out, re.M)
    assert re.search(r"^c0000000-c03fefff -> 00000000-003fefff  P W U", out, re.M)
    assert re.search(r"^d0000000-d0000fff -> 00300000-00300fff  P W -", out, re.M)
    assert "PDE at 0x00080d00 = 0x00082023" in out           # PAGE_DIR + 0xD00, FAULT_TABLE
    assert "PTE at 0x00082000 = 0x00300063" in out and "physical 0x00300000" in out
    assert re.search(r"TR 0x0028 .* type TSS32 \(busy\)", out)
    assert "ss0     0x0010" in out                          # KERNEL_DS, set by the kernel


def test_monitor_steps_and_breaks_on_an_address(tmp_path):
    out = monitor(kernel_floppy(tmp_path), "b 0xc0100000\nc\ns 3\nr\nx /2w 0xc0100000\nu 0xc0100000 1\nq\n")
    assert "breakpoint at linear 0xc0100000" in out
    stops = re.findall(r"\((\d+) instructions\) 0008:(c01000[0-9a-f]{2})", out)
    assert stops[-2][1] == "c0100000" and int(stops[-1][0]) == int(stops[-2][0]) + 3
    assert "c0100000: 1048e0bc" in out                      # mov esp, imm32 (bc e0 48 10 c0)
    assert "mov esp, 0xc01048e0" in out


def debug_floppy(folder) -> str:
    image = bytearray(FLOPPY_144)
    with open(os.path.join(os.path.dirname(__file__), "guests", "pm", "loader.bin"), "rb") as handle:
        loader = handle.read()
    with open(DEBUG_KERNEL, "rb") as handle:
        kernel = handle.read()
    image[:len(loader)] = loader
    image[KERNEL_LBA * 512:KERNEL_LBA * 512 + len(kernel)] = kernel
    path = os.path.join(str(folder), "debug.img")
    with open(path, "wb") as handle:
        handle.write(image)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    """The port is in LISTEN state (read from /proc, without connecting: a
    connection that closes is a gdb that left, and the machine would run on)."""
    with open("/proc/net/tcp") as handle:
        return any(fields[1].endswith(f":{port:04X}") and fields[3] == "0A"
                   for fields in (line.split() for line in handle.readlines()[1:]))


def run_gdb(tmp_path, script: str, floppy: str = "", extra: tuple = (), symbols: str = DEBUG_KERNEL) -> str:
    """gdb's output for `script`, run against a machine that waits for it (the debug
    kernel unless `floppy` is given; `symbols` is gdb's file, or "" for none)."""
    port = free_port()
    machine = subprocess.Popen([MACHINE, "run", "pc.yaml", "--fda", floppy or debug_floppy(tmp_path),
                                "--headless", "--quiet", "--gdb", f"tcp:127.0.0.1:{port}", "--gdb-wait",
                                *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not listening(port):
        time.sleep(0.2)
    commands = tmp_path / "commands.gdb"
    load = f"file {symbols}\n" if symbols else ""
    commands.write_text(load + f"target remote 127.0.0.1:{port}\n" + script + "kill\n")
    try:
        result = subprocess.run([GDB, "-batch", "-nx", "-x", str(commands)], capture_output=True, timeout=300)
    finally:
        machine.terminate()
        machine.wait(timeout=60)
    return result.stdout.decode() + result.stderr.decode()


STATE = 'printf "STATE {0} eip=%x esp=%x eax=%x counter=%d\\n", $eip, $esp, $eax, counter\nmonitor r\n'


@needs_gdb
def test_gdb_watchpoint_hits_at_the_line_and_reverse_execution_returns_exactly(tmp_path):
    out = run_gdb(tmp_path, "watch counter\ncontinue\ncontinue\n" + STATE.format("hit2")
                  + "stepi\n" + STATE.format("after-step")
                  + "reverse-stepi\n" + STATE.format("back-one")
                  + "continue\n" + STATE.format("hit3")
                  + "reverse-continue\n" + STATE.format("reverse-hit"))
    # the loader clears .bss (counter 0), then kmain's first write makes it 3
    assert "New value = 3" in out and "kmain () at " in out and "kmain.c:16" in out
    states = dict(re.findall(r"STATE (\S+) (.*)", out))
    icounts = re.findall(r"icount=(\d+)", out)
    assert len(states) == 5 and len(icounts) == 5, out[-3000:]
    assert "counter=3" in states["hit2"] and "counter=6" in states["hit3"]
    # one instruction back from after the step is the hit itself; so is the
    # previous hit seen backwards from the next one
    assert states["back-one"] == states["hit2"] and icounts[2] == icounts[0]
    assert int(icounts[1]) == int(icounts[0]) + 1
    assert states["reverse-hit"] == states["hit2"] and icounts[4] == icounts[0]


@needs_gdb
def test_gdb_breakpoint_registers_memory_and_monitor(tmp_path):
    out = run_gdb(tmp_path, "break kmain\ncontinue\ninfo registers eip cs cr0\nx/2i $pc\n"
                  "monitor info gdt\nset var counter = 41\nprint counter\n"
                  "maintenance packet qqemu.sstepbits\nmaintenance packet Qqemu.sstep=0x3\n"
                  "monitor step-interrupts\n")
    assert re.search(r"Breakpoint 1, kmain \(\) at .*kmain\.c:13", out), out[-2000:]
    assert "ENABLE=1,NOIRQ=2,NOTIMER=4" in out and "steps go over hardware interrupts" in out
    assert re.search(r"cs\s+0x8\s", out) and re.search(r"cr0\s+0x80000011", out)
    assert "0008: code 32-bit, execute/read" in out
    assert "$1 = 41" in out


@needs_gdb
@pytest.mark.parametrize("tier2", ["default", pytest.param("forced", marks=pytest.mark.slow)])   # 30 s
def test_gdb_breakpoint_inside_a_block_stops_before_its_instruction_each_time(tmp_path, tier2):
    """A breakpoint on kmain's `debug_out` call, in the middle of the loop's block
    (after the store to `counter`): the CPU checks it in the decoded code (no
    stepping), stops before the instruction at each turn, and going backwards
    finds the same stop at the same instruction count; with tier 2 from the first
    run of a block too."""
    extra = ("--set", "cpu.tier2_threshold=0") if tier2 == "forced" else ()
    script = "break kmain.c:16\n" + "".join(f"continue\n{STATE.format(f'hit{n}')}" for n in (1, 2, 3))
    out = run_gdb(tmp_path, script + "reverse-continue\n" + STATE.format("back"), extra=extra)
    states = dict(re.findall(r"STATE (\S+) (.*)", out))
    icounts = [int(count) for count in re.findall(r"icount=(\d+)", out)]
    assert len(states) == 4 and len(icounts) == 4, out[-3000:]
    assert [re.search(r"counter=(\d+)", states[f"hit{n}"]).group(1) for n in (1, 2, 3)] == ["3", "6", "9"]
    eips = {re.search(r"eip=(\w+)", state).group(1) for state in states.values()}
    assert len(eips) == 1 and icounts[0] < icounts[1] < icounts[2]
    assert states["back"] == states["hit2"] and icounts[3] == icounts[1]


@pytest.mark.heavy(15)
@pytest.mark.parametrize("threshold", [None, 0])
def test_address_breakpoints_stop_where_the_stepping_hook_first_sees_the_address(tmp_path, threshold):
    """An address breakpoint costs no stepping (the CPU is not traced: only the
    instructions at its page offset check it) and stops at exactly the count at
    which a per-instruction hook first sees the address, with EIP there; with
    tier 2 from the first run of a block as well; a physical breakpoint where the
    address is mapped stops there too."""
    from pcmachine.debugger.control import Debugger
    from pcmachine.hookspecs import hookimpl
    from pcmachine.machine import Machine
    from pcmachine.profile import Profile

    target = 0xC0100000                     # the paged kernel's entry (test_cpu_protected)
    image = kernel_floppy(tmp_path)
    overrides = [] if threshold is None else [f"cpu.tier2_threshold={threshold}"]

    class FirstReach:
        icount = None

        @hookimpl
        def instruction(self, machine, cs, eip, linear, cpu):
            if linear == target and self.icount is None:
                self.icount = machine.clock.icount

    def run(machine, done):
        while not done():
            assert machine.clock.icount < 50_000_000
            reason = machine.run_slice()
            if reason is not None:
                return reason
        return None

    reference = Machine.from_profile(Profile.load("pc.yaml", overrides, {"fda": image}))
    try:
        reach = FirstReach()
        reference.add_plugin(reach, name="first-reach")
        run(reference, lambda: reach.icount is not None)
    finally:
        reference.close()
    machine = Machine.from_profile(Profile.load("pc.yaml", overrides, {"fda": image}))
    try:
        debugger = Debugger(machine, history=False)
        debugger.add_breakpoint(target)
        cpu = machine.cpu
        assert cpu.break_offsets == {target & 0xFFF} and not cpu.traced
        assert run(machine, lambda: False) == "debug"
        assert machine.clock.icount == reach.icount
        assert cpu.seg_base[1] + cpu.eip == target
        debugger.remove_breakpoint(target)
        assert cpu.break_offsets == frozenset() and cpu.break_check is None
    finally:
        machine.close()
    machine = Machine.from_profile(Profile.load("pc.yaml", overrides, {"fda": image}))
    try:
        debugger = Debugger(machine, history=False)
        debugger.add_breakpoint(0x100000, physical=True)    # where the kernel's entry is mapped
        assert run(machine, lambda: False) == "debug"
        assert machine.clock.icount == reach.icount
        assert "breakpoint at physical 0x00100000" in debugger.stop_message
    finally:
        machine.close()


def watch_stops(image: str, overrides: list, kind: str, stepping: bool) -> list:
    """Every stop of tests/guests/debug/watchops.asm under watchpoints of `kind` (r,
    w, a) on its data and its stack, continued to the end: (count, CS:EIP,
    registers, message)."""
    from pcmachine.debugger.control import Debugger
    from pcmachine.hookspecs import hookimpl
    from pcmachine.machine import Machine
    from pcmachine.profile import Profile

    class Stepper:
        @hookimpl
        def instruction(self, machine, cs, eip, linear, cpu):
            pass

    machine = Machine.from_profile(Profile.load("pc.yaml", ["cpu.model=pentium", *overrides], {"fda": image}))
    try:
        if stepping:
            machine.add_plugin(Stepper(), name="stepper")
        debugger = Debugger(machine, history=False)
        debugger.add_watchpoint(0x500, 20, kind)
        debugger.add_watchpoint(0x7000 - 48, 48, kind)
        cpu = machine.cpu
        assert cpu.traced == stepping
        stops = []
        while True:
            assert machine.clock.icount < 50_000_000
            reason = machine.run_slice()
            if reason == "debug":
                stops.append((machine.clock.icount, cpu.get_reg("cs"), cpu.eip,
                              tuple(cpu.get_reg(name) for name in ("eax", "ecx", "edx", "ebx", "esp", "ebp",
                                                                   "esi", "edi", "eflags")),
                              debugger.stop_message))
                debugger._resume_icount = machine.clock.icount
                machine._stop_reason = None
            elif reason is not None:
                assert reason == "halted" and machine.bus.read(0x500, 4) != 0
                return stops
    finally:
        machine.close()


@pytest.mark.parametrize("threshold", [None, 0])
@pytest.mark.parametrize("kind", ["w", "r", "a"])
def test_watchpoints_stop_right_after_the_access_without_stepping(tmp_path, kind, threshold):
    """Watchpoints for writes, reads and both on the data and stack of
    tests/guests/debug/watchops.asm (loads, stores, read-modify-writes, string
    moves, pushes, pops, calls, INT and IRET, x87 loads and stores; real mode, then
    paging): the CPU does not step, yet every stop comes at the same count, at the
    same EIP and with the same registers as in a run that steps every instruction
    (an `instruction` hook), right after the accessing instruction; with tier 2
    from the first run of a block too.  It fails when an instruction cannot run
    again from its start after one of its accesses (XCHG setting its register
    before its store, say)."""
    if not os.path.exists(WATCH_OPS):
        pytest.skip("tests/guests/debug/watchops.bin is missing (tests/guests/debug/build.sh)")
    image = boot_sector_floppy(tmp_path, WATCH_OPS)
    overrides = [] if threshold is None else [f"cpu.tier2_threshold={threshold}"]
    stepped = watch_stops(image, overrides, kind, stepping=True)
    assert len(stepped) > 100
    verbs = {"w": {"write"}, "r": {"read"}, "a": {"read", "write"}}[kind]
    assert {re.search(r"\((\w+) of", stop[4]).group(1) for stop in stepped} == verbs
    assert {0, 8} <= {stop[1] for stop in stepped}             # real mode, then protected
    assert watch_stops(image, overrides, kind, stepping=False) == stepped


@needs_gdb
def test_gdb_reads_and_writes_the_x87_registers(tmp_path):
    out = run_gdb(tmp_path, "break kmain\ncontinue\ninfo registers fctrl ftag\n"
                  "set $fctrl = 0x27f\nset $st0 = 2.5\nprint $st0\ninfo registers fctrl\n"
                  "monitor r\n")
    # the BIOS left the x87 initialised: control word 037Fh, every register empty
    assert re.search(r"fctrl\s+0x37f", out) and re.search(r"ftag\s+0xffff", out), out[-2000:]
    assert "$1 = 2.5" in out and re.search(r"fctrl\s+0x27f", out)


@needs_gdb
def test_gdb_reads_and_writes_the_sse_registers_of_a_pentium_iii(tmp_path):
    """gdb's org.gnu.gdb.i386.sse feature: xmm0-7 as its vec128 union, mxcsr with its flags."""
    out = run_gdb(tmp_path, "break kmain\ncontinue\ninfo registers mxcsr\n"
                  "set $xmm3.v4_int32[2] = 0x12345678\nset $mxcsr = 0x1f00\n"
                  "stepi\np/x $xmm3.v4_int32\np/x $xmm2.uint128\ninfo registers mxcsr\n",
                  extra=("--set", "cpu.model=pentium3"))
    assert re.search(r"mxcsr\s+0x1f80\s+\[ IM DM ZM OM UM PM \]", out), out[-2000:]   # the reset value
    assert "$1 = {0x0, 0x0, 0x12345678, 0x0}" in out and "$2 = 0x0" in out, out[-2000:]
    assert re.search(r"mxcsr\s+0x1f00\s+\[ DM ZM OM UM PM \]", out), out[-2000:]
    no_sse = run_gdb(tmp_path, "info registers mxcsr\n")                        # the Pentium Pro
    assert "Invalid register" in no_sse, no_sse[-2000:]


def test_going_backwards_puts_the_disk_back_and_forwards_writes_it_again(tmp_path):
    """Reverse execution over ATA writes (tests/guests/disk/ata_stream.asm rewrites
    its sectors generation after generation): the image file holds at the earlier
    count exactly what it held when the forward run passed there, and running on
    writes the same sectors again."""
    from pcmachine.debugger.control import Debugger
    from pcmachine.machine import Machine
    from pcmachine.profile import Profile
    from test_disk_safety import stream_image

    image = stream_image(tmp_path)
    profile = Profile.load("pc.yaml", [], {"hda": image})
    machine = Machine.from_profile(profile)
    try:
        debugger = Debugger(machine, interval=100_000)

        def run_to(count):
            while machine.clock.icount < count:
                assert machine.run_slice(count) in (None, "instruction-limit")

        def contents():
            with open(image, "rb") as handle:
                return handle.read()

        def registers():
            return list(machine.cpu.regs), machine.cpu.eip

        run_to(300_000)
        earlier = contents(), registers()
        run_to(700_000)
        later = contents(), registers()
        assert later[0] != earlier[0]             # the guest wrote in between
        assert debugger.reverse_step(700_000 - 300_000)
        assert machine.clock.icount == 300_000
        assert (contents(), registers()) == earlier
        run_to(700_000)
        assert (contents(), registers()) == later
    finally:
        machine.close()


IRQ_LOOP = os.path.join(os.path.dirname(__file__), "guests", "debug", "irqloop.bin")
MAGIC_BREAK = os.path.join(os.path.dirname(__file__), "guests", "debug", "magicbreak.bin")
WATCH_OPS = os.path.join(os.path.dirname(__file__), "guests", "debug", "watchops.bin")


def boot_sector_floppy(tmp_path, path: str) -> str:
    image = tmp_path / (os.path.basename(path)[:-4] + ".img")
    with open(path, "rb") as guest:
        image.write_bytes(guest.read().ljust(FLOPPY_144, b"\0"))
    return str(image)


def irq_loop_floppy(tmp_path) -> str:
    return boot_sector_floppy(tmp_path, IRQ_LOOP)


def test_magic_breakpoints_stop_after_xchg_bx_bx_in_real_and_protected_mode(tmp_path):
    """Bochs' `magic_break: enabled=1`: tests/guests/debug/magicbreak.asm stops the
    monitor after `xchg bx, bx` in real mode (87 DB) and in 32-bit code (66 87 DB),
    not after xchg cx, cx or xchg ebx, ebx; the exchange leaves BX as it was."""
    out = monitor(boot_sector_floppy(tmp_path, MAGIC_BREAK), "c\nr\nprint-stack 2\nc\nr\nprint-stack 1\nc\nq\n",
                  "--magic-break")
    stops = re.findall(r"magic breakpoint \(xchg bx, bx\); next (\S+)\n\(\d+ instructions\) \S+ \(\w+\) \w+ +(.*)", out)
    assert stops == [("0000:00007c14", "mov ax, 0x1111"), ("0008:00007c36", "mov eax, 0x2222")], out
    assert out.count("ebx=00001234") == 2 and "halted" in out
    # Bochs' print-stack at SS:SP = 0000:7C00 (the boot sector's first bytes, FA 31 C0 8E):
    # words in real mode, dwords with a 32-bit stack
    assert "Stack address size 2\n | STACK 0x00007c00 [0x31fa]\n | STACK 0x00007c02 [0x8ec0]\n" in out
    assert "Stack address size 4\n | STACK 0x00007c00 [0x8ec031fa]\n" in out


def test_magic_breakpoints_are_a_monitor_breakpoint_and_off_by_default(tmp_path):
    image = boot_sector_floppy(tmp_path, MAGIC_BREAK)
    assert "magic breakpoint" not in monitor(image, "c\nq\n")
    out = monitor(image, "break magic\nbl\nc\nd 1\nc\nq\n")
    assert "1: magic" in out and out.count("magic breakpoint (xchg bx, bx); next") == 1 and "halted" in out


def test_a_magic_breakpoint_needs_a_debugger(tmp_path):
    result = subprocess.run([MACHINE, "run", "pc.yaml", "--fda", boot_sector_floppy(tmp_path, MAGIC_BREAK),
                             "--headless", "--magic-break"], capture_output=True, timeout=60)
    err = result.stderr.decode()
    assert result.returncode == 2 and "--magic-break stops into a debugger" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("mode", ["into", "over"])
def test_single_steps_go_into_or_over_hardware_interrupts(tmp_path, mode):
    """tests/guests/debug/irqloop.asm takes IRQ 0 every few hundred instructions
    while it spins at 0000:7C40: 600 single steps from there stop in its handler
    (0000:7C50) at least once by default; with `step-interrupts over` every stop is
    in the loop, yet the handler ran (its counter at 0000:0600 moved) and the steps
    took more instructions than 600."""
    setting = "step-interrupts over\n" if mode == "over" else ""
    out = monitor(irq_loop_floppy(tmp_path), setting + "b 0x7c40\nc\nd all\n" + "s\n" * 600 + "xp /1h 0x600\nq\n")
    stops = [(int(count), int(ip, 16)) for count, ip in
             re.findall(r"\((\d+) instructions\) 0000:([0-9a-f]{4}) ", out)]
    after = [ip for _, ip in stops[1:]]
    assert len(after) == 600, out[-2000:]
    ticks = int(re.search(r"00000600: ([0-9a-f]{4})", out).group(1), 16)
    in_loop = {0x7C40, 0x7C41}
    if mode == "into":
        assert set(after) - in_loop, (set(after), ticks)
        assert stops[-1][0] - stops[0][0] == 600
    else:
        assert set(after) <= in_loop and ticks >= 1
        assert stops[-1][0] - stops[0][0] > 600


def nasm_symbols(tmp_path, source: str, include: str) -> dict:
    """Label -> address of a flat-binary guest, from nasm's map file."""
    require_nasm()
    wrapper = tmp_path / "wrapper.asm"
    wrapper.write_text(f'[map symbols {tmp_path / "guest.map"}]\n%include "{source}"\n')
    subprocess.run(["nasm", "-f", "bin", "-I", include + "/", "-o", str(tmp_path / "guest.bin"),
                    str(wrapper)], check=True, capture_output=True)
    text = (tmp_path / "guest.map").read_text()
    return {name: int(value, 16) for value, name in
            re.findall(r"^\s*([0-9A-F]+)\s+(?:[0-9A-F]+\s+)?([A-Za-z_.][\w.@]*)$", text, re.M)}


@needs_gdb
def test_gdb_shows_each_processor_as_a_thread(tmp_path, floppy_from):
    """Two CPUs (tests/guests/devices/smp.asm): the AP stops at a breakpoint in its
    own code as thread 2, `info threads` lists both, each thread has its own EIP."""
    guests = os.path.join(os.path.dirname(__file__), "guests", "devices")
    labels = nasm_symbols(tmp_path, os.path.join(guests, "smp.asm"), guests)
    ap_main = labels["ap_main"]
    out = run_gdb(tmp_path, f"break *{ap_main:#x}\ncontinue\ninfo threads\n"
                            "thread 1\nprintf \"T1 eip=%x\\n\", $eip\n"
                            "thread 2\nprintf \"T2 eip=%x\\n\", $eip\n",
                  floppy=floppy_from(tmp_path, "devices/smp.bin"), extra=("--set", "cpu.count=2"),
                  symbols="")
    assert re.search(r"Thread 2 .*hit Breakpoint 1", out), out[-3000:]
    assert re.search(r"Thread 1 .*CPU#0 \[(running|halted)\]", out), out[-3000:]
    assert re.search(r"\* 2\s+Thread 2 .*CPU#1 \[running\]", out), out[-3000:]
    assert f"T2 eip={ap_main:x}" in out
    bsp_eip = int(re.search(r"T1 eip=([0-9a-f]+)", out).group(1), 16)
    assert bsp_eip != ap_main


def test_history_snapshots_take_a_bounded_share_of_host_time(monkeypatch):
    """With the default interval, a snapshot that costs much against the host time
    of the instructions since the last one pushes the next one further (at most
    HISTORY_SHARE of the time goes to history); an interval given is kept."""
    from pcmachine.debugger import control
    from pcmachine.machine import Machine

    clock = [0.0]
    monkeypatch.setattr(control.time, "perf_counter", lambda: clock[0])
    for interval, expected in ((None, 83_333_333), (1_000_000, 1_000_000)):
        machine = Machine.from_profile("pc.yaml", [], {})
        try:
            debugger = control.Debugger(machine, history=False, interval=interval)
            clock[0] = 0.0
            assert debugger._next_interval(0, 0.0) == debugger.interval     # the first
            clock[0] = 1.25             # 10 M instructions in 1 s, then 0.25 s of snapshot
            assert abs(debugger._next_interval(10_000_000, 1.0) - expected) <= 1
            clock[0] = 2.26             # a cheap one: back to the interval
            assert debugger._next_interval(20_000_000, 2.25) == debugger.interval
        finally:
            machine.close()


def test_ram_copies_share_unchanged_pieces():
    """A RAM copy shares with the previous one every piece whose bytes did not
    change, and all pieces of zeros are one; the bytes held count each shared piece
    once and drop when no copy holds a piece any more; a copy joins back to the
    RAM it was taken from (a size that is not a whole number of pieces too)."""
    from pcmachine.debugger.ramcopies import PIECE, RamCopies

    memory = bytearray(8 * PIECE + 100)
    memory[3 * PIECE + 7] = 1
    copies = RamCopies()
    first = copies.copy(memory, None)
    assert RamCopies.joined(first) == memory
    assert copies.held == 2 * PIECE + 100          # the zeros once, the piece at 3, the tail
    memory[5 * PIECE] = 2
    memory[-1] = 3
    second = copies.copy(memory, first)
    assert RamCopies.joined(second) == memory and RamCopies.joined(first) != memory
    assert second[3] is first[3] and second[0] is first[0]
    assert second[5] is not first[5] and second[8] is not first[8]
    assert copies.held == 3 * PIECE + 200
    copies.release(first)
    assert copies.held == 3 * PIECE + 100          # the old tail is gone
    copies.release(second)
    assert copies.held == 0


def test_history_of_a_large_machine_keeps_more_snapshots_and_goes_back_exactly(tmp_path):
    """A 256 MiB machine (tests/guests/debug/irqloop.asm, counting timer ticks in
    RAM) with a snapshot every 20,000 instructions: history keeps them all (whole
    RAM copies kept four at most of a machine this size), holding little more than
    one RAM's worth, and going back 25,000 instructions gives the RAM and
    registers of a machine run forward to that count."""
    import hashlib

    from pcmachine.debugger.control import MIN_SNAPSHOTS, Debugger
    from pcmachine.machine import Machine
    from pcmachine.profile import Profile

    image = irq_loop_floppy(tmp_path)

    def machine_at(count: int, history: bool):
        machine = Machine.from_profile(Profile.load("pc.yaml", ["ram.size=256M", "cmos.start=2026-01-01T00:00:00"],
                                                   {"fda": image}))
        debugger = Debugger(machine, history=history, interval=20_000) if history else None
        while machine.clock.icount < count:
            assert machine.run_slice(count) in (None, "instruction-limit")
        return machine, debugger

    machine, debugger = machine_at(300_000, True)
    try:
        assert len(debugger.snapshots) > MIN_SNAPSHOTS + 5
        assert debugger.ram_copies.held < (256 << 20) + (8 << 20)
        assert debugger.reverse_step(25_000)
        cpu = machine.cpu
        back = (machine.clock.icount, hashlib.sha256(machine.bus.memory).hexdigest(),
                cpu.describe(), cpu.get_reg("eip"))
    finally:
        machine.close()
    reference, _ = machine_at(275_000, False)
    try:
        cpu = reference.cpu
        assert back == (275_000, hashlib.sha256(reference.bus.memory).hexdigest(),
                        cpu.describe(), cpu.get_reg("eip"))
    finally:
        reference.close()
