"""The P6 model (`pentiumpro`, family 6 model 1): CPUID leaves 0-2 with only the
features that work, CMOVcc, the MSRs (RDMSR/WRMSR: TSC from the deterministic
clock, SYSENTER, MTRRs, machine-check registers of a part with none reported,
performance counters, #GP for the unknown and the read-only), RDPMC, SYSENTER and
SYSEXIT between flat ring-0 and ring-3 segments, CR4 bits of features the model
lacks.  Values from the Intel SDM (vol. 2 CPUID, CMOVcc, SYSENTER/SYSEXIT; vol. 4
MSR tables)."""

from pcmachine.clock import NS_PER_SECOND
from pcmachine.machine import Machine
from pcmachine.plugins.cpu.decoder import decode

from cpu_support import assemble, load_code, make_machine, run_code, run_until_stopped
from test_cpu_models import fault_vector_of

P6 = "pentiumpro"


def regs(machine, *names):
    return tuple(machine.cpu.get_reg(name) for name in names)


def test_cpuid_leaves():
    machine = run_code("xor eax, eax\ncpuid\nmov esi, eax\nmov eax, 1\ncpuid\nmov edi, edx\n"
                       "mov ebp, eax\nmov eax, 2\ncpuid\nhlt", P6)
    highest, features, signature = regs(machine, "esi", "edi", "ebp")
    assert highest == 2 and signature == 0x0619                 # family 6, model 1, stepping 9
    cmov, sep, mtrr, pge, mca, mce, pse, tsc, msr, cx8, pae = (
        1 << b for b in (15, 11, 12, 13, 14, 7, 3, 4, 5, 8, 6))
    assert features == cmov | sep | mtrr | pge | mca | mce | pse | tsc | msr | cx8 | pae
    assert not features & (1 | 1 << 9)                         # no FPU (none fitted), APIC
    assert regs(machine, "eax", "ebx", "ecx", "edx") == (0x03020101, 0, 0, 0x06040A43)


def test_cmov_moves_only_when_the_condition_holds():
    machine = run_code("mov eax, 1\nmov ebx, 2\nmov ecx, 3\ncmp eax, ebx\n"
                       "cmovl eax, ebx\ncmovg ecx, ebx\nmov dx, 0x1234\nmov si, 0x5678\n"
                       "stc\ncmovc dx, si\nhlt", P6)
    assert regs(machine, "eax", "ecx", "dx") == (2, 3, 0x5678)


def test_cmov_reads_its_memory_source_even_when_false():
    """The source operand is fetched whatever the condition: beyond the segment
    limit it faults (#GP in real mode) with the condition false."""
    assert fault_vector_of("xor ax, ax\ncmp ax, ax\ncmovne ax, [0xFFFF]", P6) == 13
    assert fault_vector_of("cmove ax, bx", "pentium") == 6      # a P6 instruction


def test_msrs_read_write_and_reserved_bits():
    machine = run_code(
        "mov ecx, 0x174\nmov eax, 0x10\nxor edx, edx\nwrmsr\n"          # SYSENTER_CS
        "mov ecx, 0x200\nmov eax, 0x12345006\nmov edx, 0xF\nwrmsr\n"    # MTRRphysBase0: WB
        "rdmsr\nmov esi, eax\nmov edi, edx\n"
        "mov ecx, 0x179\nrdmsr\nmov ebp, eax\n"                        # MCG_CAP
        "mov ecx, 0xFE\nrdmsr\nhlt", P6)
    assert regs(machine, "esi", "edi", "ebp", "eax") == (0x12345006, 0xF, 0x105, 0x508)
    assert fault_vector_of("mov ecx, 0x12345\nrdmsr", P6) == 13            # no such MSR
    assert fault_vector_of("mov ecx, 0x179\nxor eax, eax\nxor edx, edx\nwrmsr", P6) == 13  # read-only
    assert fault_vector_of("mov ecx, 0x401\nmov eax, 1\nxor edx, edx\nwrmsr", P6) == 13   # MC0_STATUS: only 0
    assert fault_vector_of("mov ecx, 0x401\nxor eax, eax\nxor edx, edx\nwrmsr", P6) == 0xEEEE
    assert fault_vector_of("mov ecx, 0x200\nmov eax, 0x100\nxor edx, edx\nwrmsr", P6) == 13  # reserved bit 8
    assert fault_vector_of("mov ecx, 0x10\nrdmsr", "80486") == 6


def test_tsc_msr_follows_the_clock_and_takes_writes():
    machine = run_code("mov ecx, 0x10\nmov eax, 1000\nxor edx, edx\nwrmsr\nnop\nnop\nrdtsc\nhlt", P6)
    assert regs(machine, "eax", "edx") == (1003, 0)             # WRMSR, two NOPs, RDTSC


#: A kernel's TSC delay loop (Linux's delay_tsc): wait 20,000 ticks.
TSC_DELAY = """rdtsc
mov ecx, eax
spin: pause
rdtsc
sub eax, ecx
cmp eax, 20000
jb spin
hlt"""


def test_pause_lets_virtual_time_and_the_tsc_pass_together():
    machine = run_code(TSC_DELAY, P6)
    clock, cpu = machine.clock, machine.cpu
    ticks = cpu.pause_ticks
    turns = (machine.clock.icount - 3) // 5                     # turn k reads 5k - 2 (+ skips)
    assert ticks == 100 and turns == -(-20002 // (ticks + 5))  # not 4,001 turns
    assert 20000 <= cpu.get_reg("eax") < 20000 + ticks + 5
    assert clock.now() * clock.ips // NS_PER_SECOND == clock.icount + cpu.tsc_offset
    plain = run_code(TSC_DELAY, P6, pause_ticks=0)
    assert (plain.clock.icount - 3) // 5 == 4001 and plain.cpu.tsc_offset == 0


def test_pause_never_skips_past_a_clock_event():
    machine = make_machine(P6)
    load_code(machine, assemble(TSC_DELAY))
    clock = machine.clock
    fired = []
    deadline = 123_456                                          # ns: inside the loop's 1 ms
    clock.schedule(deadline, lambda: fired.append(clock.now()))
    run_until_stopped(machine)
    assert len(fired) == 1 and deadline <= fired[0] <= deadline + 5 * NS_PER_SECOND // clock.ips
    assert machine.cpu.get_reg("eax") >= 20000


def test_pause_ends_the_turn_with_several_processors():
    """Each processor has its own TSC: one skipping time would leave the others'
    behind, so with several PAUSE skips none.  It ends the processor's turn
    instead when another one can run (a spinner lets the lock's holder run, as
    QEMU's helper_pause lets another CPU run), and ends its block, so that block
    runs and stepping switch at the same count."""
    machine = Machine.from_profile("pc.yaml", ["cpu.count=2"])
    try:
        cpu = machine.cpu
        clock = machine.clock
        load_code(machine, b"\xF3\x90")
        fn, _, _, length, ends = decode(cpu, cpu.eip)[:5]
        assert (fn.__name__, length, ends) == ("pause", 2, True)
        tsc, clock.stop_icount = cpu.tsc_offset, clock.icount + 1000
        fn(cpu.eip)             # the other processor waits for its SIPI: the turn goes on
        assert clock.stop_icount == clock.icount + 1000 and not machine.processors._paused
        machine.processors.cpus[1].halted = False
        fn(cpu.eip)
        assert clock.stop_icount == clock.icount and cpu.tsc_offset == tsc
        assert machine.processors._paused
    finally:
        machine.close()


def test_rdpmc_reads_the_counters():
    machine = run_code("mov ecx, 0xC2\nmov eax, 77\nmov edx, 0xFF\nwrmsr\nmov ecx, 1\nrdpmc\nhlt", P6)
    assert regs(machine, "eax", "edx") == (77, 0xFF)            # 40-bit counters
    assert fault_vector_of("mov ecx, 2\nrdpmc", P6) == 13


def test_cr4_rejects_features_the_model_lacks():
    assert fault_vector_of("mov eax, 0x200\nmov cr4, eax", P6) == 13      # OSFXSR: no FXSAVE
    assert fault_vector_of("mov eax, 0x20\nmov cr4, eax", P6) == 0xEEEE   # PAE
    assert fault_vector_of("mov eax, 0x20\nmov cr4, eax", "pentium") == 13
    assert fault_vector_of("mov eax, 0x80\nmov cr4, eax", P6) == 0xEEEE   # PGE
    assert fault_vector_of("mov eax, 0x80\nmov cr4, eax", "pentium") == 13


SYSENTER_GUEST = """
    cli
    xor ax, ax
    mov ds, ax
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm
bits 32
pm: mov ax, 0x10
    mov ds, ax
    mov ss, ax
    mov esp, 0x7000
    mov ecx, 0x174          ; SYSENTER_CS: 08 code, 10 stack, 1B user code, 23 user stack
    mov eax, 0x08
    xor edx, edx
    wrmsr
    mov ecx, 0x175
    mov eax, 0x6800
    wrmsr
    mov ecx, 0x176
    mov eax, kernel
    wrmsr
    mov ecx, 0x5000         ; SYSEXIT: ESP <- ECX, EIP <- EDX
    mov edx, user
    sysexit
user:
    mov ebx, esp            ; 0x5000, CPL 3
    mov bp, cs
    sysenter
kernel:
    mov esi, esp            ; SYSENTER_ESP
    mov di, cs
    mov ax, ss
    hlt
align 8
gdt: dq 0
    dq 0x00CF9A000000FFFF
    dq 0x00CF92000000FFFF
    dq 0x00CFFA000000FFFF
    dq 0x00CFF2000000FFFF
gdtr: dw gdtr - gdt - 1
    dd gdt
"""


def test_sysexit_to_ring_3_and_sysenter_back():
    machine = run_code(SYSENTER_GUEST, P6)
    assert regs(machine, "ebx", "bp", "esi", "di", "ax") == (0x5000, 0x1B, 0x6800, 0x08, 0x10)
    assert machine.cpu.cpl == 0
    assert fault_vector_of("sysenter", P6) == 13                # real mode: #GP(0)
