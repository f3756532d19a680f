"""The bus: memory fast/slow paths, ROM, MMIO, code-page watching, I/O dispatch,
IRQ edges and the A20 gate."""

from pcmachine import Machine, hookimpl
from pcmachine.bus import A20_DISABLED_MASK, A20_ENABLED_MASK
from pcmachine.plugins.ram import RAM


def make_machine(size="2M"):
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": size})
    return machine


def test_ram_is_fast_rom_is_read_only_and_mmio_dispatches():
    machine = make_machine()
    bus = machine.bus
    assert bus.read_fast[0] and bus.write_fast[0]
    bus.map_rom(0xF0000, b"\x12\x34" * 0x8000, "rom")
    assert bus.read_fast[0xF0] and not bus.write_fast[0xF0]
    bus.write(0xF0000, 2, 0xFFFF)
    assert bus.read(0xF0000, 2) == 0x3412
    log = []
    bus.map_mmio(0xA0000, 0x20000, "vga", lambda a, s: 0x55, lambda a, s, v: log.append((a, s, v)))
    assert not bus.read_fast[0xA0] and not bus.write_fast[0xBF]
    bus.write(0xB8000, 2, 0x0741)
    assert log == [(0xB8000, 2, 0x0741)]
    assert bus.read(0xB8000, 1) == 0x55


def test_unmapped_memory_reads_all_ones():
    machine = make_machine()
    assert machine.bus.read(0x00300000, 4) == 0xFFFFFFFF


def test_only_writes_to_watched_code_bytes_notify():
    machine = make_machine()
    bus = machine.bus
    seen = []
    bus.code_write_listeners.append(lambda page, start, end: seen.append((page, start, end)))
    bus.watch_code(0x7C00, 0x20)                    # a decoded block
    assert not bus.write_fast[7]
    bus.write(0x7BFE, 2, 0x1234)                    # a push just below the code
    bus.write_bytes(0x7C20, b"\x00" * 8)            # variables just after it
    assert seen == []
    bus.write(0x7BFF, 2, 0xCCCC)                    # overlaps the first code byte
    assert seen == [(7, 0x7BFF, 0x7C01)]


def test_rewriting_code_bytes_with_their_own_values_does_not_notify():
    machine = make_machine()
    bus = machine.bus
    seen = []
    bus.code_write_listeners.append(lambda page, start, end: seen.append((page, start, end)))
    bus.memory[0x7C00:0x7C04] = b"\xcd\x16\x90\x90"      # int 16h; nop; nop
    bus.watch_code(0x7C00, 4)
    bus.write(0x7C01, 1, 0x16)                      # the same interrupt number
    bus.write_byte(0x7C02, 0x90)
    bus.write_bytes(0x7C00, b"\xcd\x16")
    assert seen == []
    bus.write_bytes(0x7BFF, b"\x00\xcd\x10")         # int 10h now
    assert seen == [(7, 0x7BFF, 0x7C02)]
    assert bus.memory[0x7C01] == 0x10


def test_page_crossing_access_is_assembled_bytewise():
    machine = make_machine()
    bus = machine.bus
    bus.write(0x0FFF, 4, 0x44332211)
    assert bus.memory[0x0FFF:0x1003] == b"\x11\x22\x33\x44"
    assert bus.read(0x0FFE, 4) == 0x33221100


def test_code_page_writes_notify_listeners():
    machine = make_machine()
    bus = machine.bus
    seen = []
    bus.code_write_listeners.append(lambda page, start, end: seen.append((page, start, end)))
    bus.watch_code_page(7)
    assert not bus.write_fast[7]
    bus.write(0x7C00, 1, 0x90)
    bus.write_bytes(0x7000, b"\xcc" * 16)
    assert seen == [(7, 0x7C00, 0x7C01), (7, 0x7000, 0x7010)]
    assert bus.memory[0x7C00] == 0x90
    bus.unwatch_code_page(7)
    assert bus.write_fast[7]


def test_beside_code_lists_the_plain_ram_code_pages():
    """`Bus.beside_code` (the code pages whose other bytes the CPU may store to
    directly) holds a code page only while it is plain RAM: not while a region
    is over it, nor while a debugger watches it, nor once its code is gone."""
    machine = make_machine()
    bus = machine.bus
    bus.watch_code(0x7C00, 0x20)
    assert bus.beside_code[7] is bus.code_marks[7]
    bus.watch_data(7, lambda address, size, write, value: None)
    assert 7 not in bus.beside_code
    bus.unwatch_data(7)
    assert bus.beside_code[7] is bus.code_marks[7]
    bus.watch_code(0xC0000, 0x10)                   # code in shadow RAM...
    assert 0xC0 in bus.beside_code
    bus.remap_page(0xC0, bus.map_rom(0xD0000, b"\x90" * 0x1000, "rom"))   # ...made ROM
    assert 0xC0 not in bus.beside_code
    bus.watch_code(0x1FF000, 0x10)                  # the last page of the 2 MiB
    assert 0x1FF in bus.beside_code
    bus.unwatch_code_page(7)
    assert 7 not in bus.beside_code and bus.write_fast[7]


def test_io_dispatch_split_and_unclaimed():
    machine = make_machine()
    bus = machine.bus
    written = []
    bus.register_io(0x80, 0x81, lambda p, s: p & 0xFF, lambda p, s, v: written.append((p, s, v)), "test")
    bus.io_write(0x80, 2, 0xBBAA)
    assert written == [(0x80, 1, 0xAA), (0x81, 1, 0xBB)]
    assert bus.io_read(0x80, 2) == 0x8180
    assert bus.io_read(0x1234, 1) == 0xFF
    assert bus.io_read(0x1234, 4) == 0xFFFFFFFF
    assert bus.port_name(0x81) == "test"


def test_irq_hooks_fire_on_edges_only():
    machine = make_machine()
    events = []

    class Probe:
        @hookimpl
        def irq_raised(self, line):
            events.append(("up", line))

        @hookimpl
        def irq_lowered(self, line):
            events.append(("down", line))

    machine.add_plugin(Probe())
    levels = []
    machine.bus.connect_irq(3, levels.append)
    for level in (1, 1, 0, 0, 1):
        machine.bus.set_irq(3, level)
    assert events == [("up", 3), ("down", 3), ("up", 3)]
    assert levels == [1, 0, 1]


def test_a20_is_on_while_any_source_enables_it():
    bus = make_machine().bus
    masks = []
    bus.a20_listeners.append(masks.append)
    bus.set_a20("i8042", False)
    assert bus.a20_mask == A20_DISABLED_MASK
    bus.set_a20("port92", True)
    bus.set_a20("i8042", True)
    bus.set_a20("port92", False)
    assert bus.a20_mask == A20_ENABLED_MASK
    assert masks == [A20_DISABLED_MASK, A20_ENABLED_MASK]


def test_hook_flags_follow_registration():
    machine = make_machine()

    class Counter:
        @hookimpl
        def io_write(self, port):
            pass

    assert not machine.hooks.io_write
    plugin = machine.add_plugin(Counter())
    assert machine.hooks.io_write
    machine.remove_plugin(plugin)
    assert not machine.hooks.io_write
