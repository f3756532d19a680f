"""QEMU's fw_cfg (plugins/paravirt/fwcfg.py), driven through its ports as
SeaBIOS's and U-Boot's drivers drive it: the selector and data ports, the file
directory, and DMA access structures (QEMU's docs/specs/fw_cfg.rst)."""

import struct
from typing import Any, List

import pytest

from pcmachine.errors import ProfileError
from pcmachine.machine import Machine
from pcmachine.record import load_snapshot, save_snapshot

SELECTOR, DATA, DMA_HIGH, DMA_LOW = 0x510, 0x511, 0x514, 0x518
FILE_DIR = 0x19
DMA_ERROR, DMA_READ, DMA_SKIP, DMA_SELECT, DMA_WRITE = 0x01, 0x02, 0x04, 0x08, 0x10
ACCESS, BUFFER = 0x8000, 0x9000


def machine_with(tmp_path: Any, *overrides: str) -> Machine:
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    first.write_bytes(b"alpha\n")
    second.write_bytes(bytes(range(256)) * 3)
    return Machine.from_profile("pc.yaml", ["fw_cfg.plugin=fw_cfg", "ram.size=32M",
                                            f"fw_cfg.files={{opt/z.second: {second}, opt/a.first: {first}}}",
                                            *overrides])


def read_item(machine: Machine, key: int, count: int) -> bytes:
    machine.bus.io_write(SELECTOR, 2, key)
    return bytes(machine.bus.io_read(DATA, 1) for _ in range(count))


def directory(machine: Machine) -> List[tuple]:
    """(size, key, name) of each file, as SeaBIOS's qemu_cfg_init reads them."""
    count = int.from_bytes(read_item(machine, FILE_DIR, 4), "big")
    raw = read_item(machine, FILE_DIR, 4 + 64 * count)[4:]
    entries = []
    for index in range(count):
        size, key, _, name = struct.unpack(">IHH56s", raw[64 * index:64 * (index + 1)])
        entries.append((size, key, name.rstrip(b"\0").decode()))
    return entries


def dma(machine: Machine, control: int, length: int, address: int = BUFFER) -> int:
    """Write an access structure, start it as U-Boot does (two big-endian 32-bit
    halves, the low one last) and return the control word the device left."""
    machine.bus.write_bytes(ACCESS, struct.pack(">IIQ", control, length, address))
    machine.bus.io_write(DMA_HIGH, 4, int.from_bytes((0).to_bytes(4, "big"), "little"))
    machine.bus.io_write(DMA_LOW, 4, int.from_bytes(ACCESS.to_bytes(4, "big"), "little"))
    return int.from_bytes(machine.bus.read_bytes(ACCESS, 4), "big")


def test_the_items_describe_the_machine(tmp_path):
    machine = machine_with(tmp_path, "cpu.count=2")
    assert read_item(machine, 0x00, 4) == b"QEMU"
    assert read_item(machine, 0x01, 4) == (3).to_bytes(4, "little")          # traditional and DMA
    assert read_item(machine, 0x03, 8) == (32 << 20).to_bytes(8, "little")   # RAM size
    assert read_item(machine, 0x05, 2) == (2).to_bytes(2, "little")          # processors
    assert read_item(machine, 0x0F, 2) == (2).to_bytes(2, "little")
    assert read_item(machine, 0x8002, 4) == (1).to_bytes(4, "little")        # IRQ 0 override
    assert read_item(machine, 0x00, 6) == b"QEMU\0\0"                        # zeros past the end
    assert read_item(machine, 0x4000, 4) == b"QEMU"                          # write channel bit ignored
    assert read_item(machine, 0x7777, 2) == b"\0\0"                          # no such item
    assert read_item(machine, 0x02, 16) == bytes(16)


def test_files_are_listed_in_name_order_and_read_by_key(tmp_path):
    machine = machine_with(tmp_path)
    assert directory(machine) == [(6, 0x20, "opt/a.first"), (768, 0x21, "opt/z.second")]
    assert read_item(machine, 0x20, 6) == b"alpha\n"
    assert read_item(machine, 0x21, 768) == bytes(range(256)) * 3


def test_selecting_rewinds_and_other_access_sizes_are_refused(tmp_path):
    machine = machine_with(tmp_path)
    bus = machine.bus
    assert read_item(machine, 0x20, 3) == b"alp"
    assert bytes(bus.io_read(DATA, 1) for _ in range(3)) == b"ha\n"
    bus.io_write(SELECTOR, 1, 0x00)                 # a byte write is not a selection
    assert bus.io_read(DATA, 1) == 0
    assert bus.io_read(DATA, 2) == 0xFFFF and bus.io_read(SELECTOR, 2) == 0xFFFF
    bus.io_write(SELECTOR, 2, 0x20)
    bus.io_write(DATA, 1, 0x55)                     # data writes are ignored
    assert bus.io_read(DATA, 1) == ord("a")
    assert bytes(bus.io_read(DMA_HIGH + i, 1) for i in range(8)) == b"QEMU CFG"


def test_dma_selects_reads_skips_and_refuses_writes(tmp_path):
    machine = machine_with(tmp_path)
    bus = machine.bus
    assert dma(machine, 0x21 << 16 | DMA_SELECT | DMA_READ, 300) == 0
    assert bus.read_bytes(BUFFER, 300) == (bytes(range(256)) * 2)[:300]
    assert dma(machine, DMA_SKIP, 200) == 0
    assert dma(machine, DMA_READ, 4) == 0
    assert bus.read_bytes(BUFFER, 4) == bytes((500 % 256, 501 % 256, 502 % 256, 503 % 256))
    bus.write_bytes(BUFFER, b"\xAA" * 300)
    assert dma(machine, DMA_READ, 300) == 0         # 264 bytes left, then zeros
    assert bus.read_bytes(BUFFER, 300) == (bytes(range(256)) * 3)[504:] + bytes(36)
    assert bus.io_read(DATA, 1) == 0                # the offset reached the end
    assert dma(machine, 0x20 << 16 | DMA_SELECT, 0) == 0
    assert bus.io_read(DATA, 1) == ord("a")         # a selection alone rewinds
    assert dma(machine, 0x20 << 16 | DMA_SELECT | DMA_WRITE, 2) == DMA_ERROR
    assert read_item(machine, 0x20, 2) == b"al"     # nothing written
    bus.write_bytes(BUFFER, b"\xAA" * 4)
    assert dma(machine, 0x7777 << 16 | DMA_SELECT | DMA_READ, 4) == 0
    assert bus.read_bytes(BUFFER, 4) == bytes(4)    # no such item: zeros


def test_without_dma_the_id_says_so_and_the_dma_ports_are_silent(tmp_path):
    machine = machine_with(tmp_path, "fw_cfg.dma=false")
    assert read_item(machine, 0x01, 4) == (1).to_bytes(4, "little")
    assert machine.bus.io_read(DMA_HIGH, 4) == 0xFFFFFFFF
    machine.bus.write_bytes(ACCESS, struct.pack(">IIQ", 0x20 << 16 | DMA_SELECT | DMA_READ, 4, BUFFER))
    machine.bus.io_write(DMA_LOW, 4, int.from_bytes(ACCESS.to_bytes(4, "big"), "little"))
    assert machine.bus.read_bytes(BUFFER, 4) == bytes(4)


def test_a_snapshot_keeps_the_selection_and_offset(tmp_path):
    machine = machine_with(tmp_path)
    assert read_item(machine, 0x21, 10) == bytes(range(10))
    path = str(tmp_path / "fw.snap")
    save_snapshot(machine, path)
    _, state, _ = load_snapshot(path)
    other = machine_with(tmp_path)
    other.restore(state)
    assert bytes(other.bus.io_read(DATA, 1) for _ in range(3)) == bytes((10, 11, 12))


@pytest.mark.parametrize("override, message", [
    ("fw_cfg.files={opt/missing: /nonexistent/file}", "cannot read"),
    ("fw_cfg.files={" + "x" * 56 + ": /dev/null}", "1-55 characters"),
    ("fw_cfg.uuid=12", "32 hex digits"),
])
def test_bad_options_are_one_line_profile_errors(tmp_path, override, message):
    with pytest.raises(ProfileError, match=message):
        Machine.from_profile("pc.yaml", ["fw_cfg.plugin=fw_cfg", override])
