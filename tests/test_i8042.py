"""8042 keyboard controller, PS/2 keyboard and mouse, driven through ports 0x60/0x64
as a guest driver does, with virtual time advanced between reads."""

import random
from typing import List, Optional

import pytest

from pcmachine import Machine, hookimpl
from pcmachine.bus import A20_DISABLED_MASK, A20_ENABLED_MASK
from pcmachine.errors import UserError
from pcmachine.plugins.i8042.controller import KeyboardController
from pcmachine.plugins.i8042.keymap import codes_for, parse_type
from pcmachine.plugins.chipset.port92 import FastA20Port

DATA, STATUS = 0x60, 0x64
OBF, SYS, CMD, UNLOCKED, AUX, TIMEOUT = 0x01, 0x04, 0x08, 0x10, 0x20, 0x40
SERIAL_NS = 250_000          # the default serial_delay_us


class Recorder:
    """Records resets and key_input events the machine reports."""

    def __init__(self) -> None:
        self.resets: List[str] = []
        self.keys: list = []

    @hookimpl
    def machine_reset(self, cause: str) -> None:
        self.resets.append(cause)

    @hookimpl
    def key_input(self, key: str, pressed: bool, scancodes: bytes) -> None:
        self.keys.append((key, pressed, bytes(scancodes)))


def build(mouse: bool = True, port92: bool = False) -> Machine:
    machine = Machine.bare()
    machine.add_component(KeyboardController, "kbc", {"mouse": mouse})
    if port92:
        machine.add_component(FastA20Port, "port92", {})
    machine.recorder = Recorder()
    machine.add_plugin(machine.recorder)
    machine.configure()
    return machine


@pytest.fixture
def machine() -> Machine:
    return build()


def status(m: Machine) -> int:
    return m.bus.io_read(STATUS, 1)


def command(m: Machine, value: int, data: Optional[int] = None) -> None:
    m.bus.io_write(STATUS, 1, value)
    if data is not None:
        m.bus.io_write(DATA, 1, data)


def elapse(m: Machine, ns: int = 300_000) -> None:
    m.clock.skip_to(m.clock.now() + ns)
    m.clock.run_due()


def read_bytes(m: Machine, limit: int = 10_000) -> bytes:
    """Poll like a driver: wait for OBF, read 0x60; stop after three idle periods."""
    out, idle = bytearray(), 0
    while idle < 3 and len(out) < limit:
        if status(m) & OBF:
            out.append(m.bus.io_read(DATA, 1))
            idle = 0
        else:
            elapse(m)
            idle += status(m) & OBF == 0
    return bytes(out)


def send_to_keyboard(m: Machine, *data: int) -> bytes:
    """Send bytes one at a time, collecting each reply before the next, as a driver
    waits for the ACK."""
    out = bytearray()
    for byte in data:
        m.bus.io_write(DATA, 1, byte)
        out += read_bytes(m)
    return bytes(out)


def apply_inputs(m: Machine) -> None:
    m._apply_inputs()


def set_command_byte(m: Machine, value: int) -> None:
    command(m, 0x60, value)


# ---------------------------------------------------------------- controller
def test_power_on_status_and_command_byte(machine):
    assert status(machine) == UNLOCKED | CMD
    command(machine, 0x20)
    assert status(machine) & OBF
    assert machine.bus.io_read(DATA, 1) == 0x61
    assert not status(machine) & OBF


def test_self_test_sets_system_flag(machine):
    command(machine, 0xAA)
    assert status(machine) == OBF | SYS | CMD | UNLOCKED
    assert machine.bus.io_read(DATA, 1) == 0x55
    command(machine, 0x20)
    assert machine.bus.io_read(DATA, 1) & SYS


@pytest.mark.parametrize("cmd,expected", [(0xAB, 0x00), (0xA9, 0x00), (0xC0, 0x80), (0xA4, 0xF1)])
def test_single_byte_replies(machine, cmd, expected):
    command(machine, cmd)
    assert machine.bus.io_read(DATA, 1) == expected


def test_command_byte_write_and_status_bits(machine):
    set_command_byte(machine, 0x04)          # system flag, no translation, no IRQs
    assert status(machine) & (SYS | CMD) == SYS   # the last write was data
    command(machine, 0x20)
    assert machine.bus.io_read(DATA, 1) == 0x04
    set_command_byte(machine, 0x00)
    assert not status(machine) & SYS


def test_internal_ram_read_write(machine):
    command(machine, 0x65, 0xA5)
    command(machine, 0x25)
    assert machine.bus.io_read(DATA, 1) == 0xA5
    command(machine, 0x3F)
    assert machine.bus.io_read(DATA, 1) == 0x00


def test_reply_dropped_while_output_buffer_full(machine):
    command(machine, 0xAB)
    command(machine, 0x20)                   # Bochs ignores it: OBF still holds 0x00
    assert machine.bus.io_read(DATA, 1) == 0x00
    assert not status(machine) & OBF


def test_disable_and_enable_interfaces_update_command_byte(machine):
    command(machine, 0xAD)
    command(machine, 0xA8)
    command(machine, 0x20)
    assert machine.bus.io_read(DATA, 1) == 0x51
    command(machine, 0xAE)
    command(machine, 0xA7)
    command(machine, 0x20)
    assert machine.bus.io_read(DATA, 1) == 0x61


def test_keys_wait_while_keyboard_interface_is_disabled(machine):
    set_command_byte(machine, 0x00)
    command(machine, 0xAD)
    machine.keyboard.type("a")
    apply_inputs(machine)
    assert read_bytes(machine) == b""
    command(machine, 0xAE)
    assert read_bytes(machine) == bytes([0x1C, 0xF0, 0x1C])


# ---------------------------------------------------------------- keyboard commands
@pytest.mark.parametrize("sent,reply", [
    ((0xFF,), "fa aa"),
    ((0xF2,), "fa ab 83"),
    ((0xEE,), "ee"),
    ((0xF0, 0x00), "fa fa 02"),
    ((0xF0, 0x01, 0xF0, 0x00), "fa fa fa fa 01"),
    ((0xF0, 0x03), "fa fe"),
    ((0xF0, 0x03, 0xF4), "fa fe fa"),
    ((0xED, 0x07), "fa fa"),
    ((0xF3, 0x20), "fa fa"),
    ((0xF4,), "fa"), ((0xF5,), "fa"), ((0xF6,), "fa"),
    ((0xEE, 0xFE), "ee ee"),
    ((0x01,), "fe"), ((0xF7,), "fe"),
])
def test_keyboard_command_replies_untranslated(machine, sent, reply):
    set_command_byte(machine, 0x00)
    assert send_to_keyboard(machine, *sent).hex(" ") == reply


def test_identify_with_translation_gives_0x41(machine):
    assert send_to_keyboard(machine, 0xF2).hex(" ") == "fa ab 41"


def test_leds_and_typematic_are_kept():
    m = build()
    send_to_keyboard(m, 0xED, 0x05, 0xF3, 0x7F)
    kbd = m.component("kbc").keyboard.state
    assert (kbd.leds, kbd.typematic) == (0x05, 0x7F)


def test_writing_to_keyboard_reenables_its_interface(machine):
    set_command_byte(machine, 0x10)
    assert send_to_keyboard(machine, 0xEE) == b"\xee"
    command(machine, 0x20)
    assert machine.bus.io_read(DATA, 1) == 0x00


def test_disable_scanning_drops_keys_enable_restores(machine):
    set_command_byte(machine, 0x00)
    send_to_keyboard(machine, 0xF5)
    machine.keyboard.type("a")
    apply_inputs(machine)
    assert read_bytes(machine) == b""
    send_to_keyboard(machine, 0xF4)
    machine.keyboard.type("a")
    apply_inputs(machine)
    assert read_bytes(machine) == bytes([0x1C, 0xF0, 0x1C])


def test_reset_restores_set_2_and_clears_fifo(machine):
    set_command_byte(machine, 0x00)
    send_to_keyboard(machine, 0xF0, 0x01)
    machine.keyboard.type("abc")
    apply_inputs(machine)
    assert send_to_keyboard(machine, 0xFF)[-2:] == b"\xfa\xaa"
    machine.keyboard.type("a")
    apply_inputs(machine)
    assert read_bytes(machine) == bytes([0x1C, 0xF0, 0x1C])


# ---------------------------------------------------------------- typing
HELLO = "Hello, World!\n{ctrl+alt+del}"
HELLO_SET2 = ("12 33 f0 33 f0 12 24 f0 24 4b f0 4b 4b f0 4b 44 f0 44 41 f0 41 29 f0 29 "
              "12 1d f0 1d f0 12 44 f0 44 2d f0 2d 4b f0 4b 23 f0 23 "
              "12 16 f0 16 f0 12 5a f0 5a 14 11 e0 71 e0 f0 71 f0 11 f0 14")
HELLO_SET1 = ("2a 23 a3 aa 12 92 26 a6 26 a6 18 98 33 b3 39 b9 2a 11 91 aa 18 98 13 93 26 a6 "
              "20 a0 2a 02 82 aa 1c 9c 1d 38 e0 53 e0 d3 b8 9d")


def type_and_read(m: Machine, text: str) -> bytes:
    """Type through the input queue, applying inputs at 'slice boundaries' while
    the guest reads, as the run loop does."""
    m.keyboard.type(text)
    out = bytearray()
    for _ in range(100_000):
        apply_inputs(m)
        chunk = read_bytes(m)
        out += chunk
        if not chunk and not m.inputs_pending:
            break
    return bytes(out)


def test_type_with_translation(machine):
    assert type_and_read(machine, HELLO).hex(" ") == HELLO_SET1


def test_type_without_translation(machine):
    set_command_byte(machine, 0x01)
    assert type_and_read(machine, HELLO).hex(" ") == HELLO_SET2


def test_type_in_scancode_set_1_without_translation(machine):
    set_command_byte(machine, 0x01)
    send_to_keyboard(machine, 0xF0, 0x01)
    assert type_and_read(machine, HELLO).hex(" ") == HELLO_SET1


def test_long_text_is_paced_by_the_guest_reading(machine):
    text = "The quick brown fox jumps over the lazy dog. 0123456789 {f1}{up}{pgdn}\n" * 8
    machine.keyboard.type(text)
    apply_inputs(machine)
    assert machine.inputs_pending            # the 16-byte FIFO cannot take it all
    fifo = machine.component("kbc").keyboard.state.fifo
    assert len(fifo) <= 16
    out = bytearray()
    while machine.inputs_pending or status(machine) & OBF or fifo:
        apply_inputs(machine)
        out += read_bytes(machine, limit=3)
    assert bytes(out) == codes_for(parse_type(text), 2, translate=True)


def test_press_release_and_key_input_hook(machine):
    machine.keyboard.press("Left")
    machine.keyboard.release("left")
    apply_inputs(machine)
    assert read_bytes(machine).hex(" ") == "e0 4b e0 cb"
    assert machine.recorder.keys == [("left", True, b"\xe0\x6b"),
                                     ("left", False, b"\xe0\xf0\x6b")]


def test_unknown_keys_raise_before_anything_is_queued(machine):
    with pytest.raises(UserError):
        machine.keyboard.type("ok{nokey}")
    with pytest.raises(UserError):
        machine.keyboard.press("nokey")
    assert not machine.inputs_pending


# ---------------------------------------------------------------- IRQs and timing
def test_irq1_follows_keyboard_data_in_output_buffer(machine):
    machine.keyboard.press("a")
    apply_inputs(machine)
    assert machine.bus.irq_levels[1] == 0 and not status(machine) & OBF
    elapse(machine, SERIAL_NS - 1000)
    assert machine.bus.irq_levels[1] == 0        # the byte is still on the wire
    elapse(machine, 1000)
    assert machine.bus.irq_levels[1] == 1 and status(machine) & OBF
    assert machine.bus.io_read(DATA, 1) == 0x1E
    assert machine.bus.irq_levels[1] == 0


def test_irq1_edges_once_per_byte():
    m = build()
    edges = []
    m.bus.connect_irq(1, edges.append)
    m.keyboard.type("ab")
    apply_inputs(m)
    assert len(read_bytes(m)) == 4
    assert edges == [1, 0] * 4


def test_irq1_masked_by_command_byte(machine):
    set_command_byte(machine, 0x40)
    machine.keyboard.press("a")
    apply_inputs(machine)
    elapse(machine)
    assert status(machine) & OBF and machine.bus.irq_levels[1] == 0
    set_command_byte(machine, 0x41)          # enabling with data waiting raises it
    assert machine.bus.irq_levels[1] == 1


def test_controller_reply_raises_irq1_when_enabled(machine):
    command(machine, 0x20)
    assert machine.bus.irq_levels[1] == 1
    machine.bus.io_read(DATA, 1)
    assert machine.bus.irq_levels[1] == 0


# ---------------------------------------------------------------- A20 and reset
def test_a20_enabled_at_reset_and_through_output_port(machine):
    assert machine.bus.a20_mask == A20_ENABLED_MASK
    command(machine, 0xD1, 0xDD)
    assert machine.bus.a20_mask == A20_DISABLED_MASK
    command(machine, 0xD0)
    assert machine.bus.io_read(DATA, 1) & 0x02 == 0
    command(machine, 0xD1, 0xDF)
    assert machine.bus.a20_mask == A20_ENABLED_MASK
    command(machine, 0xD0)
    assert machine.bus.io_read(DATA, 1) & 0x03 == 0x03


def test_a20_shortcut_commands(machine):
    command(machine, 0xDD)
    assert machine.bus.a20_mask == A20_DISABLED_MASK
    command(machine, 0xDF)
    assert machine.bus.a20_mask == A20_ENABLED_MASK


def test_output_port_write_and_read_back(machine):
    command(machine, 0xD1, 0xFF)
    command(machine, 0xD0)                    # bits 4/5 are the IRQ outputs: low, OBF is empty
    assert machine.bus.io_read(DATA, 1) == 0xCF


def test_write_keyboard_output_buffer(machine):
    command(machine, 0xD2, 0x12)              # a byte "from the keyboard"
    assert machine.bus.irq_levels[1] == 1
    command(machine, 0xD0)                    # dropped: the buffer is full
    assert machine.bus.io_read(DATA, 1) == 0x12


def test_a20_sources_combine_with_port92():
    m = build(port92=True)
    command(m, 0xDD)
    assert m.bus.a20_mask == A20_DISABLED_MASK
    m.bus.io_write(0x92, 1, 0x02)
    assert m.bus.a20_mask == A20_ENABLED_MASK
    m.bus.io_write(0x92, 1, 0x00)
    assert m.bus.a20_mask == A20_DISABLED_MASK


@pytest.mark.parametrize("cmd,data,resets", [
    (0xFE, None, 1), (0xF0, None, 1), (0xFA, None, 1), (0xFF, None, 0), (0xFD, None, 0),
    (0xD1, 0xDE, 1), (0xD1, 0xDF, 0),
])
def test_reset_line(cmd, data, resets):
    m = build()
    m.recorder.resets.clear()
    command(m, cmd, data)
    m.run_slice(m.clock.icount + 10)
    assert m.recorder.resets == ["reset-line"] * resets


def test_reset_returns_controller_to_power_on(machine):
    command(machine, 0xDD)
    set_command_byte(machine, 0x00)
    machine.keyboard.type("x")
    apply_inputs(machine)
    command(machine, 0xFE)
    machine.run_slice(machine.clock.icount + 10)
    assert machine.bus.a20_mask == A20_ENABLED_MASK
    assert status(machine) == UNLOCKED | CMD
    assert read_bytes(machine) == b""
    command(machine, 0x20)
    assert machine.bus.io_read(DATA, 1) == 0x61


# ---------------------------------------------------------------- mouse
def read_mouse(m: Machine) -> bytes:
    out = bytearray()
    for _ in range(20):
        if status(m) & OBF:
            assert status(m) & AUX
            out.append(m.bus.io_read(DATA, 1))
        else:
            elapse(m)
    return bytes(out)


def to_mouse(m: Machine, *data: int) -> bytes:
    """0xD4 each byte to the mouse and collect its reply before the next."""
    out = bytearray(read_mouse(m))
    for byte in data:
        command(m, 0xD4, byte)
        out += read_mouse(m)
    return bytes(out)


@pytest.mark.parametrize("sent,reply", [
    ((0xFF,), "fa aa 00"), ((0xF2,), "fa 00"), ((0xF4,), "fa"), ((0xF5,), "fa"),
    ((0xE9,), "fa 00 02 64"), ((0xE8, 0x03, 0xE7, 0xF0, 0xE9), "fa fa fa fa fa 50 03 64"),
    ((0xF3, 200, 0xF3, 100, 0xF3, 80, 0xF2), "fa fa fa fa fa fa fa 03"),
    ((0xEE, 0x12, 0xEC, 0x12), "fa 12 fa fe"), ((0xEA, 0xFE), "fa fa"), ((0x42,), "fe"),
])
def test_mouse_command_replies(machine, sent, reply):
    assert to_mouse(machine, *sent).hex(" ") == reply


def test_mouse_packets_raise_irq12(machine):
    command(machine, 0xA8)
    set_command_byte(machine, 0x43)
    to_mouse(machine, 0xF4)
    machine.post_input("mouse", {"dx": 5, "dy": -3, "buttons": 1})
    apply_inputs(machine)
    elapse(machine)
    assert status(machine) & (OBF | AUX) == OBF | AUX
    assert machine.bus.irq_levels[12] == 1 and machine.bus.irq_levels[1] == 0
    packet = bytes([machine.bus.io_read(DATA, 1)]) + to_mouse(machine)
    assert packet.hex(" ") == "29 05 fd"
    assert machine.bus.irq_levels[12] == 0


def test_irq12_follows_the_aux_interrupt_enable(machine):
    """Command byte bit 1 gates IRQ12 as a level (QEMU `kbd_update_irq_lines`;
    Bochs requests IRQ12 when the bit is set with aux data waiting): with it
    clear a mouse packet raises no IRQ12 (and no IRQ1), setting it with a mouse
    byte in the output buffer raises IRQ12 at once, clearing it drops IRQ12."""
    edges = []
    machine.bus.connect_irq(12, edges.append)
    command(machine, 0xA8)
    set_command_byte(machine, 0x41)          # aux clock on, IRQ12 off, IRQ1 on
    to_mouse(machine, 0xF4)
    machine.post_input("mouse", {"dx": 1, "dy": 2, "buttons": 2})
    apply_inputs(machine)
    elapse(machine)
    assert status(machine) & (OBF | AUX) == OBF | AUX
    assert machine.bus.irq_levels[12] == 0 and machine.bus.irq_levels[1] == 0 and edges == []
    set_command_byte(machine, 0x43)          # enabling with a mouse byte waiting
    assert machine.bus.irq_levels[12] == 1 and machine.bus.irq_levels[1] == 0 and edges == [1]
    set_command_byte(machine, 0x41)
    assert machine.bus.irq_levels[12] == 0 and edges == [1, 0]
    assert bytes([machine.bus.io_read(DATA, 1)]) + to_mouse(machine) == bytes([0x0A, 1, 2])
    assert edges == [1, 0] and machine.bus.irq_levels[1] == 0


def test_mouse_stream_held_while_aux_disabled(machine):
    to_mouse(machine, 0xF4)
    machine.post_input("mouse", {"dx": 1, "dy": 1, "buttons": 0})
    apply_inputs(machine)
    assert to_mouse(machine) == b""
    command(machine, 0xA8)
    assert to_mouse(machine).hex(" ") == "08 01 01"


def test_remote_mode_read_data(machine):
    to_mouse(machine, 0xF0)
    machine.post_input("mouse", {"dx": -2, "dy": 300, "buttons": 4})
    apply_inputs(machine)
    assert to_mouse(machine, 0xEB).hex(" ") == "fa 9c fe ff"   # Y overflow, X negative, middle


def test_no_mouse_times_out():
    m = build(mouse=False)
    command(m, 0xD4, 0xFF)
    assert status(m) & (TIMEOUT | OBF) == TIMEOUT | OBF
    assert not status(m) & TIMEOUT           # cleared by the status read
    assert m.bus.io_read(DATA, 1) == 0xFE


def test_write_aux_output_buffer(machine):
    set_command_byte(machine, 0x02)
    command(machine, 0xD3, 0x77)
    assert status(machine) & (OBF | AUX) == OBF | AUX and machine.bus.irq_levels[12] == 1
    assert machine.bus.io_read(DATA, 1) == 0x77


# ---------------------------------------------------------------- state
def test_save_restore_mid_transfer_continues_identically():
    text = "ab{f12}"                           # 9 bytes: all in the keyboard FIFO
    m = build()
    m.keyboard.type(text)
    apply_inputs(m)
    assert not m.inputs_pending
    first = read_bytes(m, limit=2)
    elapse(m, SERIAL_NS // 2)                 # a transfer is on its way
    saved = m.snapshot()
    assert saved["components"]["kbc"]["state"]["controller"]["transfer_deadline"] >= 0
    other = build()
    other.restore(saved)
    assert other.snapshot() == saved
    tail_original, tail_restored = read_bytes(m), read_bytes(other)
    assert tail_restored == tail_original
    assert m.clock.now() == other.clock.now()
    assert first + tail_original == codes_for(parse_type(text), 2, True)


def test_save_load_save_is_identical(machine):
    command(machine, 0xDD)
    to_mouse(machine, 0xF3, 200, 0xF3, 100, 0xF3, 80)
    send_to_keyboard(machine, 0xED, 0x02)
    command(machine, 0x20)
    state = machine.component("kbc").snapshot()
    other = build()
    other.component("kbc").restore(state)
    assert other.component("kbc").snapshot() == state
    assert other.bus.a20_mask == A20_DISABLED_MASK
    assert other.bus.irq_levels[1] == 1


DATA_COMMANDS = set(range(0x60, 0x80)) | {0xD1, 0xD2, 0xD3, 0xD4}   # a data byte follows


def check_kbc_invariants(m: Machine, command_byte: Optional[int], awaiting_data: bool) -> Optional[int]:
    """IRQ 1 is the output buffer holding keyboard (or controller) data with command
    byte bit 0 set, IRQ 12 the buffer holding mouse data with bit 1 set; status bit 2
    is command byte bit 2.  `command_byte` is the last one read back (None once a
    write may have changed it); with the buffer empty and no command waiting for its
    data the check reads it back (0x20) as a guest would.  Returns what it knows."""
    st = status(m)
    irq1, irq12 = bool(m.bus.irq_levels[1]), bool(m.bus.irq_levels[12])
    full, aux = bool(st & 0x01), bool(st & 0x20)
    if command_byte is not None:
        assert irq1 == (full and not aux and bool(command_byte & 0x01))
        assert irq12 == (full and aux and bool(command_byte & 0x02))
        assert bool(st & 0x04) == bool(command_byte & 0x04)
    assert not irq1 or (full and not aux)
    assert not irq12 or (full and aux)
    if full or awaiting_data:
        return command_byte
    command(m, 0x20)
    st = status(m)
    irq1, irq12 = bool(m.bus.irq_levels[1]), bool(m.bus.irq_levels[12])
    command_byte = m.bus.io_read(DATA, 1)
    assert st & 0x21 == 0x01                        # the controller's own byte
    assert irq1 == bool(command_byte & 0x01) and not irq12
    assert bool(st & 0x04) == bool(command_byte & 0x04)
    assert status(m) & 0x01 == 0 and not m.bus.irq_levels[1]
    return command_byte


def test_random_port_traffic_keeps_irq_lines_on_the_output_buffer():
    rng = random.Random(8042)
    m = build()
    command_byte: Optional[int] = None
    awaiting_data = False
    for _ in range(3000):
        port = rng.choice((DATA, STATUS))
        if rng.random() < 0.5:
            value = rng.randrange(256)
            m.bus.io_write(port, 1, value)
            command_byte = None
            awaiting_data = port == STATUS and value in DATA_COMMANDS
        else:
            m.bus.io_read(port, 1)
        if rng.random() < 0.1:
            elapse(m, rng.randrange(1, 1_000_000))
        if rng.random() < 0.05:
            m.keyboard.press(rng.choice(("a", "f1", "pause", "prtsc", "up")))
            m.post_input("mouse", {"dx": rng.randrange(-400, 400), "dy": 3, "buttons": 1})
            apply_inputs(m)
        command_byte = check_kbc_invariants(m, command_byte, awaiting_data)


# ---------------------------------------------------------------- with a CPU and a PIC
# A real-mode guest at 0000:7C00 (nasm): vector 9 -> isr; PIC ICW1-4 (base 8), mask
# all but IRQ1; sti; idle: hlt; jmp idle.  isr: in al,0x60; out 0xE9,al; EOI; iret.
IRQ1_ECHO_GUEST = bytes.fromhex(
    "fa31c08ed88ed0bc007cc70624002e7cc70626000000b011e620b008e621b004e621b001e621"
    "b0fde621fbf4ebfde460e6e9b020e620cf")


class DebugconSink:
    def __init__(self) -> None:
        self.data = bytearray()

    @hookimpl
    def debugcon_byte(self, value: int) -> None:
        self.data.append(value)


def test_guest_interrupt_handler_receives_typed_text():
    from pcmachine.plugins.cpu import CPU
    from pcmachine.plugins.debug.debugcon import DebugConsole
    from pcmachine.plugins.chipset.i8259 import PIC
    from pcmachine.plugins.ram import RAM

    m = Machine.bare()
    m.add_component(RAM, "ram", {"size": "1M"})
    m.add_component(CPU, "cpu", {})
    m.add_component(PIC, "pic", {})
    m.add_component(KeyboardController, "kbc", {})
    m.add_component(DebugConsole, "debugcon", {})
    sink = DebugconSink()
    m.add_plugin(sink)
    m.configure()
    m.bus.memory[0x7C00:0x7C00 + len(IRQ1_ECHO_GUEST)] = IRQ1_ECHO_GUEST
    m.cpu.set_reg("cs", 0)
    m.cpu.set_reg("eip", 0x7C00)
    text = HELLO * 3
    expected = codes_for(parse_type(text), 2, translate=True)
    m.keyboard.type(text)
    for _ in range(10_000):
        assert m.run_slice(m.clock.icount + 100_000) is None
        if len(sink.data) >= len(expected):
            break
    assert bytes(sink.data) == expected
    assert m.clock.now() >= len(expected) * SERIAL_NS     # one byte per serial delay
