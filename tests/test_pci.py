"""PCI configuration mechanism #1 driven through 0xCF8/0xCFC as a guest's PCI
driver does (OSDev "PCI"; PCI Local Bus Specification 2.1, 3.2.2.3.2 and
chapter 6): bus 0 enumeration of pc.yaml (QEMU pc's i440FX/PIIX3 IDs and the
Bochs/QEMU standard VGA), BAR sizing, byte and word accesses inside the data
dword, master aborts, masks, snapshots, and isapc.yaml without PCI."""

import random

import pytest

from pcmachine import Machine, hookimpl
from pcmachine.errors import ProfileError

CONFIG_ADDRESS, CONFIG_DATA = 0xCF8, 0xCFC
ENABLE = 0x80000000
#: (device, function) -> (vendor, device, class code << 8 | revision, header type)
EXPECTED = {
    (0, 0): (0x8086, 0x1237, 0x06000002, 0x00),   # 82441FX host bridge
    (1, 0): (0x8086, 0x7000, 0x06010000, 0x80),   # PIIX3 ISA bridge, multi-function
    (1, 1): (0x8086, 0x7010, 0x01018000, 0x00),   # PIIX3 IDE, compatibility mode
    (2, 0): (0x1234, 0x1111, 0x03000000, 0x00),   # standard VGA
}


def pc(*overrides, profile="pc.yaml"):
    return Machine.from_profile(profile, list(overrides), {})


def address(bus, device, function, register):
    return ENABLE | bus << 16 | device << 11 | function << 8 | (register & 0xFC)


def read(machine, device, function, register, size=4, bus=0):
    machine.bus.io_write(CONFIG_ADDRESS, 4, address(bus, device, function, register))
    return machine.bus.io_read(CONFIG_DATA + (register & 3), size)


def write(machine, device, function, register, value, size=4, bus=0):
    machine.bus.io_write(CONFIG_ADDRESS, 4, address(bus, device, function, register))
    machine.bus.io_write(CONFIG_DATA + (register & 3), size, value)


def enumerate_bus(machine):
    """Brute-force scan of bus 0, with the multi-function rule of the spec (6.2.1)."""
    found = {}
    for device in range(32):
        for function in range(8):
            ids = read(machine, device, function, 0)
            if ids == 0xFFFFFFFF:
                if function == 0:
                    break
                continue
            header = read(machine, device, function, 0x0E, 1)
            found[(device, function)] = (ids & 0xFFFF, ids >> 16, read(machine, device, function, 8),
                                         header)
            if function == 0 and not header & 0x80:
                break
    return found


@pytest.fixture(scope="module")
def machine():
    return pc()


def test_bus_0_has_exactly_the_pc_functions(machine):
    assert enumerate_bus(machine) == EXPECTED


def test_every_function_decodes_only_its_own_number(machine):
    present = {(d, f) for d in range(32) for f in range(8) if read(machine, d, f, 0) != 0xFFFFFFFF}
    assert present == set(EXPECTED)


def test_absent_functions_other_buses_and_disabled_cycles_read_all_ones(machine):
    assert read(machine, 5, 0, 0) == 0xFFFFFFFF
    assert read(machine, 1, 2, 0) == 0xFFFFFFFF
    assert read(machine, 0, 0, 0, bus=1) == 0xFFFFFFFF
    assert read(machine, 5, 0, 0x3C, 1) == 0xFF
    assert read(machine, 5, 0, 0x3E, 2) == 0xFFFF
    machine.bus.io_write(CONFIG_ADDRESS, 4, 0x00000000)        # enable bit clear: 00:00.0 reg 0
    assert machine.bus.io_read(CONFIG_DATA, 4) == 0xFFFFFFFF
    machine.bus.io_write(CONFIG_DATA, 4, 0)
    assert read(machine, 0, 0, 0) == 0x12378086
    write(machine, 5, 0, 0x3C, 0x12, 1)                          # dropped, no error


def test_config_address_reads_back_without_reserved_bits(machine):
    machine.bus.io_write(CONFIG_ADDRESS, 4, 0xFFFFFFFF)
    assert machine.bus.io_read(CONFIG_ADDRESS, 4) == 0x80FFFFFC
    assert machine.bus.io_read(CONFIG_ADDRESS + 2, 2) == 0x80FF
    assert machine.bus.io_read(CONFIG_ADDRESS + 3, 1) == 0x80
    machine.bus.io_write(CONFIG_ADDRESS, 1, 0x00)                # byte writes do not load it
    machine.bus.io_write(CONFIG_ADDRESS + 2, 2, 0x0000)
    assert machine.bus.io_read(CONFIG_ADDRESS, 4) == 0x80FFFFFC


@pytest.mark.parametrize("device, function", sorted(EXPECTED))
def test_byte_and_word_reads_at_every_offset_match_the_dword(machine, device, function):
    for register in range(0, 0x40, 4):
        dword = read(machine, device, function, register)
        for offset in range(4):
            assert read(machine, device, function, register + offset, 1) == (dword >> 8 * offset) & 0xFF
        for offset in (0, 2):
            assert read(machine, device, function, register + offset, 2) == (dword >> 8 * offset) & 0xFFFF
        # a word at offset 1 or 3 stays inside the dword (byte enables); 3 gets FF above it
        assert read(machine, device, function, register + 1, 2) == (dword >> 8) & 0xFFFF
        assert read(machine, device, function, register + 3, 2) == 0xFF00 | dword >> 24


def test_byte_and_word_writes_at_offsets_reach_their_bytes():
    machine = pc()
    write(machine, 2, 0, 0x0D, 0x40, 1)                          # latency timer: byte 1 of dword 0x0C
    write(machine, 2, 0, 0x3C, 0x0B, 1)                          # interrupt line: byte 0 of 0x3C
    assert read(machine, 2, 0, 0x0C) & 0xFF00 == 0x4000
    assert read(machine, 2, 0, 0x3C, 1) == 0x0B
    write(machine, 1, 0, 0x62, 0x0B0A, 2)                        # PIRQC/PIRQD: word at offset 2
    write(machine, 1, 0, 0x61, 0x09, 1)                          # PIRQB: byte at offset 1
    assert read(machine, 1, 0, 0x60) == 0x0B0A0980


def test_read_only_fields_ignore_writes():
    machine = pc()
    for device, function in EXPECTED:
        before = [read(machine, device, function, r) for r in (0x00, 0x08, 0x2C)]
        write(machine, device, function, 0x00, 0)
        write(machine, device, function, 0x08, 0)
        write(machine, device, function, 0x0E, 0x7F, 1)
        write(machine, device, function, 0x2C, 0)
        assert [read(machine, device, function, r) for r in (0x00, 0x08, 0x2C)] == before
        assert read(machine, device, function, 0x0E, 1) == EXPECTED[(device, function)][3]


def test_command_bits_are_writable_and_status_errors_clear_by_writing_one():
    machine = pc()
    write(machine, 1, 1, 0x04, 0x0005, 2)                        # IDE: I/O + bus master
    assert read(machine, 1, 1, 0x04, 2) == 0x0005
    write(machine, 1, 1, 0x04, 0xFFFF, 2)
    assert read(machine, 1, 1, 0x04, 2) == 0x0547               # IO MEM MASTER PARITY SERR INTX
    machine.component("ide_pci").config[0x07] = 0x20             # received master abort
    write(machine, 1, 1, 0x06, 0x0000, 2)
    assert read(machine, 1, 1, 0x06, 2) == 0x2000
    write(machine, 1, 1, 0x06, 0x2000, 2)
    assert read(machine, 1, 1, 0x06, 2) == 0x0000


def size_bar(machine, device, function, index):
    """The OS's BAR sizing: save, write all ones, read the mask, restore."""
    register = 0x10 + 4 * index
    saved = read(machine, device, function, register)
    write(machine, device, function, register, 0xFFFFFFFF)
    mask = read(machine, device, function, register)
    write(machine, device, function, register, saved)
    return saved, mask


@pytest.mark.parametrize("vram, size", [("16M", 16 << 20), ("8M", 8 << 20), ("12M", 16 << 20),
                                        ("64K", 64 << 10)])
def test_vga_bar0_is_the_framebuffer_sized_to_a_power_of_two(vram, size):
    machine = pc(f"vga.vram={vram}")
    saved, mask = size_bar(machine, 2, 0, 0)
    assert saved == 0xE0000000 | 0x08                            # memory, 32-bit, prefetchable
    assert mask & 0xF == 0x08
    assert (~(mask & ~0xF) + 1) & 0xFFFFFFFF == size
    assert read(machine, 2, 0, 0x10) == saved
    for index in range(1, 6):
        assert size_bar(machine, 2, 0, index) == (0, 0)


def test_vga_bar0_stays_at_the_framebuffer():
    machine = pc("vga.lfb_address=0xD0000000")
    assert read(machine, 2, 0, 0x10) == 0xD0000008
    write(machine, 2, 0, 0x10, 0xC0000000)
    assert read(machine, 2, 0, 0x10) == 0xD0000008
    write(machine, 2, 0, 0x13, 0xFF, 1)                          # sizing byte by byte
    assert read(machine, 2, 0, 0x10) == 0xFF000008


def test_vga_framebuffer_must_be_aligned_to_its_bar():
    with pytest.raises(ProfileError, match="aligned"):
        pc("vga.lfb_address=0xE0800000")


def test_ide_bar4_is_a_programmable_16_byte_io_bar():
    machine = pc()
    saved, mask = size_bar(machine, 1, 1, 4)
    assert saved == 0xC001
    assert mask == 0xFFFFFFF1
    write(machine, 1, 1, 0x20, 0xD000)
    assert read(machine, 1, 1, 0x20) == 0xD001
    write(machine, 1, 1, 0x20, 0xD00F)                           # bits 3-1 are the size: read 0
    assert read(machine, 1, 1, 0x20) == 0xD001
    for index in range(4):                                       # legacy channels: no BARs
        assert size_bar(machine, 1, 1, index) == (0, 0)


def test_pirq_route_registers_reset_to_disabled():
    machine = pc()
    assert read(machine, 1, 0, 0x60) == 0x80808080
    write(machine, 1, 0, 0x60, 0xFFFFFFFF)
    assert read(machine, 1, 0, 0x60) == 0x8F8F8F8F
    write(machine, 1, 0, 0x60, 0x0B0A0B0A)
    bridge = machine.component("isa_bridge")
    assert [bridge.pirq_route(n) for n in range(4)] == [10, 11, 10, 11]
    machine.reset()
    assert read(machine, 1, 0, 0x60) == 0x80808080
    assert bridge.pirq_route(0) is None


def test_snapshot_keeps_config_address_and_written_registers():
    machine = pc()
    write(machine, 1, 0, 0x60, 0x8009800B)
    write(machine, 1, 1, 0x20, 0xD000)
    write(machine, 2, 0, 0x3C, 0x0A, 1)
    machine.bus.io_write(CONFIG_ADDRESS, 4, address(0, 1, 0, 0x60))
    state = machine.snapshot()
    restored = pc()
    restored.restore(state)
    assert restored.snapshot() == state
    assert restored.bus.io_read(CONFIG_ADDRESS, 4) == address(0, 1, 0, 0x60)
    assert restored.bus.io_read(CONFIG_DATA, 4) == 0x8009800B
    assert read(restored, 1, 1, 0x20) == 0xD001
    assert read(restored, 2, 0, 0x3C, 1) == 0x0A
    assert enumerate_bus(restored) == EXPECTED


def test_two_functions_at_one_number_are_a_profile_error():
    with pytest.raises(ProfileError, match="already taken"):
        pc("vga_pci.device=1", "vga_pci.function=1")


def test_isapc_has_no_pci():
    machine = pc(profile="isapc.yaml")
    assert machine.bus.port_name(CONFIG_ADDRESS) == "unclaimed"
    assert machine.bus.port_name(CONFIG_DATA) == "unclaimed"
    machine.bus.io_write(CONFIG_ADDRESS, 4, address(0, 0, 0, 0))
    assert machine.bus.io_read(CONFIG_ADDRESS, 4) == 0xFFFFFFFF  # unclaimed: all ones
    assert machine.bus.io_read(CONFIG_DATA, 4) == 0xFFFFFFFF
    assert not any(name in machine.components for name in ("pci", "isa_bridge", "ide_pci", "vga_pci"))


# ---------------------------------------------------------------- guest: ports and PCI BIOS
GUEST_PC = """pci: start
00:00.0 8086:1237 class 060000 rev 02
00:01.0 8086:7000 class 060100 rev 00
00:01.1 8086:7010 class 010180 rev 00
00:02.0 1234:1111 class 030000 rev 00
b101 ah=00 al=01 bx=0210 cl=00 edx=20494350
b102 8086:7010 #0: ah=00 bx=0009
b102 8086:1237 #1: ah=86 cf=1
b102 ffff:ffff #0: ah=83 cf=1
b103 030000 #0: ah=00 bx=0010
b10a 00:02.0 reg 10: ah=00 ecx=E0000008
b109 00:01.0 reg 60: ah=00 cx=0A0A
b10a reg 02: ah=87 cf=1
b10b 00:01.0 reg 61 <- 0B; b108: cl=0B
pci: done
"""
GUEST_ISAPC = """pci: start
b101 ah=81 cf=1
pci: done
"""


class DebugConsole:
    def __init__(self):
        self.text = bytearray()

    @hookimpl
    def debugcon_byte(self, machine, value):
        self.text.append(value)


@pytest.mark.parametrize("profile, expected", [("pc.yaml", GUEST_PC), ("isapc.yaml", GUEST_ISAPC)])
def test_guest_enumerates_through_the_ports_and_the_pci_bios(tmp_path, floppy_from, profile,
                                                             expected):
    console = DebugConsole()
    media = {"fda": floppy_from(tmp_path, "pci/pci.bin")}
    machine = Machine.from_profile(profile, ["cmos.start=2026-01-01T00:00:00"], media,
                                   setup=lambda machine: machine.add_plugin(console))
    try:
        machine.run_headless(5_000_000)
    finally:
        machine.close()
    assert console.text.decode("latin-1") == expected


# ---------------------------------------------------------------- $PIR routing table
def find_pir(machine):
    """The 16-byte aligned "$PIR" in F0000-FFFFF, as an OS searches for it."""
    rom = machine.bus.read_bytes(0xF0000, 0x10000)
    for offset in range(0, len(rom), 16):
        if rom[offset:offset + 4] == b"$PIR":
            size = int.from_bytes(rom[offset + 6:offset + 8], "little")
            return rom[offset:offset + size]
    return None


def test_pir_table_describes_the_router_and_the_devices():
    table = find_pir(pc())
    assert table is not None and sum(table) % 256 == 0
    assert table[4:6] == b"\x00\x01" and len(table) == 32 + 16 * 2
    assert table[8] == 0 and table[9] == 1 << 3                  # router: PIIX3 at 00:01.0
    assert table[12:16] == bytes((0x86, 0x80, 0x00, 0x70))       # compatible router 8086:7000
    entries = [table[32 + 16 * n:48 + 16 * n] for n in range(2)]
    for entry, device, first_link in zip(entries, (1, 2), (0x60, 0x61)):
        assert entry[0] == 0 and entry[1] == device << 3
        links = [entry[2 + 3 * pin] for pin in range(4)]
        assert links == [0x60 + (first_link - 0x60 + pin) % 4 for pin in range(4)]
        assert all(entry[3 + 3 * pin:5 + 3 * pin] == b"\xf8\xde" for pin in range(4))


def test_isapc_has_no_pir_table():
    assert find_pir(pc(profile="isapc.yaml")) is None


def test_vga_without_vbe_has_no_framebuffer_bar():
    machine = pc("vga.vbe=false")
    assert read(machine, 2, 0, 0) == 0x11111234
    assert size_bar(machine, 2, 0, 0) == (0, 0)


@pytest.mark.parametrize("removed, message", [
    ("vga=null", "vga_pci.vga: there is no component 'vga'"),
    ("pci=null", "host: there is no component 'pci'"),
    ("vga_pci.vga=kbc", "vga_pci.vga: 'kbc' is not a VGA component"),
    ("ide_pci.host=vga", "ide_pci.host: 'vga' is not a PCI host bridge component"),
])
def test_functions_without_their_components_are_profile_errors(removed, message):
    with pytest.raises(ProfileError, match=message):
        pc(removed)


def test_random_configuration_cycles_leave_the_identities_alone():
    """Random addresses, widths and values through both ports: nothing raises, and
    every function still answers with its read-only IDs, class and header type."""
    machine = pc()
    rng = random.Random(13)
    for _ in range(3000):
        if rng.random() < 0.3:
            machine.bus.io_write(CONFIG_ADDRESS + rng.randrange(4), rng.choice((1, 2, 4)),
                                 rng.getrandbits(32))
        bus = rng.getrandbits(8) if rng.random() < 0.1 else 0
        device, function = rng.choice(sorted(EXPECTED)) if rng.random() < 0.8 else (
            rng.randrange(32), rng.randrange(8))
        machine.bus.io_write(CONFIG_ADDRESS, 4, address(bus, device, function, rng.randrange(256)))
        port = CONFIG_DATA + rng.randrange(4)
        if rng.random() < 0.5:
            machine.bus.io_write(port, rng.choice((1, 2, 4)), rng.getrandbits(32))
        else:
            machine.bus.io_read(port, rng.choice((1, 2, 4)))
    assert enumerate_bus(machine) == EXPECTED


@pytest.fixture
def firmware_pc(tmp_path):
    """pc.yaml with a 64 KiB firmware image (F0000-FFFFF) whose bytes are a pattern."""
    image = bytes((i * 7 + 3) & 0xFF for i in range(0x10000))
    (tmp_path / "bios.bin").write_bytes(image)
    machine = pc("bios.plugin=rom", f"bios.image={tmp_path / 'bios.bin'}")
    yield machine, image
    machine.close()


def test_pam_routes_the_f_segment_between_rom_and_shadow_ram(firmware_pc):
    """82441FX PAM0 bits 5:4 (read enable, write enable) for F0000-FFFFF, as the Bochs
    BIOS and SeaBIOS program them to run from shadow RAM."""
    machine, image = firmware_pc
    bus = machine.bus
    rom_byte = image[0x1234]
    assert read(machine, 0, 0, 0x59, 1) == 0 and bus.read(0xF1234, 1) == rom_byte
    bus.write(0xF1234, 1, 0x5A)
    assert bus.read(0xF1234, 1) == rom_byte                  # ROM: writes go nowhere
    write(machine, 0, 0, 0x59, 0xFF, 1)
    assert read(machine, 0, 0, 0x59, 1) == 0x30              # only bits 5:4 exist
    assert bus.read(0xF1234, 1) == 0                         # DRAM behind the ROM: empty
    bus.write(0xF1234, 1, 0x5A)
    assert bus.read(0xF1234, 1) == 0x5A                      # read/write DRAM
    write(machine, 0, 0, 0x59, 0x10, 1)                      # read-only DRAM
    bus.write(0xF1234, 1, 0x77)
    assert bus.read(0xF1234, 1) == 0x5A
    write(machine, 0, 0, 0x59, 0x20, 1)                      # write-only: reads the ROM
    assert bus.read(0xF1234, 1) == rom_byte
    bus.write(0xF1235, 1, 0x66)
    assert bus.read(0xF1235, 1) == image[0x1235]
    write(machine, 0, 0, 0x59, 0x10, 1)                      # the DRAM kept both writes
    assert (bus.read(0xF1234, 1), bus.read(0xF1235, 1)) == (0x5A, 0x66)
    write(machine, 0, 0, 0x59, 0x00, 1)
    assert bus.read(0xF1234, 1) == rom_byte


def test_pam_shadow_ram_survives_a_snapshot(firmware_pc):
    machine, image = firmware_pc
    write(machine, 0, 0, 0x59, 0x30, 1)
    machine.bus.write(0xF0010, 4, 0x11223344)
    write(machine, 0, 0, 0x59, 0x00, 1)                      # the DRAM hides behind the ROM
    state = machine.snapshot()
    other = pc("bios.plugin=rom", f"bios.image={machine.components['bios'].options['image']}")
    try:
        other.restore(state)
        assert other.bus.read(0xF0010, 4) == int.from_bytes(image[0x10:0x14], "little")
        write(other, 0, 0, 0x59, 0x10, 1)
        assert other.bus.read(0xF0010, 4) == 0x11223344
    finally:
        other.close()


@pytest.fixture
def vga_rom(tmp_path):
    """A 39 KiB VGA BIOS image (55h AAh, a pattern) for the expansion ROM BAR."""
    image = b"\x55\xAA\x4E" + bytes((i * 13 + 5) & 0xFF for i in range(3, 39 * 1024))
    path = tmp_path / "vgabios.bin"
    path.write_bytes(image)
    return str(path), image


def test_vga_expansion_rom_bar_sizes_decodes_and_moves(vga_rom):
    """PCI 3.0 6.2.5.2: the expansion ROM BAR at 30h sizes as 64 KiB (39 KiB
    rounded up), shows the image at its address only while its enable bit and the
    command register's memory bit are both set, and follows the address when the
    firmware moves it; the bytes past the image read 0."""
    path, image = vga_rom
    machine = pc(f"vga_pci.rom={path}")
    bus = machine.bus
    assert read(machine, 2, 0, 0x30) == 0
    write(machine, 2, 0, 0x30, 0xFFFFFFFF)
    assert read(machine, 2, 0, 0x30) == 0xFFFF0001             # 64 KiB, enable bit
    write(machine, 2, 0, 0x30, 0xFEBC0000)
    assert bus.read(0xFEBC0000, 2) == 0xFFFF                   # not enabled: open bus
    write(machine, 2, 0, 0x30, 0xFEBC0001)
    assert bus.read(0xFEBC0000, 4) == int.from_bytes(image[:4], "little")
    assert bus.read_bytes(0xFEBC0000 + 0x9000, 16) == image[0x9000:0x9010]
    assert bus.read(0xFEBC0000 + len(image), 4) == 0           # the BAR past the image
    command = read(machine, 2, 0, 0x04, 2)
    write(machine, 2, 0, 0x04, command & ~0x2, 2)              # memory space off
    assert bus.read(0xFEBC0000, 2) == 0xFFFF
    write(machine, 2, 0, 0x04, command, 2)
    write(machine, 2, 0, 0x30, 0xFEBD0001)                     # moved
    assert bus.read(0xFEBC0000, 2) == 0xFFFF
    assert bus.read(0xFEBD0002, 1) == image[2]
    state = machine.snapshot()
    other = pc(f"vga_pci.rom={path}")
    try:
        assert other.bus.read(0xFEBD0000, 2) == 0xFFFF
        other.restore(state)
        assert other.bus.read(0xFEBD0000, 2) == 0xAA55
    finally:
        other.close()
    machine.reset()
    assert read(machine, 2, 0, 0x30) == 0 and bus.read(0xFEBD0000, 2) == 0xFFFF
    machine.close()


def test_without_a_rom_the_expansion_rom_bar_reads_zero():
    machine = pc()
    write(machine, 2, 0, 0x30, 0xFFFFFFFF)
    assert read(machine, 2, 0, 0x30) == 0
    machine.close()


def test_vga_expansion_rom_bar_in_ram_leaves_the_ram(vga_rom):
    """A ROM BAR set inside RAM does not hide the RAM: the chipset decodes RAM first."""
    path, image = vga_rom
    machine = pc(f"vga_pci.rom={path}")
    machine.bus.write(0x100000, 4, 0x12345678)
    write(machine, 2, 0, 0x30, 0x100001)
    assert machine.bus.read(0x100000, 4) == 0x12345678
    write(machine, 2, 0, 0x30, 0)
    assert machine.bus.read(0x100000, 4) == 0x12345678
    machine.close()


@pytest.mark.parametrize("content, message", [(None, "not found"), (b"MZ" + bytes(100), "not an option ROM")])
def test_vga_rom_must_be_an_option_rom(tmp_path, content, message):
    path = tmp_path / "rom.bin"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ProfileError, match=message):
        pc(f"vga_pci.rom={path}")


def test_ide_timing_registers_enable_both_channels_after_the_post():
    """IDETIM (40h, 42h) bit 15 is the IDE Decode Enable that Linux's ata_piix
    tests before probing a channel (piix_pata_prereset); it powers on clear, and
    the BIOS's POST writes 8000h to both, as SeaBIOS and the Bochs BIOS do.  Bits
    11-10 are reserved; SIDETIM (44h) is R/W."""
    machine = pc()
    assert read(machine, 1, 1, 0x40) == 0
    machine.run_headless(200_000)                                 # the POST
    assert read(machine, 1, 1, 0x40) == 0x80008000
    write(machine, 1, 1, 0x40, 0xFFFFFFFF)
    assert read(machine, 1, 1, 0x40) == 0xF3FFF3FF
    write(machine, 1, 1, 0x40, 0xA307, 2)                         # ata_piix's PIO4 timing, primary
    assert read(machine, 1, 1, 0x40, 2) == 0xA307
    write(machine, 1, 1, 0x44, 0x5A, 1)
    assert read(machine, 1, 1, 0x44, 1) == 0x5A
    assert read(machine, 1, 1, 0x45, 1) == 0                      # beyond SIDETIM: read-only
    machine.reset()
    assert read(machine, 1, 1, 0x40) == 0 and read(machine, 1, 1, 0x44, 1) == 0


def test_reset_control_at_0xcf9_keeps_its_hard_bit_and_resets_on_bit_2():
    """The PIIX3's RC register (290550): a byte at 0xCF9 inside CONFIG_ADDRESS's
    dword.  U-Boot and Linux's `reboot=pci` write 02h then 06h; QEMU resets on any
    write with bit 2 and keeps only bit 1."""
    machine = pc()
    causes = []

    class Probe:
        @hookimpl
        def machine_reset(self, cause):
            causes.append(cause)

    machine.add_plugin(Probe())
    bus = machine.bus
    bus.io_write(CONFIG_ADDRESS, 4, address(0, 1, 0, 0x60))
    bus.io_write(0xCF9, 1, 0xFB)                    # every bit but the reset
    assert bus.io_read(0xCF9, 1) == 0x02
    assert bus.io_read(CONFIG_ADDRESS, 4) == address(0, 1, 0, 0x60)   # the dword is unchanged
    assert read(machine, 1, 0, 0x60) == 0x80808080
    machine.run_slice(machine.clock.icount + 100)
    assert causes == []
    bus.io_write(0xCF9, 1, 0x06)
    machine.run_slice(machine.clock.icount + 100)
    assert causes == ["reset-line"]
    assert bus.io_read(0xCF9, 1) == 0x00            # a reset clears it
    bus.io_write(0xCF9, 1, 0x02)
    state = machine.snapshot()
    restored = pc()
    restored.restore(state)
    assert restored.bus.io_read(0xCF9, 1) == 0x02


def test_isapc_has_no_reset_control():
    machine = pc(profile="isapc.yaml")
    assert machine.bus.io_read(0xCF9, 1) == 0xFF
