"""Guest programs (tests/guests/cpu/*.asm) exercising the CPU as a whole:
interrupts and exceptions through the IVT, self-modifying code (also inside the
running block), REP string
instructions across the segment wrap."""

import pytest

from cpu_support import PortRecorder, VectorController, load_guest, make_machine, run_until_stopped


def port_output(model: str, guest: str, tier2_threshold) -> str:
    """What `guest` writes to port E9h on `model` until it halts; tier 2's
    threshold None is the CPU's default (also under `pytest --tier2-threshold`,
    which makes its threshold the default)."""
    machine = make_machine(model, **({} if tier2_threshold is None else
                                     {"tier2_threshold": tier2_threshold}))
    recorder = PortRecorder(machine)
    load_guest(machine, guest)
    assert run_until_stopped(machine) == "halted"
    return recorder.data.decode()


def test_interrupts_and_exceptions_through_the_ivt() -> None:
    machine = make_machine("80486")
    recorder = PortRecorder(machine)
    controller = VectorController(machine, 0x08)
    load_guest(machine, "interrupts.bin")
    controller.request()          # pending from the start: taken only after STI
    assert run_until_stopped(machine) == "halted"
    assert recorder.data.decode() == "SBODRUNGTOK"
    assert controller.acknowledged == 1
    assert machine.cpu.get_flag("if") is False


def test_hardware_interrupt_waits_for_sti_shadow() -> None:
    machine = make_machine("80486")
    recorder = PortRecorder(machine)
    controller = VectorController(machine, 0x08)
    load_guest(machine, "interrupts.bin")
    controller.request()
    run_until_stopped(machine)
    # 'T' comes from the IRQ handler; 'G' (the last exception) before it.
    assert recorder.data.index(b"T") == recorder.data.index(b"G") + 1


def test_self_modifying_code_executes_new_bytes() -> None:
    machine = make_machine("80386")
    recorder = PortRecorder(machine)
    load_guest(machine, "smc.bin")
    assert run_until_stopped(machine) == "halted"
    assert recorder.data.decode() == "ab2"


@pytest.mark.parametrize("model, expected", [("pentium", "abcI"), ("pentiumpro", "abcI"),
                                             ("80486", "?abS")])
@pytest.mark.parametrize("tier2_threshold", [None, 0])
def test_a_store_into_the_running_block(model: str, expected: str, tier2_threshold) -> None:
    """A Pentium or later runs the bytes a store just wrote after it in the same
    block (iPXE's `int n` with a patched vector looped in INT 0 before); a 486
    runs its prefetched bytes until a jump."""
    assert port_output(model, "smc_block.bin", tier2_threshold) == expected


def test_rep_strings_wrap_at_64k() -> None:
    machine = make_machine("80386")
    recorder = PortRecorder(machine)
    load_guest(machine, "strings.bin")
    assert run_until_stopped(machine) == "halted"
    assert recorder.data.decode() == "MSCL"


@pytest.mark.parametrize("model, expected", [("pentiumpro", "abcdef" * 3 + "K"), ("pentium2", "abcdef" * 3 + "K"),
                                             ("pentium", "U"), ("80486", "U")])
@pytest.mark.parametrize("tier2_threshold", [None, 0])
def test_reserved_nops_and_endbr32_from_the_p6_on(model: str, expected: str, tier2_threshold) -> None:
    """tests/guests/cpu/hintnop.asm: 0F 18-0F 1F (NOP Ev, PREFETCHh, ENDBR32) are
    NOPs from the Pentium Pro on, touching no memory even past the segment limit,
    and #UD before it.  JOS built with Debian's gcc reset at its first printed
    number: libgcc's __udivdi3 starts with ENDBR32."""
    assert port_output(model, "hintnop.bin", tier2_threshold) == expected
