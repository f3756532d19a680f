"""The system bus: physical memory map, I/O port map, IRQ lines and the A20 gate.

Physical memory is one `bytearray` (`Bus.memory`) holding RAM and the ROMs of the
first megabyte, so the CPU can read and write it directly.  Two per-4-KiB-page
tables tell the CPU when it may do that:

* `read_fast[page]` is 1 when a read of the page may come straight from `memory`;
* `write_fast[page]` is 1 when a write may go straight into `memory`.

Everything else (ROM writes, MMIO such as VGA memory, pages that hold decoded code,
addresses with nothing behind them) takes the slow path, `read()` / `write()`,
which dispatches to the page's region and fires the MMIO hooks.  Pages become slow
when a region is mapped over them or when the CPU asks to be told about writes to a
code page (`watch_code_page`), so the fast path never pays for these features.

I/O ports are dispatched through a table of 65536 entries; unclaimed ports read as
all ones and are logged once, as on real hardware.  IRQ lines carry levels; devices
call `set_irq(line, level)` and the interrupt controller that connected to the line
turns edges and levels into vectors for the CPU.
"""

import logging
from typing import Callable, Dict, List, Optional

from .errors import ProfileError
from .hookflags import HookFlags

log = logging.getLogger("pcmachine.bus")

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_COUNT = 1 << (32 - PAGE_SHIFT)
#: The one page that stands for all physical memory from 4 GiB up (PAE and PSE-36
#: addresses): nothing is mapped there, so it is never fast, reads as all ones and
#: drops writes.  The page tables have PAGE_COUNT + 1 entries for it.
BEYOND_4G = 1 << 32
A20_ENABLED_MASK = 0xFFFFFFFF
A20_DISABLED_MASK = 0xFFEFFFFF
SIZE_MASKS = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}

IoRead = Callable[[int, int], int]
IoWrite = Callable[[int, int, int], None]


class Region:
    """A slow-path memory region: anything that is not plain RAM.

    Subclasses answer `read(address, size)` and `write(address, size, value)` for
    physical addresses inside [base, base + size)."""

    name = "region"

    def __init__(self, base: int, size: int, name: str) -> None:
        self.base = base
        self.size = size
        self.name = name

    def contains(self, address: int, size: int) -> bool:
        return self.base <= address and address + size <= self.base + self.size

    def read(self, address: int, size: int) -> int:
        raise NotImplementedError

    def write(self, address: int, size: int, value: int) -> None:
        raise NotImplementedError


class ROMRegion(Region):
    """Read-only bytes.  Inside the bus memory array (first megabyte) reads are fast;
    elsewhere (the alias below 4 GiB) they come from the region's own copy."""

    def __init__(self, base: int, data: bytes, name: str) -> None:
        super().__init__(base, len(data), name)
        self.data = bytes(data)

    def read(self, address: int, size: int) -> int:
        offset = address - self.base
        return int.from_bytes(self.data[offset:offset + size], "little")

    def write(self, address: int, size: int, value: int) -> None:
        """Writes to ROM are ignored, as on the real bus."""


class ShadowRegion(Region):
    """A page of chipset shadow RAM over a ROM that is not plain RAM (the i440FX
    PAM registers): reads come from the memory array, which holds the ROM's bytes
    or the DRAM's as the mode says; writes go to `store` (the DRAM behind a
    readable ROM, at offset `address - base`) or nowhere."""

    def __init__(self, base: int, size: int, name: str, memory: bytearray,
                 store: Optional[bytearray]) -> None:
        super().__init__(base, size, name)
        self.memory = memory
        self.store = store

    def read(self, address: int, size: int) -> int:
        return int.from_bytes(self.memory[address:address + size], "little")

    def write(self, address: int, size: int, value: int) -> None:
        if self.store is not None:
            offset = address - self.base
            self.store[offset:offset + size] = (value & SIZE_MASKS[size]).to_bytes(size, "little")


class MMIORegion(Region):
    """Memory-mapped device registers or device memory, served by handlers.
    `write_block(address, data)`, when given, stores a run of bytes with the
    effect of writing them one by one (a firmware clearing video memory)."""

    def __init__(self, base: int, size: int, name: str,
                 read: Callable[[int, int], int],
                 write: Callable[[int, int, int], None],
                 write_block: Optional[Callable[[int, bytes], None]] = None) -> None:
        super().__init__(base, size, name)
        self.read_handler = read
        self.write_handler = write
        self.write_block = write_block

    def read(self, address: int, size: int) -> int:
        return self.read_handler(address, size)

    def write(self, address: int, size: int, value: int) -> None:
        self.write_handler(address, size, value)


class IoHandler:
    """One device's claim on a port range, with the access sizes it accepts."""

    __slots__ = ("first", "last", "read", "write", "name", "sizes", "owner")

    def __init__(self, first: int, last: int, read: Optional[IoRead],
                 write: Optional[IoWrite], name: str, sizes: tuple, owner: str) -> None:
        self.owner = owner
        self.first = first
        self.last = last
        self.read = read
        self.write = write
        self.name = name
        self.sizes = sizes


def zeroed(size: int) -> bytearray:
    """`size` zero bytes, made by repeating a zeroed page.  On PyPy that is the
    fastest way measured (64 MiB in a fresh process: 70-77 ms, against 119-124 ms
    for `bytearray(b"\\x00") * size` and 153-158 ms for `bytearray(size)`, which
    also builds its zeros twice and so doubles the peak RSS); on CPython the
    three cost the same, the page faults of touching the memory."""
    pages, tail = divmod(size, PAGE_SIZE)
    memory = bytearray(PAGE_SIZE) * pages
    if tail:
        memory.extend(bytes(tail))
    return memory


def _conflict(claimant: str, holder: str, space: str, first: int, last: int) -> ProfileError:
    """Two components want the same ports or addresses: a one-line profile error."""
    span = f"{first:#x}" if first == last else f"{first:#x}-{last:#x}"
    return ProfileError("machine", claimant,
                        f"{space} {span} are already claimed by component {holder!r}")


class Bus:
    """Memory map, I/O map, IRQ lines and A20 gate of one machine."""

    def __init__(self, hooks: Optional[HookFlags] = None) -> None:
        self.hooks = hooks if hooks is not None else HookFlags()
        self.memory = bytearray(0)
        self.ram_size = 0
        self.read_fast = bytearray(PAGE_COUNT + 1)
        self.write_fast = bytearray(PAGE_COUNT + 1)
        self.page_region: Dict[int, Region] = {}
        self.code_pages = bytearray(PAGE_COUNT + 1)
        #: per watched page, one byte per address: 1 where decoded code lives
        self.code_marks: Dict[int, bytearray] = {}
        #: the marks of the code pages that are plain RAM (no region, no data
        #: watcher): a CPU store to their unmarked bytes may go straight into
        #: `memory` (the CPU's write paths test this before the slow path)
        self.beside_code: Dict[int, bytearray] = {}
        self.code_write_listeners: List[Callable[[int, int, int], None]] = []
        self.io_table: List[Optional[IoHandler]] = [None] * 0x10000
        self._unclaimed_logged = set()
        self.irq_levels = [0] * 16
        self.irq_listeners: Dict[int, List[Callable[[int], None]]] = {}
        self.intr_listener: Callable[[bool], None] = lambda level: None
        self.interrupt_controller = None  # object with acknowledge() -> vector
        self.a20_sources: Dict[str, bool] = {}
        self.a20_mask = A20_ENABLED_MASK
        self.a20_listeners: List[Callable[[int], None]] = []
        self.machine = None
        #: the component being built (set by Machine.add_component): owner of the
        #: ports and address ranges claimed meanwhile, named when claims overlap
        self.claimant = ""
        #: debugger watchpoints: page -> callback(address, size, write, value)
        self.data_watchers: Dict[int, Callable[[int, int, bool, int], None]] = {}
        self.region_owner: Dict[int, str] = {}

    # ------------------------------------------------------------------ memory map
    def attach_ram(self, size: int) -> None:
        """Create physical RAM of `size` bytes at address 0 (the first megabyte is
        always backed so that ROMs there can live in the same array)."""
        self.ram_size = size
        self.memory = zeroed(max(size, 0x110000))
        pages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT
        for page in range(pages):
            if page not in self.page_region:
                self.read_fast[page] = 1
                self.write_fast[page] = 1
        for region in set(self.page_region.values()):
            self.map_region(region)  # ROMs mapped earlier move into the new array
        for page in list(self.code_marks):
            self._sort_code_page(page)

    def map_region(self, region: Region) -> None:
        """Put a slow-path region over its pages (ROM, MMIO).  A page another
        component has claimed is refused (ProfileError naming both)."""
        first = region.base >> PAGE_SHIFT
        last = (region.base + region.size - 1) >> PAGE_SHIFT
        in_array = region.base + region.size <= len(self.memory)
        owner = self.claimant or region.name
        for page in range(first, last + 1):
            held = self.page_region.get(page)
            if held is not None and held is not region and self.region_owner[page] != owner:
                raise _conflict(owner, self.region_owner[page], "memory",
                                max(region.base, page << PAGE_SHIFT),
                                min(region.base + region.size, (page + 1) << PAGE_SHIFT) - 1)
        for page in range(first, last + 1):
            self.region_owner[page] = owner
            self.page_region[page] = region
            self.write_fast[page] = 0
            self.read_fast[page] = 1 if (isinstance(region, ROMRegion) and in_array) else 0
            self.beside_code.pop(page, None)
        if isinstance(region, ROMRegion) and in_array:
            self.memory[region.base:region.base + region.size] = region.data

    def map_guest_region(self, region: Region) -> None:
        """Map a region where the guest placed it (a PCI BAR), on the pages above
        RAM that no other region holds: the chipset decodes RAM and the fixed
        devices first, so a BAR put over them is not seen there."""
        for page in range(region.base >> PAGE_SHIFT, ((region.base + region.size - 1) >> PAGE_SHIFT) + 1):
            if (page << PAGE_SHIFT) < self.ram_size or page in self.page_region or page > PAGE_COUNT:
                continue
            self.page_region[page] = region
            self.region_owner[page] = region.name
            self.read_fast[page] = self.write_fast[page] = 0
            self.beside_code.pop(page, None)

    def unmap_region(self, region: Region) -> None:
        """Take a region off the pages it holds (a PCI BAR moved or disabled):
        they read as open bus again."""
        for page in range(region.base >> PAGE_SHIFT, ((region.base + region.size - 1) >> PAGE_SHIFT) + 1):
            if self.page_region.get(page) is not region:
                continue
            del self.page_region[page]
            del self.region_owner[page]
            self._sort_code_page(page)

    def map_rom(self, base: int, data: bytes, name: str) -> ROMRegion:
        region = ROMRegion(base, data, name)
        self.map_region(region)
        return region

    def map_mmio(self, base: int, size: int, name: str, read: Callable[[int, int], int],
                 write: Callable[[int, int, int], None],
                 write_block: Optional[Callable[[int, bytes], None]] = None) -> MMIORegion:
        region = MMIORegion(base, size, name, read, write, write_block)
        self.map_region(region)
        return region

    def watch_code(self, address: int, length: int) -> None:
        """The CPU has decoded code from these bytes: route writes to their pages
        through `write()`, which tells the code-write listeners before storing when
        a write touches one of these bytes.  Writes to other bytes of the page (a
        stack or variables beside the code) only take the slow path."""
        end = address + length
        while address < end:
            page = address >> PAGE_SHIFT
            offset = address & (PAGE_SIZE - 1)
            count = min(end - address, PAGE_SIZE - offset)
            marks = self.code_marks.get(page)
            if marks is None:
                marks = self.code_marks[page] = bytearray(PAGE_SIZE)
                self.code_pages[page] = 1
                self.write_fast[page] = 0
                self._sort_code_page(page)
            marks[offset:offset + count] = b"\x01" * count
            address += count

    def watch_code_page(self, page: int) -> None:
        """Watch every byte of a page (see `watch_code`)."""
        self.watch_code(page << PAGE_SHIFT, PAGE_SIZE)

    def remap_page(self, page: int, region: Optional[Region]) -> None:
        """Put `region` over a page of the memory array the owner already claimed
        (None: plain RAM) and tell the decoded-code listeners that its bytes may
        have changed (shadow RAM switching between ROM and DRAM)."""
        if region is None:
            self.page_region.pop(page, None)
        else:
            self.page_region[page] = region
        self.read_fast[page] = 1
        self.write_fast[page] = 0 if region is not None or self.code_pages[page] or \
            page in self.data_watchers else 1
        self._sort_code_page(page)
        if self.code_pages[page]:
            self._code_written(page, page << PAGE_SHIFT, (page + 1) << PAGE_SHIFT)

    def unwatch_code_page(self, page: int) -> None:
        if self.code_pages[page]:
            self.code_pages[page] = 0
            self.code_marks.pop(page, None)
            self.beside_code.pop(page, None)
            if page not in self.page_region and (page << PAGE_SHIFT) < self.ram_size:
                self.write_fast[page] = 1

    def watch_data(self, page: int, callback: Callable[[int, int, bool, int], None]) -> None:
        """Send every access to a RAM page through the slow path and `callback`
        (debugger watchpoints: only watched pages pay)."""
        self.data_watchers[page] = callback
        self.read_fast[page] = 0
        self.write_fast[page] = 0
        self.beside_code.pop(page, None)

    def unwatch_data(self, page: int) -> None:
        if self.data_watchers.pop(page, None) is None:
            return
        self._sort_code_page(page)
        if page not in self.page_region and (page << PAGE_SHIFT) < self.ram_size:
            self.read_fast[page] = 1
            if not self.code_pages[page]:
                self.write_fast[page] = 1

    def _touches_code(self, address: int, size: int) -> bool:
        page = address >> PAGE_SHIFT
        marks = self.code_marks.get(page)
        if marks is None:
            return False
        offset = address & (PAGE_SIZE - 1)
        return 1 in marks[offset:offset + size]

    def _sort_code_page(self, page: int) -> None:
        """Put a page's code marks in `beside_code` when it is plain RAM, or
        take them out."""
        marks = self.code_marks.get(page)
        if marks is not None and page not in self.page_region and page not in self.data_watchers \
                and (page + 1) << PAGE_SHIFT <= self.ram_size:
            self.beside_code[page] = marks
        else:
            self.beside_code.pop(page, None)

    def store_direct(self, address: int, data: bytes) -> bool:
        """Store CPU-written bytes that stay within one page straight into RAM when
        the page takes them so: write-fast, or holding decoded code none of whose
        bytes `data` covers; False leaves them to `write()`."""
        page = address >> PAGE_SHIFT
        offset = address & (PAGE_SIZE - 1)
        end = offset + len(data)
        if end > PAGE_SIZE:
            return False
        if not self.write_fast[page]:
            marks = self.beside_code.get(page)
            if marks is None or 1 in marks[offset:end]:
                return False
        self.memory[address:address + len(data)] = data
        return True

    def store_beside_code(self, address: int, size: int, value: int) -> bool:
        """Store a CPU write that lands on a RAM page holding decoded code but on
        none of its code bytes (a DOS stack or variables beside the code), and
        say so; False leaves the write to `write()`.  The common case of such
        pages, done without `write()`'s general checks."""
        marks = self.beside_code.get(address >> PAGE_SHIFT)
        if marks is None:
            return False
        offset = address & (PAGE_SIZE - 1)
        if offset + size > PAGE_SIZE:
            return False
        # Words and bytes (most of DOS's stores) written out by hand: half the
        # time of the slice test and `to_bytes` the dword case uses.
        if size == 2:
            if marks[offset] or marks[offset + 1]:
                return False
            self.memory[address] = value & 0xFF
            self.memory[address + 1] = (value >> 8) & 0xFF
        elif size == 1:
            if marks[offset]:
                return False
            self.memory[address] = value & 0xFF
        else:
            if 1 in marks[offset:offset + size]:
                return False
            self.memory[address:address + size] = (value & SIZE_MASKS[size]).to_bytes(size, "little")
        return True

    def read(self, address: int, size: int) -> int:
        """Slow-path physical read of 1, 2 or 4 bytes (little-endian)."""
        region = self.page_region.get(address >> PAGE_SHIFT)
        if region is not None and region.contains(address, size):
            value = region.read(address, size)
            if isinstance(region, MMIORegion) and self.hooks.mmio_read:
                self.hooks.call.mmio_read(machine=self.machine, address=address, size=size, value=value)
            return value
        if region is None and address + size <= self.ram_size and \
                (address >> PAGE_SHIFT) == ((address + size - 1) >> PAGE_SHIFT):
            value = int.from_bytes(self.memory[address:address + size], "little")
            if self.data_watchers:
                watcher = self.data_watchers.get(address >> PAGE_SHIFT)
                if watcher is not None:
                    watcher(address, size, False, value)
            return value
        value = 0
        for i in range(size):
            value |= self.read_byte(address + i) << (8 * i)
        return value

    def read_byte(self, address: int) -> int:
        if address >= BEYOND_4G:
            return 0xFF
        region = self.page_region.get(address >> PAGE_SHIFT)
        if region is not None:
            return self.read(address, 1)
        if address < self.ram_size:
            if self.data_watchers and (address >> PAGE_SHIFT) in self.data_watchers:
                self.data_watchers[address >> PAGE_SHIFT](address, 1, False, self.memory[address])
            return self.memory[address]
        return 0xFF

    def write(self, address: int, size: int, value: int) -> None:
        """Slow-path physical write of 1, 2 or 4 bytes (little-endian)."""
        page = address >> PAGE_SHIFT
        region = self.page_region.get(page)
        if region is not None and region.contains(address, size):
            if isinstance(region, MMIORegion) and self.hooks.mmio_write:
                self.hooks.call.mmio_write(machine=self.machine, address=address, size=size, value=value)
            region.write(address, size, value)
            return
        end_page = (address + size - 1) >> PAGE_SHIFT
        if region is None and end_page == page and address + size <= self.ram_size:
            data = (value & SIZE_MASKS[size]).to_bytes(size, "little")
            if self.code_pages[page] and self._touches_code(address, size) and \
                    self.memory[address:address + size] != data:
                self._code_written(page, address, address + size)
            if self.data_watchers:
                watcher = self.data_watchers.get(page)
                if watcher is not None:
                    watcher(address, size, True, value & SIZE_MASKS[size])
            self.memory[address:address + size] = data
            return
        for i in range(size):
            self.write_byte(address + i, (value >> (8 * i)) & 0xFF)

    def write_byte(self, address: int, value: int) -> None:
        if address >= BEYOND_4G:
            return
        page = address >> PAGE_SHIFT
        if page in self.page_region:
            self.write(address, 1, value)
        elif address < self.ram_size:
            if self.code_pages[page] and self._touches_code(address, 1) and \
                    self.memory[address] != value & 0xFF:
                self._code_written(page, address, address + 1)
            if self.data_watchers and page in self.data_watchers:
                self.data_watchers[page](address, 1, True, value & 0xFF)
            self.memory[address] = value & 0xFF

    def read_bytes(self, address: int, length: int) -> bytes:
        """Copy physical memory out (DMA-style, for BIOS services and tests)."""
        if (address + length <= self.ram_size and
                not any((p in self.page_region) for p in range(address >> PAGE_SHIFT,
                                                               ((address + length - 1) >> PAGE_SHIFT) + 1))):
            return bytes(self.memory[address:address + length])
        return bytes(self.read_byte(address + i) for i in range(length))

    def write_bytes(self, address: int, data: bytes) -> None:
        """Copy into physical memory (DMA-style), honouring ROM, MMIO and code pages."""
        if not data:
            return
        first = address >> PAGE_SHIFT
        last = (address + len(data) - 1) >> PAGE_SHIFT
        pages = range(first, last + 1)
        if address + len(data) <= self.ram_size and not any(p in self.page_region for p in pages):
            for page in pages:
                if self.code_pages[page]:
                    start = max(address, page << PAGE_SHIFT)
                    stop = min(address + len(data), (page + 1) << PAGE_SHIFT)
                    if self._touches_code(start, stop - start) and \
                            self.memory[start:stop] != data[start - address:stop - address]:
                        self._code_written(page, start, stop)
            self.memory[address:address + len(data)] = data
            return
        region = self.page_region.get(first)
        if isinstance(region, MMIORegion) and region.write_block is not None and \
                region.contains(address, len(data)) and not self.hooks.mmio_write:
            region.write_block(address, bytes(data))
            return
        for i, byte in enumerate(data):
            self.write_byte(address + i, byte)

    def _code_written(self, page: int, start: int, end: int) -> None:
        """Tell the listeners that physical bytes start..end-1 of `page` are about
        to change (some of them hold decoded code).  Rewriting the same bytes (a
        kernel's `int n` patched with the same n at every call) keeps the blocks."""
        for listener in self.code_write_listeners:
            listener(page, start, end)

    # ------------------------------------------------------------------ I/O ports
    def register_io(self, first: int, last: int, read: Optional[IoRead], write: Optional[IoWrite],
                    name: str, sizes: tuple = (1,)) -> None:
        """Claim ports first..last.  `sizes` lists the access sizes the handlers
        accept; wider accesses are split into byte accesses on consecutive ports,
        as the ISA bus does for 8-bit devices."""
        owner = self.claimant or name
        held = [port for port in range(first, last + 1)
                if self.io_table[port] is not None and self.io_table[port].owner != owner]
        if held:
            raise _conflict(owner, self.io_table[held[0]].owner, "I/O ports", held[0], held[-1])
        handler = IoHandler(first, last, read, write, name, sizes, owner)
        for port in range(first, last + 1):
            self.io_table[port] = handler

    def release_io(self, first: int, last: int) -> None:
        """Give up ports first..last (a PCI I/O BAR that moved or stopped decoding)."""
        for port in range(first, last + 1):
            self.io_table[port] = None

    def port_name(self, port: int) -> str:
        handler = self.io_table[port & 0xFFFF]
        return handler.name if handler is not None else "unclaimed"

    def io_read(self, port: int, size: int) -> int:
        port &= 0xFFFF
        handler = self.io_table[port]
        if handler is not None and handler.read is not None and size in handler.sizes:
            value = handler.read(port, size) & SIZE_MASKS[size]
        elif handler is not None and size > 1 and 1 in handler.sizes:
            value = 0
            for i in range(size):
                value |= self.io_read(port + i, 1) << (8 * i)
            return value
        else:
            self._log_unclaimed(port, "read")
            value = SIZE_MASKS[size]
        if self.hooks.io_read:
            self.hooks.call.io_read(machine=self.machine, port=port, size=size, value=value)
        return value

    def io_write(self, port: int, size: int, value: int) -> None:
        port &= 0xFFFF
        value &= SIZE_MASKS[size]
        handler = self.io_table[port]
        if handler is not None and size > 1 and size not in handler.sizes and 1 in handler.sizes:
            for i in range(size):
                self.io_write(port + i, 1, (value >> (8 * i)) & 0xFF)
            return
        if self.hooks.io_write:
            self.hooks.call.io_write(machine=self.machine, port=port, size=size, value=value)
        if handler is not None and handler.write is not None:
            handler.write(port, size, value)
        else:
            self._log_unclaimed(port, "write")

    def _log_unclaimed(self, port: int, access: str) -> None:
        key = (port, access)
        if key not in self._unclaimed_logged:
            self._unclaimed_logged.add(key)
            log.info("unclaimed I/O port %#06x %s", port, access)

    # ------------------------------------------------------------------ IRQ lines
    def connect_irq(self, line: int, listener: Callable[[int], None]) -> None:
        """Wire an interrupt controller input to `line` (called with the new level).
        A line may drive several inputs: the 8259A's and an I/O APIC's."""
        self.irq_listeners.setdefault(line, []).append(listener)

    def set_irq(self, line: int, level: int) -> None:
        """A device drives IRQ `line` to `level` (0 or 1); hooks fire on edges."""
        level = 1 if level else 0
        if self.irq_levels[line] == level:
            return
        self.irq_levels[line] = level
        if level and self.hooks.irq_raised:
            self.hooks.call.irq_raised(machine=self.machine, line=line)
        elif not level and self.hooks.irq_lowered:
            self.hooks.call.irq_lowered(machine=self.machine, line=line)
        for listener in self.irq_listeners.get(line, ()):
            listener(level)

    def pulse_irq(self, line: int) -> None:
        """An edge-triggered request: raise then lower the line."""
        self.set_irq(line, 1)
        self.set_irq(line, 0)

    def set_intr(self, level: bool) -> None:
        """The interrupt controller drives the CPU's INTR pin."""
        self.intr_listener(bool(level))

    def interrupt_acknowledge(self) -> int:
        """The CPU's INTA cycle: the controller answers with a vector."""
        return self.interrupt_controller.acknowledge()

    # ------------------------------------------------------------------ A20 gate
    def set_a20(self, source: str, enabled: bool) -> None:
        """A20 is enabled while any source (8042 output port, port 0x92, BIOS) enables it."""
        self.a20_sources[source] = bool(enabled)
        mask = A20_ENABLED_MASK if any(self.a20_sources.values()) else A20_DISABLED_MASK
        if mask != self.a20_mask:
            self.a20_mask = mask
            for listener in self.a20_listeners:
                listener(mask)

    @property
    def a20_enabled(self) -> bool:
        return self.a20_mask == A20_ENABLED_MASK
