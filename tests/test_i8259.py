"""8259A pair wired as in a PC/AT, programmed through 0x20/0x21, 0xA0/0xA1 and the
ELCR ports 0x4D0/0x4D1 exactly as a guest does; devices drive bus IRQ lines and
the CPU side is an INTR probe plus `bus.interrupt_acknowledge()`."""

import random
from typing import Dict, List

import pytest

from pcmachine import Machine
from pcmachine.errors import ProfileError
from pcmachine.plugins.chipset.i8254 import PIT, PIT_HZ
from pcmachine.plugins.chipset.i8259 import PIC

MASTER = {"ports": 0x20, "elcr_port": 0x4D0, "irq_base": 0, "cascade_inputs": [2], "output": "cpu"}
SLAVE = {"ports": 0xA0, "elcr_port": 0x4D1, "irq_base": 8, "output": "pic_master:2"}
EOI = 0x20


class Cpu:
    """The CPU's INTR pin: records every edge the master drives."""

    def __init__(self) -> None:
        self.edges = []

    def __call__(self, level: bool) -> None:
        self.edges.append(level)

    @property
    def intr(self) -> bool:
        return bool(self.edges) and self.edges[-1]


def build(master=None, slave=None, extra=()):
    machine = Machine.bare()
    machine.add_component(PIC, "pic_master", dict(MASTER, **(master or {})))
    machine.add_component(PIC, "pic_slave", dict(SLAVE, **(slave or {})))
    for cls, name, options in extra:
        machine.add_component(cls, name, options)
    cpu = Cpu()
    machine.bus.intr_listener = cpu
    machine.configure()
    return machine, cpu


def out(machine, port, value):
    machine.bus.io_write(port, 1, value)


def inb(machine, port):
    return machine.bus.io_read(port, 1)


def init_pair(machine, master_icw4=0x01, slave_icw4=0x01, level=False):
    """The BIOS sequence: ICW1-ICW4 on both chips, vectors 0x08 and 0x70."""
    icw1 = 0x11 | (0x08 if level else 0)
    for port, base, icw3, icw4 in ((0x20, 0x08, 0x04, master_icw4), (0xA0, 0x70, 0x02, slave_icw4)):
        out(machine, port, icw1)
        out(machine, port + 1, base)
        out(machine, port + 1, icw3)
        out(machine, port + 1, icw4)


@pytest.fixture
def pc():
    machine, cpu = build()
    init_pair(machine)
    return machine, cpu


def ack(machine):
    return machine.bus.interrupt_acknowledge()


def read_isr(machine, port=0x20):
    out(machine, port, 0x0B)
    return inb(machine, port)


def read_irr(machine, port=0x20):
    out(machine, port, 0x0A)
    return inb(machine, port)


# ---------------------------------------------------------------------- init

def test_power_on_state_masks_everything():
    machine, cpu = build()
    assert inb(machine, 0x21) == 0xFF and inb(machine, 0xA1) == 0xFF
    machine.bus.set_irq(1, 1)
    assert not cpu.intr


def test_init_sequence_sets_vectors_and_clears_imr(pc):
    machine, cpu = pc
    assert inb(machine, 0x21) == 0x00 and inb(machine, 0xA1) == 0x00
    machine.bus.set_irq(1, 1)
    assert cpu.edges == [True]
    assert ack(machine) == 0x09
    assert cpu.edges == [True, False]
    assert read_isr(machine) == 0x02


def test_icw1_during_operation_restarts_initialisation(pc):
    machine, cpu = pc
    machine.bus.set_irq(3, 1)
    assert cpu.intr
    out(machine, 0x20, 0x13)          # single, ICW4 needed: ICW2 then ICW4, no ICW3
    assert not cpu.intr               # ICW1 clears the pending request
    out(machine, 0x21, 0x20)
    out(machine, 0x21, 0x01)          # ICW4 (there is no ICW3 in single mode)
    out(machine, 0x21, 0xF7)          # this is OCW1 now
    assert inb(machine, 0x21) == 0xF7
    machine.bus.set_irq(3, 0)
    machine.bus.set_irq(3, 1)
    assert ack(machine) == 0x23


def test_vector_base_ignores_low_bits(pc):
    machine, _ = pc
    out(machine, 0x20, 0x11)
    out(machine, 0x21, 0x47)          # low three bits are the IR number
    out(machine, 0x21, 0x04)
    out(machine, 0x21, 0x01)
    machine.bus.set_irq(5, 1)
    assert ack(machine) == 0x45


# ---------------------------------------------------------------------- masking and priority

def test_masked_request_waits_in_irr(pc):
    machine, cpu = pc
    out(machine, 0x21, 0x10)
    machine.bus.set_irq(4, 1)
    assert not cpu.intr
    assert read_irr(machine) == 0x10
    out(machine, 0x21, 0x00)
    assert cpu.intr
    assert ack(machine) == 0x0C


def test_fixed_priority_and_nesting(pc):
    machine, cpu = pc
    machine.bus.set_irq(5, 1)
    machine.bus.set_irq(3, 1)
    assert ack(machine) == 0x0B       # IR3 beats IR5
    assert not cpu.intr               # IR5 is lower than IR3 in service
    machine.bus.set_irq(1, 1)
    assert cpu.intr                   # IR1 nests above IR3
    assert ack(machine) == 0x09
    assert read_isr(machine) == 0x0A
    out(machine, 0x20, EOI)           # clears IR1, the highest in service
    assert read_isr(machine) == 0x08
    assert not cpu.intr
    out(machine, 0x20, EOI)
    assert cpu.intr
    assert ack(machine) == 0x0D


def test_specific_eoi_clears_the_named_level(pc):
    machine, _ = pc
    machine.bus.set_irq(6, 1)
    ack(machine)
    machine.bus.set_irq(2 + 1, 1)
    ack(machine)
    assert read_isr(machine) == 0x48
    out(machine, 0x20, 0x66)          # specific EOI IR6
    assert read_isr(machine) == 0x08


def test_slave_requests_have_master_ir2_priority(pc):
    machine, cpu = pc
    machine.bus.set_irq(4, 1)
    machine.bus.set_irq(14, 1)
    assert ack(machine) == 0x76       # IRQ14 via IR2 beats IR4
    assert read_isr(machine) == 0x04
    assert read_isr(machine, 0xA0) == 0x40
    out(machine, 0xA0, EOI)
    out(machine, 0x20, EOI)
    assert ack(machine) == 0x0C


def test_cascade_slave_mask_and_vectors(pc):
    machine, cpu = pc
    out(machine, 0xA1, 0x10)          # mask IRQ12
    machine.bus.set_irq(12, 1)
    assert not cpu.intr
    machine.bus.set_irq(9, 1)
    assert cpu.intr
    assert ack(machine) == 0x71
    out(machine, 0xA0, EOI)
    out(machine, 0x20, EOI)
    out(machine, 0xA1, 0x00)
    assert ack(machine) == 0x74


def test_master_without_icw3_slave_bit_gives_its_own_vector():
    machine, _ = build()
    init_pair(machine)
    out(machine, 0x20, 0x11)
    out(machine, 0x21, 0x08)
    out(machine, 0x21, 0x00)          # ICW3: no slaves
    out(machine, 0x21, 0x01)
    machine.bus.set_irq(10, 1)
    assert ack(machine) == 0x0A       # IR2 answered by the master itself


def test_slave_with_wrong_id_leaves_the_bus_floating(pc):
    machine, _ = pc
    out(machine, 0xA0, 0x11)
    out(machine, 0xA1, 0x70)
    out(machine, 0xA1, 0x05)          # ID 5, but it is wired to IR2
    out(machine, 0xA1, 0x01)
    machine.bus.set_irq(11, 1)
    assert ack(machine) == 0xFF


# ---------------------------------------------------------------------- EOI and rotation

def test_rotate_on_nonspecific_eoi_makes_the_serviced_level_lowest(pc):
    machine, _ = pc
    machine.bus.set_irq(0, 1)
    assert ack(machine) == 0x08
    out(machine, 0x20, 0xA0)          # rotate on non-specific EOI: IR0 lowest
    machine.bus.set_irq(0, 0)
    machine.bus.set_irq(0, 1)
    machine.bus.set_irq(7, 1)
    assert ack(machine) == 0x0F       # IR7 now outranks IR0
    out(machine, 0x20, 0xA0)          # IR7 lowest: IR0 highest again
    machine.bus.set_irq(6, 1)
    assert ack(machine) == 0x08


def test_set_priority_and_rotate_on_specific_eoi(pc):
    machine, _ = pc
    out(machine, 0x20, 0xC4)          # IR4 lowest: order 5 6 7 0 1 2 3 4
    machine.bus.set_irq(3, 1)
    machine.bus.set_irq(6, 1)
    assert ack(machine) == 0x0E
    out(machine, 0x20, 0xE6)          # rotate on specific EOI 6: IR6 lowest
    assert read_isr(machine) == 0x00
    machine.bus.set_irq(7, 1)
    assert ack(machine) == 0x0F       # order 7 0 1 2 3 4 5 6
    out(machine, 0x20, 0x67)
    assert ack(machine) == 0x0B


def test_eoi_without_anything_in_service_is_harmless(pc):
    machine, cpu = pc
    out(machine, 0x20, EOI)
    out(machine, 0x20, 0x40)          # OCW2 no-operation
    assert read_isr(machine) == 0 and not cpu.intr


# ---------------------------------------------------------------------- OCW3

def test_read_irr_and_isr_select_is_sticky(pc):
    machine, _ = pc
    machine.bus.set_irq(3, 1)
    machine.bus.set_irq(5, 1)
    ack(machine)
    out(machine, 0x20, 0x0A)
    assert inb(machine, 0x20) == 0x20 and inb(machine, 0x20) == 0x20
    out(machine, 0x20, 0x0B)
    assert inb(machine, 0x20) == 0x08 and inb(machine, 0x20) == 0x08
    out(machine, 0x20, 0x08)          # RR=0: selection unchanged
    assert inb(machine, 0x20) == 0x08
    assert inb(machine, 0x21) == 0x00 # the odd port always reads the IMR


def test_poll_mode(pc):
    machine, cpu = pc
    out(machine, 0x21, 0xFF)          # polled systems mask or disable INTR
    machine.bus.set_irq(6, 1)
    machine.bus.set_irq(4, 1)
    out(machine, 0x20, 0x0C)          # poll command
    assert inb(machine, 0x20) == 0x00 # masked requests are not reported
    out(machine, 0x21, 0x00)
    out(machine, 0x20, 0x0C)
    assert inb(machine, 0x20) == 0x84
    assert read_isr(machine) == 0x10  # the poll read acted as INTA
    out(machine, 0x20, EOI)
    out(machine, 0x20, 0x0C)
    assert inb(machine, 0x21) == 0x86 # poll word on the odd port too
    out(machine, 0x20, EOI)
    out(machine, 0x20, 0x0C)
    assert inb(machine, 0x20) == 0x00
    assert inb(machine, 0x21) == 0x00 # back to the IMR after one poll read


def test_special_mask_mode_lets_lower_levels_in(pc):
    machine, cpu = pc
    machine.bus.set_irq(3, 1)
    ack(machine)
    machine.bus.set_irq(5, 1)
    assert not cpu.intr
    out(machine, 0x21, 0x08)          # mask the level in service
    out(machine, 0x20, 0x68)          # set special mask
    assert cpu.intr
    assert ack(machine) == 0x0D
    assert read_isr(machine) == 0x28
    out(machine, 0x20, 0x65)
    out(machine, 0x20, 0x48)          # reset special mask
    machine.bus.set_irq(6, 1)
    assert not cpu.intr               # IR3 in service blocks IR6 again
    out(machine, 0x20, 0x63)
    assert cpu.intr


def test_special_fully_nested_mode_passes_higher_slave_requests():
    for icw4, nests in ((0x11, True), (0x01, False)):
        machine, cpu = build()
        init_pair(machine, master_icw4=icw4)
        machine.bus.set_irq(12, 1)
        assert ack(machine) == 0x74
        machine.bus.set_irq(9, 1)     # higher than IRQ12 inside the slave
        assert cpu.intr == nests
        if nests:
            assert ack(machine) == 0x71
            assert read_isr(machine, 0xA0) == 0x12
            assert read_isr(machine) == 0x04
        machine.bus.set_irq(3, 1)     # a lower master level is still blocked by IR2
        if nests:
            assert not cpu.intr


# ---------------------------------------------------------------------- spurious

def test_spurious_irq7_when_the_request_vanishes(pc):
    machine, cpu = pc
    machine.bus.set_irq(3, 1)
    assert cpu.intr
    machine.bus.set_irq(3, 0)         # gone before INTA; INT stays latched
    assert cpu.intr
    assert ack(machine) == 0x0F
    assert read_isr(machine) == 0x00  # no ISR bit for a spurious IR7
    assert not cpu.intr


def test_spurious_irq7_when_the_level_is_masked_after_int(pc):
    machine, cpu = pc
    machine.bus.set_irq(4, 1)
    out(machine, 0x21, 0x10)
    assert not cpu.intr               # the mask acts on INT at once
    assert ack(machine) == 0x0F       # an INTA already under way finds nothing
    out(machine, 0x21, 0x00)
    assert cpu.intr
    assert ack(machine) == 0x0C       # the request itself is still there


def test_an_imr_write_re_evaluates_int_at_once(pc):
    """OCW1 acts on the resolver at once (Bochs, QEMU): unmasking a request that
    waits in IRR raises INT, masking the one INT stands for drops it, and masking
    it while another request can be granted leaves INT up for that one."""
    machine, cpu = pc
    out(machine, 0x21, 0xFF)
    machine.bus.set_irq(6, 1)
    machine.bus.set_irq(4, 1)
    assert not cpu.intr and read_irr(machine) == 0x50
    out(machine, 0x21, 0xBF)          # unmask IR6 only
    assert cpu.edges == [True]
    out(machine, 0x21, 0xFF)          # mask it again: INT falls
    assert cpu.edges == [True, False]
    out(machine, 0x21, 0xEF)          # IR4
    assert cpu.edges == [True, False, True]
    out(machine, 0x21, 0xAF)          # IR6 too: INT stays up (one edge, no new one)
    assert cpu.edges == [True, False, True]
    out(machine, 0x21, 0xBF)          # IR4 masked, IR6 still grantable: INT stays up
    assert cpu.edges == [True, False, True]
    assert ack(machine) == 0x0E
    # a request below the level in service cannot be granted: masking the other drops INT
    out(machine, 0x21, 0x00)
    assert cpu.intr and ack(machine) == 0x0C
    machine.bus.set_irq(3, 1)
    assert cpu.intr
    machine.bus.set_irq(7, 1)
    out(machine, 0x21, 0x08)          # IR3 masked; IR7 waits below IR4 in service
    assert not cpu.intr and read_irr(machine) == 0x88
    out(machine, 0x20, EOI)           # IR4 done, IR6 still in service: IR7 waits
    assert not cpu.intr
    out(machine, 0x20, EOI)
    assert cpu.intr and ack(machine) == 0x0F and read_isr(machine) == 0x80


def test_masking_a_slave_request_drops_the_slave_int(pc):
    machine, cpu = pc
    out(machine, 0xA1, 0xFF)
    machine.bus.set_irq(10, 1)
    assert not cpu.intr
    out(machine, 0xA1, 0xFB)          # unmask IR10: the slave's INT raises master IR2
    assert cpu.intr and read_irr(machine) == 0x04
    assert ack(machine) == 0x72
    out(machine, 0x20, EOI)
    out(machine, 0xA0, EOI)
    machine.bus.set_irq(10, 0)
    machine.bus.set_irq(10, 1)
    assert cpu.intr
    out(machine, 0xA1, 0xFF)          # masked on the slave: its INT (master IR2) falls
    assert read_irr(machine) == 0x00


def test_spurious_irq15_sets_only_the_master_cascade_bit(pc):
    machine, cpu = pc
    machine.bus.set_irq(11, 1)
    machine.bus.set_irq(11, 0)
    assert cpu.intr
    assert ack(machine) == 0x77
    assert read_isr(machine, 0xA0) == 0x00
    assert read_isr(machine) == 0x04  # the handler must EOI the master only


def test_pulse_on_an_edge_input_ends_as_spurious(pc):
    machine, _ = pc
    machine.bus.pulse_irq(5)
    assert ack(machine) == 0x0F


# ---------------------------------------------------------------------- edge and level

def test_edge_input_held_high_interrupts_once(pc):
    machine, cpu = pc
    machine.bus.set_irq(10, 1)
    assert ack(machine) == 0x72
    out(machine, 0xA0, EOI)
    out(machine, 0x20, EOI)
    assert not cpu.intr               # no new edge
    machine.bus.set_irq(10, 0)
    machine.bus.set_irq(10, 1)
    assert cpu.intr


def test_elcr_level_input_interrupts_again_while_held(pc):
    machine, cpu = pc
    out(machine, 0x4D1, 0x04)         # IRQ10 level-triggered
    assert inb(machine, 0x4D1) == 0x04
    machine.bus.set_irq(10, 1)
    assert ack(machine) == 0x72
    assert read_irr(machine, 0xA0) == 0x04  # level requests stay in IRR
    out(machine, 0xA0, EOI)
    out(machine, 0x20, EOI)
    assert cpu.intr                   # still asserted: interrupts again
    assert ack(machine) == 0x72
    machine.bus.set_irq(10, 0)        # the driver serviced the device
    out(machine, 0xA0, EOI)
    out(machine, 0x20, EOI)
    assert not cpu.intr


def test_elcr_reserved_bits_and_switching_to_level(pc):
    machine, cpu = pc
    out(machine, 0x4D0, 0xFF)
    assert inb(machine, 0x4D0) == 0xF8    # IRQ0-2 are always edge
    out(machine, 0x4D1, 0xFF)
    assert inb(machine, 0x4D1) == 0xDE    # IRQ8 and IRQ13 are always edge
    out(machine, 0x4D0, 0x00)
    machine.bus.set_irq(5, 1)
    ack(machine)
    out(machine, 0x20, EOI)
    assert not cpu.intr
    out(machine, 0x4D0, 0x20)             # the line is still high: now a request
    assert read_irr(machine) == 0x20 and cpu.intr


def test_icw1_ltim_makes_every_input_level_triggered():
    machine, cpu = build()
    init_pair(machine, level=True)
    machine.bus.set_irq(6, 1)
    assert ack(machine) == 0x0E
    out(machine, 0x20, EOI)
    assert ack(machine) == 0x0E
    machine.bus.set_irq(6, 0)
    assert read_irr(machine) == 0x00


# ---------------------------------------------------------------------- AEOI

def test_auto_eoi_leaves_isr_clear(pc):
    machine, cpu = pc
    init_pair(machine, master_icw4=0x03, slave_icw4=0x03)
    machine.bus.set_irq(3, 1)
    assert ack(machine) == 0x0B
    assert read_isr(machine) == 0x00
    machine.bus.set_irq(5, 1)
    assert cpu.intr                   # nothing in service blocks IR5
    machine.bus.set_irq(13, 1)
    assert ack(machine) == 0x75
    assert read_isr(machine) == 0 and read_isr(machine, 0xA0) == 0


def test_auto_eoi_slave_delivers_back_to_back_requests(pc):
    """After INTA the slave's INT falls and rises again for its next request, a new
    edge on the master's input 2."""
    machine, cpu = pc
    init_pair(machine, master_icw4=0x03, slave_icw4=0x03)
    machine.bus.set_irq(12, 1)
    machine.bus.set_irq(9, 1)
    assert ack(machine) == 0x71
    assert cpu.intr
    assert ack(machine) == 0x74
    assert not cpu.intr


def test_rotate_in_auto_eoi_mode(pc):
    machine, _ = pc
    init_pair(machine, master_icw4=0x03)
    out(machine, 0x20, 0x80)          # rotate in AEOI: set
    machine.bus.set_irq(1, 1)
    assert ack(machine) == 0x09       # IR1 becomes lowest
    machine.bus.set_irq(1, 0)
    machine.bus.set_irq(1, 1)
    machine.bus.set_irq(6, 1)
    assert ack(machine) == 0x0E
    out(machine, 0x20, 0x00)          # rotate in AEOI: clear
    machine.bus.set_irq(0, 1)
    machine.bus.set_irq(0, 0)
    machine.bus.set_irq(7, 1)
    assert ack(machine) == 0x0F       # lowest is 6: 7 comes first
    machine.bus.set_irq(0, 1)
    assert ack(machine) == 0x08       # no rotation: 7 was not made lowest
    machine.bus.set_irq(7, 0)
    machine.bus.set_irq(7, 1)
    machine.bus.set_irq(1, 0)
    machine.bus.set_irq(1, 1)
    assert ack(machine) == 0x0F


# ---------------------------------------------------------------------- timer through the PIC

def test_pit_at_100hz_delivers_100_timer_interrupts_per_second():
    machine, cpu = build(extra=[(PIT, "pit", {})])
    init_pair(machine)
    out(machine, 0x21, 0xFE)
    out(machine, 0x43, 0x34)
    divisor = round(PIT_HZ / 100)
    out(machine, 0x40, divisor & 0xFF)
    out(machine, 0x40, divisor >> 8)
    clock = machine.clock
    end = clock.icount + clock.ips + clock.ips // 200
    vectors = []
    while machine.run_slice(end) is None:
        if cpu.intr:                  # the handler: INTA, then EOI
            vectors.append(ack(machine))
            out(machine, 0x20, EOI)
    assert vectors == [0x08] * 100


# ---------------------------------------------------------------------- wiring and state

def test_bad_slave_output_is_a_profile_error():
    with pytest.raises(ProfileError):
        build(slave={"output": "nowhere:2"})
    with pytest.raises(ProfileError):
        build(slave={"output": "pic_master:3"})   # not a cascade input


def test_save_restore_resumes_identically():
    def scenario(machine, seed):
        rng = random.Random(seed)
        seen = []
        for _ in range(300):
            line = rng.choice([1, 3, 4, 6, 9, 10, 12, 14])
            machine.bus.set_irq(line, rng.random() < 0.6)
            if rng.random() < 0.5:
                seen.append(ack(machine))
                if rng.random() < 0.7:
                    out(machine, 0xA0, EOI)
                    out(machine, 0x20, EOI)
            seen.append((read_isr(machine), read_irr(machine, 0xA0), inb(machine, 0x21)))
        return seen

    machine, cpu = build()
    init_pair(machine)
    out(machine, 0x4D1, 0x04)
    scenario(machine, 1)
    snapshot = machine.snapshot()
    continued = scenario(machine, 2)
    final = machine.snapshot()

    other, other_cpu = build()
    other.restore(snapshot)
    assert other.snapshot()["components"] == snapshot["components"]
    assert scenario(other, 2) == continued
    assert other.snapshot() == final


class PairModel:
    """What the test programmed and the chips cannot report: initialisation words
    still expected, ICW1 LTIM and the ICW2 vector bases."""

    def __init__(self) -> None:
        self.expected: Dict[int, List[str]] = {0x20: [], 0xA0: []}
        self.level_triggered = {0x20: False, 0xA0: False}
        self.bases = {0x20: 0x08, 0xA0: 0x70}

    def wrote(self, port: int, value: int) -> None:
        command = port & ~1
        if command not in self.expected:
            return
        if port == command and value & 0x10:            # ICW1
            self.expected[command] = (["ICW2"] + ([] if value & 0x02 else ["ICW3"])
                                      + (["ICW4"] if value & 0x01 else []))
            self.level_triggered[command] = bool(value & 0x08)
        elif port != command and self.expected[command]:
            if self.expected[command].pop(0) == "ICW2":
                self.bases[command] = value & 0xF8

    def initialising(self) -> bool:
        return any(self.expected.values())


def check_pair_invariants(machine: Machine, cpu: Cpu, model: PairModel) -> None:
    """Datasheet relations seen through the ports (OCW3 IRR/ISR reads, OCW1, ELCR):
    IRR holds only requests whose line is high, and follows the line exactly for a
    level-triggered input; INT (the CPU's INTR) is up whenever an unmasked request
    waits and nothing is in service; the PIIX ELCR keeps IRQ 0-2, 8 and 13 edge."""
    intr = cpu.intr                                     # before the reads below
    elcr = {0x20: inb(machine, 0x4D0), 0xA0: inb(machine, 0x4D1)}
    assert elcr[0x20] & 0x07 == 0 and elcr[0xA0] & 0x21 == 0
    for command, irq_base in ((0x20, 0), (0xA0, 8)):
        irr, isr, imr = read_irr(machine, command), read_isr(machine, command), inb(machine, command + 1)
        lines = sum(1 << i for i in range(8) if machine.bus.irq_levels[irq_base + i])
        inputs = 0xFB if command == 0x20 else 0xFF       # master IR2 is the slave's INT
        level = 0xFF if model.level_triggered[command] else elcr[command]
        assert irr & inputs & ~lines == 0
        assert irr & inputs & level == lines & inputs & level
        if command == 0x20 and not model.initialising() and not isr and irr & ~imr:
            assert intr


def test_random_traffic_keeps_irr_lines_intr_and_vectors_consistent():
    machine, cpu = build()
    init_pair(machine)
    model = PairModel()
    rng = random.Random(8259)
    for _ in range(5000):
        port = rng.choice([0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1])
        action = rng.random()
        if action < 0.4:
            value = rng.randrange(256)
            out(machine, port, value)
            model.wrote(port, value)
        elif action < 0.6:
            inb(machine, port)
        elif action < 0.8:
            machine.bus.set_irq(rng.choice([0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
                                rng.random() < 0.5)
        elif not model.initialising():
            vector = ack(machine)                        # a programmed base, or a floating bus
            assert vector == 0xFF or vector & 0xF8 in model.bases.values()
        check_pair_invariants(machine, cpu, model)


# ---------------------------------------------------------------------- snapshots

def test_a_restored_pair_drives_intr_as_saved():
    """Snapshot with a request pending: the restored master drives the CPU's INTR
    again (a fresh machine's pin is low) and answers INTA with that request."""
    machine, cpu = build()
    init_pair(machine)
    out(machine, 0x21, 0xF7)                       # only IR3 open
    machine.bus.set_irq(3, 1)
    assert cpu.intr
    state = machine.snapshot()
    restored, restored_cpu = build()
    restored.restore(state)
    assert restored_cpu.intr
    assert ack(restored) == 0x0B
    assert read_isr(restored) == 0x08
