"""QEMU's firmware configuration device (fw_cfg), as on QEMU's PC machines.

Firmware written for QEMU asks it how the machine is made: SeaBIOS reads the
processor count and its settings there, U-Boot's `qemu-x86` build counts the
processors to start through it and loads kernels with `qfw load`, and guests
read the files a user hands in (`files`, QEMU's `-fw_cfg name=...,file=...`).
Not in `pc.yaml`: add it with `--set fw_cfg.plugin=fw_cfg`.  (With it, U-Boot
goes on to start the other processors with code that uses SSE2's MFENCE, which
the modelled processors lack: it stops there, as it does on QEMU with `-cpu
pentium2`; without it U-Boot warns "MP init failure" and reaches its prompt.)
The interface follows QEMU's docs/specs/fw_cfg.rst:

* I/O port 510h (16-bit write): the selector.  It picks an item by key and
  rewinds the item's read offset.  Keys 4000h (the old write channel) are
  masked off; 8000h marks the architecture's own items.
* I/O port 511h (8-bit): the data.  Reads return the selected item's next
  byte, 00h past its end or with no valid item; writes are ignored (as in QEMU
  since 2.4).
* I/O ports 514h-51Bh: the DMA address, big-endian: a 32-bit write to 514h
  holds the high half, one to 518h the low half and starts the transfer at
  once.  Reads give the signature "QEMU CFG" byte by byte.  The access
  structure in guest memory is control (BE32: error 01h, read 02h, skip 04h,
  select 08h with the key in bits 31-16, write 10h), length (BE32) and address
  (BE64).  A read copies the item's bytes and fills past its end with zeros; a
  skip moves the offset; a write (no item is writable here) is an error.  The
  device then stores control = 0, or 1 for an error, as QEMU does.

Other access sizes on these ports are ignored (reads all ones), as QEMU's
`valid.accepts` refuses them.  The items are QEMU 7.2's for `pc` (i440FX):
signature "QEMU", ID 3 (traditional interface and DMA), a zero UUID, the RAM
size, no-graphic 0, the processor count (also as the maximum), boot menu off,
an empty NUMA table, the IRQ 0 override and an empty E820 reservation table,
and the file directory (key 19h: a big-endian count, then per file its size,
key and 56-byte name) of the files the profile's `files` option names, keys
20h onwards in name order (QEMU sorts them so too).  Not modelled: the files
QEMU itself provides (`etc/e820`, ACPI and SMBIOS tables, `bootorder`, option
ROMs) and the kernel and initrd items of `-kernel`: firmware falls back to its
own tables and CMOS, as it does when they are absent.
"""

import dataclasses
import os
from typing import Any, Dict, List, Tuple

from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.errors import ProfileError

SELECTOR_PORT = 0x510
DATA_PORT = 0x511
DMA_PORT = 0x514
DMA_SIGNATURE = b"QEMU CFG"

SIGNATURE, ID, UUID, RAM_SIZE, NOGRAPHIC, NB_CPUS = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
NUMA, BOOT_MENU, MAX_CPUS, FILE_DIR, FILE_FIRST = 0x0D, 0x0E, 0x0F, 0x19, 0x20
IRQ0_OVERRIDE, E820_TABLE = 0x8002, 0x8003
WRITE_CHANNEL = 0x4000
#: ID bits: the traditional (port) interface, and DMA
ID_TRADITIONAL, ID_DMA = 0x01, 0x02
NAME_SIZE = 56

DMA_ERROR, DMA_READ, DMA_SKIP, DMA_SELECT, DMA_WRITE = 0x01, 0x02, 0x04, 0x08, 0x10
DMA_ACCESS_SIZE = 16


@dataclasses.dataclass
class FwCfgState:
    #: the selected key, or -1 for none (power-on, or a key that names nothing)
    key: int = -1
    offset: int = 0
    #: the DMA address's high half, waiting for the low half's write
    dma_high: int = 0


class FirmwareConfig(Component):
    """The selector, data and DMA ports over a table of items built from the machine."""

    OPTIONS = {
        "files": Option("dict", {}, "fw_cfg files: name (at most 55 characters, e.g. opt/org.example/x) "
                                    "-> host file whose bytes it holds, as QEMU's -fw_cfg name=,file="),
        "uuid": Option("str", "00000000-0000-0000-0000-000000000000", "the machine UUID (item 02h)"),
        "dma": Option("bool", True, "offer the DMA interface (ID bit 1 and ports 0x514-0x51b), as QEMU does"),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.files = self._load_files(options["files"])
        try:
            self.uuid = bytes.fromhex(options["uuid"].replace("-", ""))
        except ValueError:
            self.uuid = b""
        if len(self.uuid) != 16:
            raise ProfileError("option", f"{name}.uuid",
                               f"expected 32 hex digits (dashes allowed), got {options['uuid']!r}")
        self.dma_offered = options["dma"]
        self.state = FwCfgState()
        #: the selected item's bytes, built once per selection (reads come a byte at a time)
        self._data = b""
        sizes = (1, 2, 4)                           # the handlers judge each access's size
        self.bus.register_io(SELECTOR_PORT, DATA_PORT, self._read_port, self._write_port, name, sizes)
        self.bus.register_io(DMA_PORT, DMA_PORT + 7, self._read_dma, self._write_dma, f"{name} DMA", sizes)

    def _load_files(self, files: Dict[str, Any]) -> List[Tuple[str, bytes]]:
        loaded = []
        for file_name, path in sorted(files.items()):
            if not isinstance(file_name, str) or not file_name or len(file_name.encode()) >= NAME_SIZE:
                raise ProfileError("option", f"{self.name}.files",
                                   f"a name must have 1-55 characters, got {file_name!r}")
            try:
                with open(os.path.expanduser(str(path)), "rb") as handle:
                    loaded.append((file_name, handle.read()))
            except OSError as error:
                raise ProfileError("option", f"{self.name}.files",
                                   f"{file_name}: cannot read {path}: {error.strerror}")
        return loaded

    # ------------------------------------------------------------ items
    def item(self, key: int) -> bytes:
        """The bytes of item `key` (empty when it names nothing), built from the
        machine as it is now (the processors exist only once it is assembled)."""
        if FILE_FIRST <= key < FILE_FIRST + len(self.files):
            return self.files[key - FILE_FIRST][1]
        cpus = max(1, len(self.machine.all_cpus()))
        if key == SIGNATURE:
            return b"QEMU"
        if key == ID:
            return (ID_TRADITIONAL | (ID_DMA if self.dma_offered else 0)).to_bytes(4, "little")
        if key == UUID:
            return self.uuid
        if key == RAM_SIZE:
            return self.bus.ram_size.to_bytes(8, "little")
        if key in (NOGRAPHIC, BOOT_MENU):
            return bytes(2)
        if key in (NB_CPUS, MAX_CPUS):
            return cpus.to_bytes(2, "little")
        if key == NUMA:
            return bytes(8 * (1 + cpus))            # no nodes; one (zero) node number per processor
        if key == IRQ0_OVERRIDE:
            return (1).to_bytes(4, "little")
        if key == E820_TABLE:
            return bytes(4)                         # no reservations
        if key == FILE_DIR:
            directory = bytearray(len(self.files).to_bytes(4, "big"))
            for index, (file_name, data) in enumerate(self.files):
                directory += len(data).to_bytes(4, "big") + (FILE_FIRST + index).to_bytes(2, "big") + bytes(2)
                directory += file_name.encode().ljust(NAME_SIZE, b"\0")
            return bytes(directory)
        return b""

    def select(self, key: int) -> None:
        key &= ~WRITE_CHANNEL & 0xFFFF
        self._data = self.item(key)
        self.state.key = key if self._data else -1
        self.state.offset = 0

    # ------------------------------------------------------------ ports
    def _read_port(self, port: int, size: int) -> int:
        if port != DATA_PORT or size != 1:
            return (1 << (8 * size)) - 1
        data = self._data
        offset = self.state.offset
        if offset >= len(data):
            return 0
        self.state.offset = offset + 1
        return data[offset]

    def _write_port(self, port: int, size: int, value: int) -> None:
        if port == SELECTOR_PORT and size == 2:
            self.select(value)

    def _read_dma(self, port: int, size: int) -> int:
        if not self.dma_offered:
            return (1 << (8 * size)) - 1
        offset = port - DMA_PORT
        return int.from_bytes(DMA_SIGNATURE[offset:offset + size].ljust(size, b"\xFF"), "little")

    def _write_dma(self, port: int, size: int, value: int) -> None:
        if size != 4 or port not in (DMA_PORT, DMA_PORT + 4) or not self.dma_offered:
            return
        half = int.from_bytes(value.to_bytes(4, "little"), "big")     # the guest wrote it big-endian
        if port == DMA_PORT:
            self.state.dma_high = half
        else:
            self.dma((self.state.dma_high << 32) | half)

    def dma(self, address: int) -> None:
        """Carry out the access structure at `address` and store its result."""
        access = self.bus.read_bytes(address, DMA_ACCESS_SIZE)
        control = int.from_bytes(access[0:4], "big")
        length = int.from_bytes(access[4:8], "big")
        target = int.from_bytes(access[8:16], "big")
        if control & DMA_SELECT:
            self.select(control >> 16)
        error = 0
        if control & DMA_WRITE:
            error = DMA_ERROR
        elif control & (DMA_READ | DMA_SKIP) and length:
            data = self._data
            offset = self.state.offset
            if control & DMA_READ:
                self.bus.write_bytes(target, data[offset:offset + length].ljust(length, b"\0"))
            self.state.offset = min(len(data), offset + length) if offset < len(data) else offset
        self.bus.write_bytes(address, error.to_bytes(4, "big"))

    # ------------------------------------------------------------ life cycle
    def reset(self) -> None:
        self.state = FwCfgState()
        self._data = b""

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(FwCfgState, state)
        self._data = self.item(self.state.key) if self.state.key >= 0 else b""
