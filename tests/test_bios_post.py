"""What POST leaves in memory and in the chipset, read back as a guest would see it
when its boot sector starts: IVT, BDA, EBDA, ROM tables, CMOS, PIT and PIC."""

import pytest

from bios_support import floppy_image, make_machine


@pytest.fixture
def booted(tmp_path):
    """A 16 MiB machine with a floppy and a hard disk whose boot sector waits
    with interrupts enabled (sti; hlt; jmp back)."""
    floppy = floppy_image(tmp_path, b"\xFB\xF4\xEB\xFD".ljust(512, b"\0"))
    disk = tmp_path / "hd.img"
    disk.write_bytes(bytes(4096 * 512))
    machine = make_machine({"fda": floppy, "hda": str(disk)})
    machine.run_headless(100)
    return machine


def word(machine, address):
    return int.from_bytes(machine.bus.read_bytes(address, 2), "little")


def vector(machine, number):
    return word(machine, number * 4 + 2), word(machine, number * 4)


def test_interrupt_vectors(booted):
    bios = booted.components["bios"]
    for number, label in ((0x10, "int10"), (0x13, "int13"), (0x16, "int16"), (0x19, "int19"),
                          (0x1A, "int1a"), (0x08, "int08"), (0x09, "int09"), (0x70, "int70")):
        assert vector(booted, number) == (0xF000, bios.label[label]), hex(number)
    assert vector(booted, 0x1E) == (0xF000, 0xEFC7)
    assert vector(booted, 0x05) == (0xF000, 0xFF53)          # unused: the ROM's IRET
    assert all(vector(booted, n) == (0, 0) for n in range(0x60, 0x68))
    ebda = word(booted, 0x40E)
    assert vector(booted, 0x41) == (ebda, 0x3D)
    table = booted.bus.read_bytes(ebda * 16 + 0x3D, 16)
    assert (word_of(table, 0), table[2], table[14]) == (4, 16, 63)   # 4096 sectors: 4/16/63


def word_of(data, offset):
    return int.from_bytes(data[offset:offset + 2], "little")


def test_bios_data_area(booted):
    bda = booted.bus.read_bytes(0x400, 0x100)
    assert word_of(bda, 0x00) == 0x3F8 and word_of(bda, 0x02) == 0x2F8     # COM1, COM2
    assert word_of(bda, 0x0E) == 0x9FC0                                     # EBDA segment
    equipment = word_of(bda, 0x10)
    assert equipment & 0x01 and (equipment >> 4) & 3 == 2 and (equipment >> 9) & 7 == 2
    assert word_of(bda, 0x13) == 639
    assert [word_of(bda, o) for o in (0x1A, 0x1C, 0x80, 0x82)] == [0x1E, 0x1E, 0x1E, 0x3E]
    assert (bda[0x49], word_of(bda, 0x4A), word_of(bda, 0x4C)) == (3, 80, 4096)
    assert word_of(bda, 0x60) == 0x0607 and word_of(bda, 0x63) == 0x3D4
    assert bda[0x75] == 1                                                   # one hard disk
    assert (bda[0x84], word_of(bda, 0x85)) == (24, 16)
    assert booted.bus.read_bytes(0x9FC00, 1) == b"\x01"                     # EBDA: 1 KiB


def test_rom_identification(booted):
    bus = booted.bus
    assert bus.read_bytes(0xFFFF5, 8) == b"11/21/26"
    assert bus.read_bytes(0xFFFFE, 1) == b"\xFC"
    assert sum(bus.read_bytes(0xF0000, 0x10000)) & 0xFF == 0
    assert bus.read_bytes(0xFFFFFFF0, 16) == bus.read_bytes(0xFFFF0, 16)  # the 4 GiB alias
    assert bus.read_bytes(0xFFFF0, 1) == b"\xEA"                          # JMP FAR to POST


def test_cmos_memory_and_drive_fields(booted):
    def cmos(index):
        booted.bus.io_write(0x70, 1, index)
        return booted.bus.io_read(0x71, 1)

    assert cmos(0x15) | cmos(0x16) << 8 == 640
    assert cmos(0x17) | cmos(0x18) << 8 == 15360
    assert cmos(0x30) | cmos(0x31) << 8 == 15360
    assert cmos(0x10) >> 4 == 4                       # 1.44M drive A:
    assert cmos(0x12) >> 4 == 0x0F and cmos(0x19) == 47
    checksum = sum(cmos(i) for i in range(0x10, 0x2E))
    assert cmos(0x2E) << 8 | cmos(0x2F) == checksum


def test_pic_masks_and_timer_irq(booted):
    assert booted.bus.io_read(0x21, 1) == 0xB8
    assert booted.bus.io_read(0xA1, 1) == 0x8E
    ticks_before = word(booted, 0x46C)
    booted.run_headless(booted.clock.icount + 100)
    assert word(booted, 0x46C) > ticks_before          # IRQ 0 arrives as int 08h


def test_serial_ports_are_left_with_out2_set(booted):
    """POST leaves MCR OUT2 set on each UART it finds, as a guest finds the port
    under QEMU (MCR 08h after its reset): a kernel that enables the THR-empty
    interrupt for its console without writing MCR (Fiwix) gets IRQ 4.  The PC's
    wiring still gates the interrupt by OUT2."""
    bus = booted.bus
    assert bus.io_read(0x3FC, 1) == 0x08 and bus.io_read(0x2FC, 1) == 0x08
    assert bus.irq_levels[4] == 0
    bus.io_write(0x3F9, 1, 0x02)                  # IER: THR empty (it is)
    assert bus.irq_levels[4] == 1
    bus.io_write(0x3FC, 1, 0x00)                  # OUT2 clear: off the bus
    assert bus.irq_levels[4] == 0


@pytest.mark.parametrize("model, cr0", [("80486", 0x00000010), ("pentiumpro", 0x00000010), ("80386", 0x00000010)])
def test_post_enables_the_caches_as_seabios_does(tmp_path, model, cr0):
    """A 486 or later resets with CR0.CD and NW set (60000010h); POST clears them,
    so a boot sector (and a kernel that prints CR0) finds 00000010h as under
    QEMU and SeaBIOS.  A 386 has neither bit (ET: its x87)."""
    floppy = floppy_image(tmp_path, b"\xFB\xF4\xEB\xFD".ljust(512, b"\0"))
    machine = make_machine({"fda": floppy}, overrides=[f"cpu.model={model}"])
    assert machine.cpu.cr[0] & 0x60000000 == (0x60000000 if model != "80386" else 0)
    machine.run_headless(100)
    assert machine.cpu.cr[0] == cr0
