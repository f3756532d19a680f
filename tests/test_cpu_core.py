"""CPU component contract: reset state, register API, run loop, instruction
count, HLT and interrupts, host calls, A20, tracing, snapshot/restore."""

from typing import Any, Tuple

import pytest

from cpu_support import (PortRecorder, VectorController, assemble, load_code, make_machine,
                         run_code, run_until_stopped)
from pcmachine.component import Component
from pcmachine.machine import Machine
from pcmachine.plugins.cpu import CPU


@pytest.mark.parametrize("model, base, edx", [("8086", 0xF0000, 0), ("80286", 0xF0000, 0),
                                              ("80386", 0xFFFF0000, 0x0308),
                                              ("80486", 0xFFFF0000, 0x0402)])
def test_reset_state(model: str, base: int, edx: int) -> None:
    cpu = make_machine(model).cpu
    assert cpu.get_reg("cs") == 0xF000
    assert cpu.seg_base[1] + cpu.get_reg("eip") == base + (0xFFF0 if model != "8086" else 0) or \
        model == "8086"
    assert cpu.get_reg("edx") == edx
    assert cpu.get_reg("eflags") == 2
    assert cpu.halted is False


def test_register_api_views_overlap() -> None:
    cpu = make_machine().cpu
    cpu.set_reg("eax", 0x12345678)
    assert (cpu.get_reg("ax"), cpu.get_reg("al"), cpu.get_reg("ah")) == (0x5678, 0x78, 0x56)
    cpu.set_reg("ah", 0xAB)
    assert cpu.get_reg("eax") == 0x1234AB78
    cpu.set_reg("ds", 0x1234)
    assert cpu.seg_base[3] == 0x12340
    cpu.set_flag("cf", True)
    cpu.set_flag("zf", True)
    assert cpu.get_reg("flags") & 0x41 == 0x41
    assert cpu.get_flag("cf") and not cpu.get_flag("of")
    cpu.write_mem("ds", 0x10, 2, 0xBEEF)
    assert cpu.read_linear(0x12350, 2) == 0xBEEF
    with pytest.raises(KeyError):
        cpu.get_reg("xyz")


def test_lazy_flags_match_eager_values() -> None:
    machine = run_code("mov ax, 0x7FFF\nadd ax, 1\npushf\nmov bx, 0\nsub bx, 1\npushf\nhlt")
    cpu = machine.cpu
    add_flags = cpu.read_mem("ss", 0x6FFE, 2)
    sub_flags = cpu.read_mem("ss", 0x6FFC, 2)
    assert add_flags & 0x8D5 == 0x894      # OF SF AF PF, no CF/ZF
    assert sub_flags & 0x8D5 == 0x095      # SF AF PF CF


def test_icount_is_exact_at_port_access() -> None:
    machine = make_machine()
    recorder = PortRecorder(machine)
    load_code(machine, assemble("nop\nnop\nnop\nout 0xE9, al\nnop\nout 0xE9, al\nhlt"))
    run_until_stopped(machine)
    assert recorder.icounts == [4, 6]
    assert machine.clock.icount == 7


def test_run_stops_exactly_at_stop_icount() -> None:
    machine = make_machine()
    load_code(machine, assemble("again: inc ax\ninc bx\njmp again"))
    machine.clock.stop_icount = 25
    executed = machine.cpu.run()
    assert executed == 25 and machine.clock.icount == 25
    assert machine.cpu.get_reg("ax") + machine.cpu.get_reg("bx") == 17


def irq_guest(model: str, body: str) -> Tuple[Machine, VectorController, PortRecorder]:
    """A machine running `body` with vector 20h (INTR's, from a VectorController)
    pointing at a handler that writes 'I' to port E9h."""
    machine = make_machine(model)
    controller = VectorController(machine, 0x20)
    recorder = PortRecorder(machine)
    load_code(machine, assemble("""
        mov word [0x80], handler
        mov word [0x82], 0
    """ + body + """
    handler:
        mov al, 'I'
        out 0xE9, al
        iret"""))
    return machine, controller, recorder


def run_with_interrupt_at(machine: Any, controller: Any, time_ns: int) -> str:
    """Run `irq_guest`'s machine until it stops, its interrupt requested by a device
    event at `time_ns` of virtual time."""
    class Timer(Component):
        def fire(self) -> None:
            controller.request()
    timer = Timer(machine, "timer", {})
    machine.clock.schedule(time_ns, timer.fire)
    return run_until_stopped(machine)


def test_hlt_waits_for_interrupt_and_time_skips() -> None:
    machine, controller, recorder = irq_guest("80486", """
        sti
        hlt
        mov al, 'W'
        out 0xE9, al
        cli
        hlt""")

    assert run_with_interrupt_at(machine, controller, 5_000_000) == "halted"    # 5 ms
    assert recorder.data == b"IW"
    assert machine.clock.now() >= 5_000_000
    assert machine.clock.icount < 20


def test_a_pending_interrupt_comes_in_the_window_of_sti_nop_cli() -> None:
    """STI delays interrupts by one instruction (SDM vol. 2, STI): with INTR
    already up, `sti; nop; cli` takes the interrupt between NOP and CLI.  SeaBIOS
    waits for IRQs this way (`sti; nop; rep nop; cli`); the block after STI ran
    whole, and the interrupt never came."""
    machine, controller, recorder = irq_guest("pentiumpro", """
        sti
        nop
        cli
        mov al, 'A'
        out 0xE9, al
        hlt""")
    controller.request()
    assert run_until_stopped(machine) == "halted"
    assert bytes(recorder.data) == b"IA"


@pytest.mark.parametrize("enable", [
    "sti",
    "push word 0x202\n        popf",
    "pushf\n        pop ax\n        or ax, 0x200\n        push ax\n        push cs\n"
    "        push word after\n        iret\n    after:",
], ids=["sti", "popf", "iret"])
def test_an_interrupt_held_by_if_costs_nothing_until_if_is_set(enable: str) -> None:
    """INTR up while IF is clear: the CPU looks at it once, not before every block
    of a long loop (a kernel's CLI section with the PIT running), and takes it as
    soon as STI (after its shadow), POPF or IRET sets IF."""
    machine, controller, recorder = irq_guest("pentiumpro", f"""
        mov cx, 2000
    spin:
        loop spin
        mov al, 'A'
        out 0xE9, al
        {enable}
        nop
        mov al, 'B'
        out 0xE9, al
        cli
        hlt""")
    cpu = machine.cpu
    service = cpu._service_interrupts
    calls = []

    def counted() -> None:
        calls.append(cpu.clock.icount)
        service()
    cpu._service_interrupts = counted
    controller.request()
    assert run_until_stopped(machine) == "halted"
    assert bytes(recorder.data) == b"AIB"
    assert len(calls) < 10


def test_hostcall_runs_every_time_and_may_redirect() -> None:
    machine = make_machine()
    cpu = machine.cpu
    code = assemble("""
        mov cx, 3
    again:
        call service          ; host call at 'service' adds 1 to BX each time
        loop again
        jmp 0:far_target      ; host call there redirects to 'redirected'
    far_target:
        mov dx, 0xBAD
        hlt
    redirected:
        mov dx, 0x600D
        hlt
    service:
        ret
    """)
    load_code(machine, code)
    service = 0x7C00 + code.index(b"\xC3", len(code) - 1)
    far_target = 0x7C00 + code.index(bytes([0xBA, 0xAD, 0x0B]))
    redirected = far_target + 4
    calls = []
    cpu.register_hostcall(service, lambda c: (calls.append(1),
                                              c.set_reg("bx", c.get_reg("bx") + 1)))
    cpu.register_hostcall(far_target, lambda c: c.set_reg("eip", redirected))
    run_until_stopped(machine)
    assert len(calls) == 3 and cpu.get_reg("bx") == 3
    assert cpu.get_reg("dx") == 0x600D


def test_a20_mask_applies_to_memory_accesses() -> None:
    machine = make_machine()
    machine.bus.set_a20("test", False)
    load_code(machine, assemble("mov ax, 0xFFFF\nmov ds, ax\nmov byte [0x10], 0x5A\nhlt"))
    run_until_stopped(machine)
    assert machine.bus.memory[0x0] == 0x5A and machine.bus.memory[0x100000] == 0
    machine.bus.set_a20("test", True)
    load_code(machine, assemble("mov ax, 0xFFFF\nmov ds, ax\nmov byte [0x10], 0xA5\nhlt"))
    machine.cpu.halted = False
    run_until_stopped(machine)
    assert machine.bus.memory[0x100000] == 0xA5


def test_instruction_hook_sees_every_instruction() -> None:
    from pcmachine import hookimpl
    machine = make_machine()
    seen = []

    class Tracer:
        @hookimpl
        def instruction(self, machine, cs, eip, linear, cpu):
            seen.append(eip)
    machine.add_plugin(Tracer())
    load_code(machine, assemble("nop\ninc ax\nnop\nhlt"))
    run_until_stopped(machine)
    assert seen == [0x7C00, 0x7C01, 0x7C02, 0x7C03]


def test_snapshot_restore_roundtrip_and_continuation() -> None:
    source = "mov cx, 500\nagain: add ax, cx\nadc dx, 0\nloop again\nhlt"
    machine = make_machine()
    load_code(machine, assemble(source))
    machine.clock.stop_icount = 300
    machine.cpu.run()
    state = machine.cpu.snapshot()
    other = make_machine()
    other.bus.memory[:] = machine.bus.memory
    other.clock.icount = machine.clock.icount
    other.cpu.restore(state)
    assert other.cpu.snapshot() == state
    run_until_stopped(machine)
    run_until_stopped(other)
    assert other.cpu.snapshot() == machine.cpu.snapshot()
    assert machine.cpu.get_reg("ax") == (500 * 501 // 2) & 0xFFFF


def test_triple_fault_requests_reset() -> None:
    machine = make_machine()
    # An IDT limit of 0 makes every interrupt fault, then #DF faults: shutdown.
    load_code(machine, assemble("lidt [zero]\nint 0x21\nhlt\nzero: dw 0, 0, 0"))
    causes = []
    machine.request_reset = causes.append
    machine.clock.stop_icount = 10
    machine.cpu.run()
    assert causes == ["triple-fault"]          # the cause named in hookspecs.py


def test_component_options_are_validated() -> None:
    assert CPU.OPTIONS["model"].choices == ("8086", "80186", "80286", "80386", "80486",
                                            "pentium", "pentiumpro", "pentium2", "pentium3", "pentium4")
    from pcmachine.errors import ProfileError
    with pytest.raises(ProfileError):
        make_machine("z80")


def test_hostcall_registered_inside_a_decoded_block() -> None:
    machine = make_machine()
    cpu = machine.cpu
    code = assemble("again: inc ax\ninc bx\ninc cx\ncmp ax, 3\njne again\nhlt")
    load_code(machine, code)
    machine.clock.stop_icount = 5          # the block at 'again' is now cached
    cpu.run()
    cpu.set_reg("edx", 0)
    cpu.register_hostcall(0x7C02, lambda c: c.set_reg("dx", c.get_reg("dx") + 1))
    run_until_stopped(machine)
    assert cpu.get_reg("dx") == 2 and cpu.get_reg("bx") == 3


def test_the_tsc_keeps_counting_while_hlt_waits() -> None:
    """The TSC counts processor clocks (SDM vol. 3, 17.17), and HLT stops execution,
    not the clock: RDTSC around an HLT that waits 5 ms of virtual time differs by
    5 ms' worth of ticks at machine.ips, as on QEMU.  (It used to stop: Linux's
    clocksource watchdog then found the TSC slower than the PIT and dropped it.)"""
    machine, controller, recorder = irq_guest("pentiumpro", """
        rdtsc
        mov [0x100], eax
        sti
        hlt
        rdtsc
        mov [0x104], eax
        cli
        hlt""")

    assert run_with_interrupt_at(machine, controller, 5_000_000) == "halted"    # 5 ms
    assert recorder.data == b"I"
    first, second = machine.cpu.read_linear(0x100, 4), machine.cpu.read_linear(0x104, 4)
    expected = 5_000_000 * machine.clock.ips // 1_000_000_000
    assert expected <= second - first <= expected + 20
