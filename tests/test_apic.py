"""Local APIC and I/O APIC driven through their registers as a guest driver does
(xv6's lapic.c/ioapic.c, Linux's apic.c): register reset values from the Intel SDM
vol. 3A ch. 10 and the 82093AA datasheet, interrupt acceptance and priority, the
timer on the virtual clock, IPIs, the 8259A through LINT0, the IMCR, IOAPIC edge and
level inputs with remote IRR, snapshots; CPUID and IA32_APIC_BASE on the real CPU."""

import random

import pytest

from cpu_support import assemble, load_code, make_machine, run_until_stopped
from pcmachine import Machine
from pcmachine.component import Component
from pcmachine.plugins.apic import IOAPIC, LocalAPIC
from pcmachine.plugins.chipset.i8259 import PIC

LAPIC = 0xFEE00000
IOAPIC_BASE = 0xFEC00000
ID, VER, TPR, APR, PPR, EOI, LDR, DFR, SVR = 0x20, 0x30, 0x80, 0x90, 0xA0, 0xB0, 0xD0, 0xE0, 0xF0
ISR, TMR, IRR, ESR, ICRLO, ICRHI = 0x100, 0x180, 0x200, 0x280, 0x300, 0x310
TIMER, PCINT, LINT0, LINT1, ERROR, TICR, TCCR, TDCR = (0x320, 0x340, 0x350, 0x360, 0x370,
                                                      0x380, 0x390, 0x3E0)
MASKED, PERIODIC, ENABLE = 0x10000, 0x20000, 0x100
SELF, ALL, OTHERS = 1 << 18, 2 << 18, 3 << 18
EXTINT, NMI, INIT, STARTUP, LEVEL, ASSERT = 0x700, 0x400, 0x500, 0x600, 0x8000, 0x4000


class FakeCPU(Component):
    """The CPU's side of the APIC: the INTR pin, NMI and INIT/SIPI as received."""

    def __init__(self, machine, name, options):
        super().__init__(machine, name, options)
        machine.cpu = self
        self.lapic = None
        self.intr_line = False
        self.nmis = 0
        self.startups = []
        machine.bus.intr_listener = self.set_intr

    def set_intr(self, level):
        self.intr_line = bool(level)

    def nmi(self):
        self.nmis += 1


def build(ioapic=True, pic=True, **lapic_options):
    machine = Machine.bare()
    machine.add_component(FakeCPU, "cpu", {})
    if pic:
        machine.add_component(PIC, "pic_master", {"ports": 0x20, "cascade_inputs": [2], "output": "cpu"})
        machine.add_component(PIC, "pic_slave", {"ports": 0xA0, "irq_base": 8,
                                                 "output": "pic_master:2"})
    machine.add_component(LocalAPIC, "lapic", lapic_options)
    if ioapic:
        machine.add_component(IOAPIC, "ioapic", {})
    machine.configure()
    return machine


def lapicw(machine, offset, value):
    machine.bus.write(LAPIC + offset, 4, value)


def lapicr(machine, offset):
    return machine.bus.read(LAPIC + offset, 4)


def ioapicw(machine, index, value):
    machine.bus.write(IOAPIC_BASE, 4, index)
    machine.bus.write(IOAPIC_BASE + 0x10, 4, value)


def ioapicr(machine, index):
    machine.bus.write(IOAPIC_BASE, 4, index)
    return machine.bus.read(IOAPIC_BASE + 0x10, 4)


def enable(machine, spurious=0x3F):
    lapicw(machine, SVR, ENABLE | spurious)


def ack(machine):
    return machine.bus.interrupt_acknowledge()


def advance(machine, ns):
    """Let `ns` virtual nanoseconds pass and fire what is due (as HLT does)."""
    machine.clock.skip_to(machine.clock.now() + ns)
    machine.clock.run_due()


def vector_bit(machine, base, vector):
    return bool(lapicr(machine, base + 0x10 * (vector >> 5)) & (1 << (vector & 31)))


@pytest.fixture
def pc():
    return build()


# ---------------------------------------------------------------------- local APIC registers
def test_reset_values(pc):
    assert lapicr(pc, ID) == 0
    assert lapicr(pc, VER) == 0x00040014                 # max LVT entry 4, version 14h
    assert lapicr(pc, SVR) == 0xFF                       # software-disabled
    assert lapicr(pc, DFR) == 0xFFFFFFFF and lapicr(pc, LDR) == 0
    for offset in (TIMER, PCINT, LINT1, ERROR):
        assert lapicr(pc, offset) == MASKED
    assert lapicr(pc, LINT0) == EXTINT                   # the BSP's virtual wire, as QEMU resets it
    assert lapicr(pc, TPR) == lapicr(pc, PPR) == 0
    assert lapicr(pc, TICR) == lapicr(pc, TCCR) == 0


def test_id_and_logical_registers(pc):
    lapicw(pc, ID, 0x05000000)
    lapicw(pc, LDR, 0x010000FF)
    lapicw(pc, DFR, 0x0FFFFFFF)
    assert (lapicr(pc, ID), lapicr(pc, LDR), lapicr(pc, DFR)) == (0x05000000, 0x01000000, 0x0FFFFFFF)


def test_software_disabled_keeps_lvt_masked(pc):
    lapicw(pc, TIMER, 0x20)
    assert lapicr(pc, TIMER) == MASKED | 0x20
    enable(pc)
    assert lapicr(pc, SVR) == 0x13F                      # P6: vector bits 0-3 read 1
    lapicw(pc, TIMER, 0x20)
    assert lapicr(pc, TIMER) == 0x20
    lapicw(pc, SVR, 0xF0)                                # disable again: every entry masked
    assert lapicr(pc, TIMER) == MASKED | 0x20 and lapicr(pc, SVR) == 0xFF


def test_self_ipi_irr_isr_eoi(pc):
    enable(pc)
    lapicw(pc, ICRLO, SELF | 0x41)
    assert vector_bit(pc, IRR, 0x41) and pc.cpu.intr_line
    assert lapicr(pc, ICRLO) & 0x1000 == 0               # delivery status idle
    assert ack(pc) == 0x41
    assert vector_bit(pc, ISR, 0x41) and not vector_bit(pc, IRR, 0x41)
    assert not pc.cpu.intr_line
    assert lapicr(pc, PPR) == 0x40
    lapicw(pc, EOI, 0)
    assert not vector_bit(pc, ISR, 0x41) and lapicr(pc, PPR) == 0


def test_priority_classes_and_tpr(pc):
    enable(pc)
    lapicw(pc, TPR, 0x50)
    for vector in (0x45, 0x5F):
        lapicw(pc, ICRLO, SELF | vector)
    assert not pc.cpu.intr_line                          # both at or below the TPR class
    assert lapicr(pc, APR) == 0x50
    lapicw(pc, ICRLO, SELF | 0x61)
    assert pc.cpu.intr_line and ack(pc) == 0x61
    lapicw(pc, ICRLO, SELF | 0x62)                       # same class as the one in service
    assert not pc.cpu.intr_line and lapicr(pc, PPR) == 0x60
    lapicw(pc, EOI, 0)
    assert ack(pc) == 0x62
    lapicw(pc, EOI, 0)
    assert not pc.cpu.intr_line
    lapicw(pc, TPR, 0)
    assert ack(pc) == 0x5F                               # highest first
    assert ack(pc) == 0x3F                               # 0x45 is below the class in service
    lapicw(pc, EOI, 0)
    assert ack(pc) == 0x45


def test_interrupt_withdrawn_before_inta_gives_spurious_vector(pc):
    enable(pc, 0xEF)
    lapicw(pc, ICRLO, SELF | 0x41)
    lapicw(pc, TPR, 0xF0)
    assert ack(pc) == 0xEF and not vector_bit(pc, ISR, 0x41)


SEND_ILLEGAL, RECEIVE_ILLEGAL = 0x20, 0x40


def esr(machine):
    """The ESR as a driver reads it: write, then read (SDM 10.5.3)."""
    lapicw(machine, ESR, 0)
    return lapicr(machine, ESR)


def irr_bits(machine):
    return sum(lapicr(machine, IRR + 0x10 * i) << (32 * i) for i in range(8))


def test_illegal_vectors_set_esr_after_write(pc):
    enable(pc)
    lapicw(pc, ICRLO, SELF | 0x05)
    assert lapicr(pc, ESR) == 0                          # errors appear after an ESR write
    lapicw(pc, ESR, 0)
    assert lapicr(pc, ESR) == SEND_ILLEGAL | RECEIVE_ILLEGAL  # sent, and received by itself
    lapicw(pc, ESR, 0)
    assert lapicr(pc, ESR) == 0


@pytest.mark.parametrize("vector", [0, 2, 15, 16])
@pytest.mark.parametrize("icr", [SELF, 0, LEVEL | ASSERT, 1 << 8], ids=["self", "physical", "level", "lowest"])
def test_an_ipi_with_a_vector_below_16_is_an_error_and_not_delivered(pc, vector, icr):
    """SDM 10.5.2/10.5.3: vectors 0-15 are illegal; the sender sets "send illegal
    vector", the receiver (here itself) "receive illegal vector" and never sets an
    IRR bit below 16.  Vector 16 is the first legal one."""
    enable(pc)
    lapicw(pc, ICRHI, 0)                                 # physical destination: APIC ID 0
    lapicw(pc, ICRLO, icr | vector)
    if vector < 16:
        assert esr(pc) == SEND_ILLEGAL | RECEIVE_ILLEGAL
        assert irr_bits(pc) == 0 and not pc.cpu.intr_line
    else:
        assert esr(pc) == 0
        assert irr_bits(pc) == 1 << vector and ack(pc) == vector


def test_an_ipi_with_an_illegal_vector_for_nobody_only_sets_send_illegal(pc):
    enable(pc)
    lapicw(pc, ICRHI, 5 << 24)                           # no APIC has ID 5
    lapicw(pc, ICRLO, 0x07)
    assert esr(pc) == SEND_ILLEGAL
    lapicw(pc, ERROR, 0x04)                              # an illegal error vector
    lapicw(pc, ICRLO, 0x07)                              # the error interrupt is illegal too
    assert esr(pc) == SEND_ILLEGAL | RECEIVE_ILLEGAL
    assert irr_bits(pc) == 0 and not pc.cpu.intr_line


def test_local_interrupts_with_illegal_vectors_set_receive_illegal(pc):
    """Timer, LINT0 (fixed) and I/O APIC messages with a vector below 16: receive
    illegal vector, no IRR bit; the error LVT entry then interrupts."""
    enable(pc)
    lapicw(pc, ERROR, 0x33)
    lapicw(pc, TIMER, 0x0E)
    lapicw(pc, TICR, 100)
    advance(pc, 1000)
    assert esr(pc) == RECEIVE_ILLEGAL
    assert irr_bits(pc) == 1 << 0x33 and ack(pc) == 0x33
    lapicw(pc, EOI, 0)
    init_pic(pc)
    lapicw(pc, LINT0, 0x03)                              # fixed, vector 3
    pc.bus.set_irq(1, 1)
    assert esr(pc) == RECEIVE_ILLEGAL and irr_bits(pc) == 1 << 0x33
    assert ack(pc) == 0x33
    lapicw(pc, EOI, 0)
    lapicw(pc, LINT0, MASKED)
    pc.bus.set_irq(1, 0)
    ioapicw(pc, 0x10 + 2 * 4, 0x09)                      # IRQ4 -> vector 9, CPU 0
    ioapicw(pc, 0x11 + 2 * 4, 0)
    pc.bus.set_irq(4, 1)
    assert esr(pc) == RECEIVE_ILLEGAL and irr_bits(pc) == 1 << 0x33
    assert esr(pc) == 0


def test_error_lvt_delivers(pc):
    enable(pc)
    lapicw(pc, ERROR, 0x33)
    lapicw(pc, ICRLO, SELF | 0x02)
    assert ack(pc) == 0x33


def test_init_level_deassert_is_ignored_and_nmi_ipi(pc):
    """xv6's lapicinit broadcasts an INIT level de-assert; it must change nothing."""
    enable(pc)
    lapicw(pc, TPR, 0x20)
    lapicw(pc, ICRHI, 0)
    lapicw(pc, ICRLO, ALL | INIT | LEVEL)
    assert lapicr(pc, TPR) == 0x20 and lapicr(pc, SVR) == 0x13F
    lapicw(pc, ICRLO, SELF | NMI)
    assert pc.cpu.nmis == 1
    lapicw(pc, ICRLO, OTHERS | NMI)                      # nobody else on this bus
    assert pc.cpu.nmis == 1


def test_physical_and_logical_destinations(pc):
    enable(pc)
    lapicw(pc, ID, 0x03000000)
    lapicw(pc, ICRHI, 0x02000000)
    lapicw(pc, ICRLO, 0x41)                              # physical 2: not us
    assert not pc.cpu.intr_line
    lapicw(pc, ICRHI, 0x03000000)
    lapicw(pc, ICRLO, 0x42)
    assert ack(pc) == 0x42
    lapicw(pc, EOI, 0)
    lapicw(pc, LDR, 0x04000000)                          # flat model, bit 2
    lapicw(pc, ICRHI, 0x06000000)
    lapicw(pc, ICRLO, 0x800 | 0x43)
    assert ack(pc) == 0x43


# ---------------------------------------------------------------------- timer
@pytest.mark.parametrize("divide, divisor", [(0xB, 1), (0x0, 2), (0x1, 4), (0x3, 16), (0xA, 128)])
def test_one_shot_timer_and_divide(pc, divide, divisor):
    enable(pc)
    lapicw(pc, TDCR, divide)
    lapicw(pc, TIMER, 0x30)
    lapicw(pc, TICR, 1000)
    advance(pc, 500 * divisor)                           # 1 GHz bus clock
    assert lapicr(pc, TCCR) == 500 and not pc.cpu.intr_line
    advance(pc, 500 * divisor)
    assert lapicr(pc, TCCR) == 0 and pc.cpu.intr_line and ack(pc) == 0x30
    lapicw(pc, EOI, 0)
    advance(pc, 5000 * divisor)
    assert not pc.cpu.intr_line                          # one-shot: once


def test_periodic_timer_rate(pc):
    """xv6: divide by 1, periodic, 10,000,000 counts: 100 interrupts a second."""
    enable(pc)
    lapicw(pc, TDCR, 0xB)
    lapicw(pc, TIMER, PERIODIC | 0x20)
    lapicw(pc, TICR, 10_000_000)
    ticks = 0
    for _ in range(100):
        advance(pc, 10_000_000)
        if pc.cpu.intr_line:
            assert ack(pc) == 0x20
            lapicw(pc, EOI, 0)
            ticks += 1
    assert ticks == 100
    assert lapicr(pc, TCCR) == 10_000_000
    advance(pc, 2_500_000)
    assert lapicr(pc, TCCR) == 7_500_000


def test_masked_timer_counts_without_interrupting(pc):
    enable(pc)
    lapicw(pc, TDCR, 0xB)
    lapicw(pc, TIMER, MASKED | PERIODIC | 0x20)
    lapicw(pc, TICR, 1000)
    advance(pc, 2500)
    assert not pc.cpu.intr_line and lapicr(pc, TCCR) == 500
    assert pc.clock.next_deadline() is None              # no events while masked
    lapicw(pc, TIMER, PERIODIC | 0x20)
    advance(pc, 499)
    assert not pc.cpu.intr_line
    advance(pc, 1)
    assert ack(pc) == 0x20


def test_timer_snapshot_restore_keeps_the_deadline(pc):
    enable(pc)
    lapicw(pc, TDCR, 0xB)
    lapicw(pc, TIMER, PERIODIC | 0x20)
    lapicw(pc, TICR, 1000)
    advance(pc, 300)
    state = pc.snapshot()
    other = build()
    other.restore(state)
    assert other.snapshot()["components"] == state["components"]
    advance(other, 699)
    assert not other.cpu.intr_line
    advance(other, 1)
    assert ack(other) == 0x20


# ---------------------------------------------------------------------- the 8259A on LINT0
def init_pic(machine):
    for port, base, icw3 in ((0x20, 0x08, 0x04), (0xA0, 0x70, 0x02)):
        for offset, value in ((0, 0x11), (1, base), (1, icw3), (1, 0x01)):
            machine.bus.io_write(port + offset, 1, value)
    machine.bus.io_write(0x21, 1, 0x00)


def test_pic_passes_while_apic_is_software_disabled(pc):
    init_pic(pc)
    pc.bus.set_irq(1, 1)
    assert pc.cpu.intr_line and ack(pc) == 0x09


def test_pic_through_lint0_extint_and_masked(pc):
    init_pic(pc)
    enable(pc)                                           # LINT0 ExtINT from reset: virtual wire
    pc.bus.set_irq(1, 1)
    assert pc.cpu.intr_line and ack(pc) == 0x09
    pc.bus.io_write(0x20, 1, 0x20)
    pc.bus.set_irq(1, 0)
    lapicw(pc, LINT0, MASKED | EXTINT)                   # LINT0 masked: the PIC is cut off
    pc.bus.set_irq(1, 1)
    assert not pc.cpu.intr_line
    lapicw(pc, LINT0, EXTINT)
    assert pc.cpu.intr_line and ack(pc) == 0x09
    pc.bus.io_write(0x20, 1, 0x20)
    pc.bus.set_irq(1, 0)
    assert not pc.cpu.intr_line


def test_hardware_disabled_apic_passes_the_pic(pc):
    init_pic(pc)
    enable(pc)
    lapic = pc.components["lapic"]
    assert lapic.write_base_msr(LAPIC)                   # clear bit 11
    assert not lapic.hw_enabled and lapicr(pc, SVR) == 0xFF
    pc.bus.set_irq(1, 1)
    assert ack(pc) == 0x09
    lapic.write_base_msr(LAPIC | 0x800)                  # P6: stays disabled until reset
    assert not lapic.hw_enabled
    assert not lapic.write_base_msr(LAPIC | 0x800 | 1)   # reserved bit: #GP


def test_imcr_moves_the_pic_to_ioapic_pin0(pc):
    init_pic(pc)
    enable(pc)
    lapicw(pc, LINT0, EXTINT)
    pc.bus.io_write(0x22, 1, 0x70)
    pc.bus.io_write(0x23, 1, 0x01)                       # symmetric I/O mode
    assert pc.bus.io_read(0x23, 1) == 0x01
    pc.bus.set_irq(1, 1)
    assert not pc.cpu.intr_line                          # no longer on LINT0; pin 0 masked
    pc.bus.set_irq(1, 0)
    ioapicw(pc, 0x10, EXTINT)
    pc.bus.set_irq(1, 1)
    assert pc.cpu.intr_line and ack(pc) == 0x09


# ---------------------------------------------------------------------- I/O APIC
def test_ioapic_identification(pc):
    assert ioapicr(pc, 0x00) == 0x01000000               # ID after the one processor
    assert ioapicr(pc, 0x01) == 0x00170011               # 24 entries, version 11h
    ioapicw(pc, 0x00, 0x0A000000)
    assert ioapicr(pc, 0x00) == ioapicr(pc, 0x02) == 0x0A000000
    for pin in range(24):
        assert ioapicr(pc, 0x10 + 2 * pin) == MASKED and ioapicr(pc, 0x11 + 2 * pin) == 0


def test_ioapic_entry_read_only_bits(pc):
    ioapicw(pc, 0x12, 0xFFFFFFFF)
    assert ioapicr(pc, 0x12) == 0x1AFFF                  # delivery status, remote IRR read 0
    ioapicw(pc, 0x13, 0xFFFFFFFF)
    assert ioapicr(pc, 0x13) == 0xFF000000


def test_ioapic_edge_irq_routes_and_masked_edges_are_lost(pc):
    enable(pc)
    pc.bus.set_irq(1, 1)                                 # masked: ignored, not held
    pc.bus.set_irq(1, 0)
    ioapicw(pc, 0x10 + 2 * 1, 0x21)                      # IRQ1 -> vector 0x21, CPU 0
    ioapicw(pc, 0x11 + 2 * 1, 0)
    assert not pc.cpu.intr_line
    pc.bus.set_irq(1, 1)
    assert ack(pc) == 0x21 and not vector_bit(pc, TMR, 0x21)
    lapicw(pc, EOI, 0)
    ioapicw(pc, 0x10 + 2 * 2, 0x20)                      # pin 2 carries ISA IRQ 0
    pc.bus.set_irq(0, 1)
    assert ack(pc) == 0x20


def test_ioapic_level_remote_irr_and_eoi(pc):
    enable(pc)
    ioapicw(pc, 0x10 + 2 * 14, LEVEL | 0x2E)
    pc.bus.set_irq(14, 1)
    assert ioapicr(pc, 0x10 + 2 * 14) & ASSERT           # remote IRR
    assert ack(pc) == 0x2E and vector_bit(pc, TMR, 0x2E)
    lapicw(pc, EOI, 0)                                   # still asserted: delivered again
    assert ack(pc) == 0x2E
    pc.bus.set_irq(14, 0)
    lapicw(pc, EOI, 0)
    assert not ioapicr(pc, 0x10 + 2 * 14) & ASSERT and not pc.cpu.intr_line


def test_ioapic_level_unmask_delivers_asserted_input(pc):
    enable(pc)
    pc.bus.set_irq(12, 1)
    ioapicw(pc, 0x10 + 2 * 12, LEVEL | 0x2C)
    assert ack(pc) == 0x2C


def test_ioapic_destination_other_cpu_is_not_us(pc):
    enable(pc)
    ioapicw(pc, 0x11 + 2 * 4, 0x01000000)
    ioapicw(pc, 0x10 + 2 * 4, 0x24)
    pc.bus.set_irq(4, 1)
    assert not pc.cpu.intr_line


def check_lapic_invariants(machine):
    """Intel SDM 10.8 through the registers: IRR, ISR and TMR never hold vectors
    0-15 (reserved); PPR = TPR when TPR's class is at least the highest in-service
    vector's, else that vector's class with subclass 0 (10.8.3.1); the timer's
    current count never exceeds its initial count (10.5.4)."""
    registers = {base: [lapicr(machine, base + 0x10 * i) for i in range(8)] for base in (IRR, ISR, TMR)}
    for words in registers.values():
        assert words[0] & 0xFFFF == 0
    in_service = sum(word << (32 * i) for i, word in enumerate(registers[ISR]))
    isrv = in_service.bit_length() - 1 if in_service else 0
    tpr = lapicr(machine, TPR) & 0xFF
    assert lapicr(machine, PPR) == (tpr if tpr >> 4 >= isrv >> 4 else isrv & 0xF0)
    assert lapicr(machine, TCCR) <= lapicr(machine, TICR)


def test_random_register_traffic_keeps_ppr_and_vector_registers_consistent(pc):
    rng = random.Random(13)
    for _ in range(3000):
        offset = rng.randrange(0, 0x400) & ~3
        lapicw(pc, offset, rng.getrandbits(32))
        lapicr(pc, offset)
        ioapicw(pc, rng.randrange(0, 0x40), rng.getrandbits(32))
        pc.bus.set_irq(rng.choice([1, 3, 4, 12, 14]), rng.getrandbits(1))
        if pc.cpu.intr_line:
            ack(pc)
        advance(pc, rng.randrange(0, 10_000))
        check_lapic_invariants(pc)


# ---------------------------------------------------------------------- the real CPU
def cpu_machine(with_apic=True):
    machine = make_machine("pentiumpro")
    if with_apic:
        machine.add_component(LocalAPIC, "lapic", {})
    machine.configure()
    return machine


@pytest.mark.parametrize("with_apic", [True, False])
def test_cpuid_apic_bit_and_apic_base_msr(with_apic):
    machine = cpu_machine(with_apic)
    load_code(machine, assemble("mov eax, 1\ncpuid\nmov esi, edx\nmov edi, ebx\n"
                                "mov ecx, 0x1b\nrdmsr\nhlt"))
    run_until_stopped(machine, 1000)
    cpu = machine.cpu
    assert bool(cpu.get_reg("esi") & 0x200) == with_apic
    assert cpu.get_reg("eax") == (0xFEE00900 if with_apic else 0xFEE00100)


def test_cpu_takes_apic_timer_interrupt_in_real_mode():
    """A real-mode guest: IVT entry 0x40, enable the APIC through its MMIO with a
    32-bit address (unreal-mode-free: flat FS via the 386 FS base is not needed,
    the test pokes the registers from Python), then HLT until the timer fires."""
    machine = cpu_machine()
    handler = 0x7E00
    machine.bus.memory[0x40 * 4:0x40 * 4 + 4] = (handler).to_bytes(2, "little") + bytes(2)
    machine.bus.memory[handler:handler + 3] = assemble("inc bx\niret", org=handler)[:3]
    load_code(machine, assemble("xor bx, bx\nsti\nhlt\nhlt\ncli\nhlt"))
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    enable(machine)
    lapicw(machine, TDCR, 0xB)
    lapicw(machine, TIMER, 0x40)
    lapicw(machine, TICR, 50_000)                        # 50 us
    run_until_stopped(machine, 10_000)
    assert machine.cpu.get_reg("bx") == 1
    assert machine.clock.now() >= 50_000


@pytest.mark.parametrize("profile, has_apic", [("pc.yaml", True), ("isapc.yaml", False)])
def test_isa_only_profile_has_no_apic_and_no_mp_table(tmp_path, profile, has_apic):
    """machines/isapc.yaml (QEMU's `isapc`): a boot sector runs CPUID after POST;
    the APIC feature bit, an MP floating pointer in the BIOS areas and a local
    APIC answering at 0xFEE00000 are all there on pc.yaml and all absent here."""
    code = assemble("cli\nmov eax, 1\ncpuid\nmov esi, edx\nhlt\n", org=0x7C00)
    sector = code.ljust(510, b"\0") + b"\x55\xAA"
    floppy = tmp_path / "boot.img"
    floppy.write_bytes(sector.ljust(1474560, b"\0"))
    machine = Machine.from_profile(profile, ["cmos.start=2026-01-01T00:00:00"],
                                   {"fda": str(floppy)})
    machine.run_headless(20_000_000)
    assert machine.cpu.get_reg("eip") == 0x7C00 + len(code)              # after its HLT
    assert bool(machine.cpu.get_reg("esi") & 0x200) == has_apic
    memory = machine.bus.memory
    ebda = int.from_bytes(memory[0x40E:0x410], "little") << 4
    areas = bytes(memory[ebda:ebda + 1024]) + bytes(memory[0xF0000:0x100000])
    assert (b"_MP_" in areas) == has_apic
    assert (machine.bus.read(0xFEE00030, 4) & 0xFF == 0x14) == has_apic   # APIC version
