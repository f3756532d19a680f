"""Direct kernel boot, as QEMU's `-kernel`/`-initrd`/`-append`: instead of a boot
sector, int 19h loads a Linux bzImage by the Linux/x86 boot protocol or a
multiboot (v1) kernel.

Linux (Documentation/x86/boot.rst, protocol 2.00-2.15): the real-mode setup code
(`setup_sects` + 1 sectors) goes to 0x10000 (0x90000 before protocol 2.02), the
protected-mode kernel to 0x100000, the initrd to the highest page-aligned address
below `initrd_addr_max` and the end of RAM; the setup header gets the loader's
fields (type_of_loader, loadflags, heap_end_ptr, cmd_line_ptr, ramdisk_image/size,
vid_mode) and the CPU starts the setup code in real mode at seg+20h:0 with
DS=ES=FS=GS=SS=seg and SP at the heap's end, so the setup asks the BIOS for the
memory map, the video mode and the rest itself, as it does under QEMU.

Multiboot (v1 specification): the header in the first 8 KiB, the ELF program
headers (or the a.out-kludge addresses of flag 16) say where the kernel goes; the
initrd becomes module 0; the information structure holds the memory sizes, the
command line, the modules and the BIOS's E820 map.  An ELF kernel's section header
table is passed too (flag 5), as GRUB does: the table and the sections no segment
loads (.symtab, .strtab, .shstrtab: sh_addr 0) are copied after the kernel, each
sh_addr set to where its section now lies; kernels read their own symbols there
for stack traces.  A real-mode stub written here
does what a boot loader does (A20 on, a flat GDT, CR0.PE, segment loads) and jumps
to the entry with EAX=2BADB002h and EBX=the information structure.
"""

import os
import struct
from typing import Any, List, NamedTuple, Optional, Tuple

from pcmachine.errors import UserError

# -- Linux boot protocol -------------------------------------------------------------
HEADER_MAGIC = b"HdrS"
BOOT_FLAG = 0xAA55
LOADED_HIGH = 0x01
CAN_USE_HEAP = 0x80
TYPE_OF_LOADER = 0xFF           # "no assigned id" (boot.rst)
NORMAL_VGA = 0xFFFF
KERNEL_ADDRESS = 0x100000
OLD_INITRD_ADDR_MAX = 0x37FFFFFF
OLD_CMDLINE_SIZE = 255
OLD_CMDLINE_MAGIC = 0xA33F

# -- multiboot ------------------------------------------------------------------------
MULTIBOOT_MAGIC = 0x1BADB002
MULTIBOOT_LOADER_MAGIC = 0x2BADB002
MULTIBOOT_SEARCH = 8192
MB_PAGE_ALIGN, MB_MEMORY_INFO, MB_VIDEO_MODE, MB_AOUT_KLUDGE = 1, 2, 4, 0x10000
MB_SUPPORTED_REQUIRED = MB_PAGE_ALIGN | MB_MEMORY_INFO
INFO_MEMORY, INFO_CMDLINE, INFO_MODS, INFO_ELF_SHDR, INFO_MMAP, INFO_LOADER_NAME = 0x1, 0x4, 0x8, 0x20, 0x40, 0x200
SHT_NOBITS = 8
PAGE = 0x1000
STUB_ADDRESS = 0x8000           # the stub, its GDT and the information structures
STUB_AREA_END = 0x10000
LOADER_NAME = b"pcmachine\0"


class Loaded(NamedTuple):
    """What int 19h writes and how the CPU starts."""

    pieces: List[Tuple[int, bytes]]     # (physical address, bytes)
    zeroed: List[Tuple[int, int]]       # (physical address, length): ELF .bss
    segment: int                        # Linux: the setup segment; multiboot: 0
    offset: int
    stack: int


def load_kernel(kernel: str, initrd: Optional[str], append: str, ram_size: int,
                memory_map: List[Tuple[int, int, int]], initrd_name: Optional[str] = None) -> Loaded:
    """Read and check the kernel (and initrd) and lay them out in memory; a bad
    file raises a one-line UserError naming it.  `initrd_name` is a multiboot
    module's string (empty or None: the initrd's path)."""
    data = _read(kernel, "--kernel")
    ramdisk = _read(initrd, "--initrd") if initrd else None
    if len(data) >= 0x206 and data[0x202:0x206] == HEADER_MAGIC:
        return _linux(kernel, data, ramdisk, append, ram_size)
    header = _multiboot_header(data)
    if header is not None:
        return _multiboot(kernel, data, header,
                          (initrd_name or initrd, ramdisk) if ramdisk is not None else None,
                          append, ram_size, memory_map)
    raise UserError(f"--kernel {kernel}: neither a Linux bzImage (no 'HdrS' setup header) "
                    "nor a multiboot kernel (no header in the first 8 KiB)")


def _read(path: str, flag: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise UserError(f"{flag} {path}: {error.strerror or error}") from None


# ------------------------------------------------------------------ Linux
def _linux(path: str, data: bytes, ramdisk: Optional[bytes], append: str, ram_size: int) -> Loaded:
    def field(offset: int, fmt: str) -> int:
        return struct.unpack_from("<" + fmt, data, offset)[0]

    version = field(0x206, "H")
    if version < 0x200:
        raise UserError(f"--kernel {path}: boot protocol {version >> 8}.{version & 0xFF:02d} is too "
                        "old (2.00 or later is supported)")
    if field(0x1FE, "H") != BOOT_FLAG:
        raise UserError(f"--kernel {path}: the setup header has no boot flag 55AAh")
    if not field(0x211, "B") & LOADED_HIGH:
        raise UserError(f"--kernel {path}: a zImage (loaded low) is not supported; build a bzImage")
    setup_sects = field(0x1F1, "B") or 4
    setup_size = (setup_sects + 1) * 512
    if len(data) <= setup_size:
        raise UserError(f"--kernel {path}: the file ends inside its setup code ({setup_sects} sectors)")
    kernel = data[setup_size:]
    cmdline_size = field(0x238, "I") if version >= 0x206 else OLD_CMDLINE_SIZE
    command = append.encode("latin-1", "replace")
    if len(command) > cmdline_size:
        raise UserError(f"--append: {len(command)} bytes; this kernel takes at most {cmdline_size}")
    if KERNEL_ADDRESS + len(kernel) > ram_size:
        raise UserError(f"--kernel {path}: {len(kernel)} bytes do not fit in the RAM above 1 MiB")

    # boot.rst, "Sample boot configuration".
    if version >= 0x202:
        base, heap_end = 0x10000, 0xE000
    else:
        base, heap_end = 0x90000, 0x9800
    setup = bytearray(data[:setup_size])
    setup[0x210] = TYPE_OF_LOADER
    struct.pack_into("<H", setup, 0x1FA, _vid_mode(append))
    pieces = [(KERNEL_ADDRESS, kernel)]
    if version >= 0x201:
        struct.pack_into("<H", setup, 0x224, heap_end - 0x200)
        setup[0x211] |= CAN_USE_HEAP
    if version >= 0x202:
        struct.pack_into("<I", setup, 0x228, base + heap_end)
    else:
        struct.pack_into("<HH", setup, 0x20, OLD_CMDLINE_MAGIC, heap_end)
        struct.pack_into("<H", setup, 0x212, heap_end + len(command) + 1)    # setup_move_size
    pieces.append((base + heap_end, command + b"\0"))
    if ramdisk is not None:
        highest = field(0x22C, "I") if version >= 0x203 else OLD_INITRD_ADDR_MAX
        top = min(highest + 1, ram_size)
        address = (top - len(ramdisk)) & ~0xFFF
        if address < KERNEL_ADDRESS + len(kernel):
            raise UserError(f"--initrd: {len(ramdisk)} bytes do not fit in RAM beside the kernel "
                            f"(below {top:#x}); give the machine more memory (--set ram.size=...)")
        struct.pack_into("<II", setup, 0x218, address, len(ramdisk))
        pieces.append((address, ramdisk))
    pieces.insert(0, (base, bytes(setup)))
    return Loaded(pieces, [], base >> 4, 0, heap_end)


def _vid_mode(append: str) -> int:
    """vid_mode from a `vga=` option as boot.rst's "Special command line options"
    say (normal FFFFh, ext FFFEh, ask FFFDh, or a number), else NORMAL_VGA."""
    for word in append.split():
        if word.startswith("vga="):
            value = word[4:]
            named = {"normal": 0xFFFF, "ext": 0xFFFE, "ask": 0xFFFD}
            if value in named:
                return named[value]
            try:
                return int(value, 0) & 0xFFFF
            except ValueError:
                raise UserError(f"--append: {word}: expected normal, ext, ask or a mode number") from None
    return NORMAL_VGA


# ------------------------------------------------------------------ multiboot
class MultibootHeader(NamedTuple):
    offset: int
    flags: int
    header_addr: int
    load_addr: int
    load_end_addr: int
    bss_end_addr: int
    entry_addr: int


def _multiboot_header(data: bytes) -> Optional[MultibootHeader]:
    for offset in range(0, min(len(data), MULTIBOOT_SEARCH) - 11, 4):
        magic, flags, checksum = struct.unpack_from("<III", data, offset)
        if magic == MULTIBOOT_MAGIC and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            extra = struct.unpack_from("<5I", data, offset + 12) if len(data) >= offset + 32 else (0,) * 5
            return MultibootHeader(offset, flags, *extra)
    return None


def _elf_segments(path: str, data: bytes) -> Tuple[List[Tuple[int, bytes]], List[Tuple[int, int]], int]:
    """PT_LOAD segments of a 32-bit x86 ELF executable: (paddr, bytes), bss, entry."""
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise UserError(f"--kernel {path}: a multiboot kernel must be a 32-bit little-endian ELF "
                        "file or set the a.out-kludge addresses (flag 16)")
    machine, _, entry, phoff = struct.unpack_from("<HIII", data, 0x12)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x2A)
    if machine != 3:
        raise UserError(f"--kernel {path}: an ELF file for machine {machine}, not i386")
    pieces, zeroed = [], []
    for index in range(phnum):
        kind, offset, _, paddr, filesz, memsz = struct.unpack_from("<6I", data, phoff + index * phentsize)
        if kind != 1 or memsz == 0:
            continue
        if offset + filesz > len(data):
            raise UserError(f"--kernel {path}: program header {index} points past the end of the file")
        pieces.append((paddr, data[offset:offset + filesz]))
        if memsz > filesz:
            zeroed.append((paddr + filesz, memsz - filesz))
    if not pieces:
        raise UserError(f"--kernel {path}: the ELF file has no loadable segment")
    return pieces, zeroed, entry


def _elf_sections(data: bytes, start: int) -> Optional[Tuple[List[Tuple[int, bytes]], bytes, int]]:
    """The section header table at START and the unloaded sections after it, as
    GRUB lays them out: (pieces, the information structure's 16-byte syms field,
    the end); None when the file has no table or it lies outside the file (GRUB
    then passes no table either)."""
    shoff = struct.unpack_from("<I", data, 0x20)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    if shnum == 0 or shentsize < 40 or shoff + shnum * shentsize > len(data):
        return None
    table = bytearray(data[shoff:shoff + shnum * shentsize])
    pieces = []
    address = start + len(table)
    for index in range(shnum):
        _, kind, _, sh_addr, offset, size, _, _, align = struct.unpack_from("<9I", table, index * shentsize)
        if sh_addr != 0 or size == 0 or kind == SHT_NOBITS:
            continue
        if offset + size > len(data):
            return None
        if align > 1:
            address = (address + align - 1) // align * align
        pieces.append((address, data[offset:offset + size]))
        struct.pack_into("<I", table, index * shentsize + 12, address)
        address += size
    pieces.insert(0, (start, bytes(table)))
    return pieces, struct.pack("<4I", shnum, shentsize, start, shstrndx), address


def _aout_segments(path: str, data: bytes, header: MultibootHeader) -> Tuple[List[Tuple[int, bytes]],
                                                                              List[Tuple[int, int]], int]:
    start = header.offset - (header.header_addr - header.load_addr)
    if header.load_addr > header.header_addr or start < 0:
        raise UserError(f"--kernel {path}: multiboot load_addr is above header_addr")
    end = len(data) if header.load_end_addr == 0 else start + header.load_end_addr - header.load_addr
    image = data[start:end]
    zeroed = []
    if header.bss_end_addr > header.load_addr + len(image):
        zeroed.append((header.load_addr + len(image), header.bss_end_addr - header.load_addr - len(image)))
    return [(header.load_addr, image)], zeroed, header.entry_addr


def _multiboot(path: str, data: bytes, header: MultibootHeader, ramdisk: Optional[Tuple[str, bytes]],
               append: str, ram_size: int, memory_map: List[Tuple[int, int, int]]) -> Loaded:
    required = header.flags & 0xFFFF
    if required & ~MB_SUPPORTED_REQUIRED:
        missing = "a video mode (flag 2)" if required & MB_VIDEO_MODE else f"flags {required:#x}"
        raise UserError(f"--kernel {path}: the multiboot kernel requires {missing}, which is not supported")
    if header.flags & MB_AOUT_KLUDGE:
        pieces, zeroed, entry = _aout_segments(path, data, header)
    else:
        pieces, zeroed, entry = _elf_segments(path, data)
    end = max([a + len(b) for a, b in pieces] + [a + n for a, n in zeroed])
    for address, length in [(a, len(b)) for a, b in pieces] + zeroed:
        if address < STUB_AREA_END and address + length > STUB_ADDRESS:
            raise UserError(f"--kernel {path}: the kernel overlaps the loader's area "
                            f"{STUB_ADDRESS:#x}-{STUB_AREA_END:#x}")
    if end > ram_size:
        raise UserError(f"--kernel {path}: the kernel ends at {end:#x}, beyond the RAM ({ram_size:#x})")

    info_address = STUB_ADDRESS + 0x200
    area = _Area(info_address + 0x80)          # after the 88-byte information structure
    flags = INFO_MEMORY | INFO_CMDLINE | INFO_MMAP | INFO_LOADER_NAME
    syms = bytes(16)
    sections = None if header.flags & MB_AOUT_KLUDGE else _elf_sections(data, _page_up(end))
    if sections is not None and sections[2] <= ram_size:
        section_pieces, syms, end = sections
        pieces += section_pieces
        flags |= INFO_ELF_SHDR
    lower = next((length for base, length, kind in memory_map if base == 0 and kind == 1), 0)
    upper = next((length for base, length, kind in memory_map if base == 0x100000 and kind == 1), 0)
    cmdline = area.put((os.path.basename(path) + (" " + append if append else "")).encode("latin-1") + b"\0")
    loader_name = area.put(LOADER_NAME)
    mmap = b"".join(struct.pack("<IQQI", 20, base, length, kind) for base, length, kind in memory_map)
    mmap_address = area.put(mmap)
    mods_count = mods_address = 0
    if ramdisk is not None:
        module_path, module = ramdisk
        module_start = _page_up(end)
        if module_start + len(module) > ram_size:
            raise UserError(f"--initrd: {len(module)} bytes do not fit in RAM after the kernel")
        pieces.append((module_start, module))
        name = area.put(module_path.encode("latin-1", "replace") + b"\0")      # as QEMU: the path given
        mods_address = area.put(struct.pack("<IIII", module_start, module_start + len(module), name, 0))
        mods_count = 1
        flags |= INFO_MODS
    info = struct.pack("<IIII", flags, lower // 1024, upper // 1024, 0) + struct.pack("<III", cmdline, mods_count,
                                                                           mods_address)
    info += syms
    info += struct.pack("<II", len(mmap), mmap_address) + bytes(12)    # drives, config table
    info += struct.pack("<I", loader_name)
    if area.end > STUB_AREA_END:
        raise UserError("--append: the command line is too long for the multiboot loader's area")
    pieces += [(STUB_ADDRESS, _stub(entry, info_address)), (info_address, info)] + area.pieces
    return Loaded(pieces, zeroed, 0, STUB_ADDRESS, STUB_ADDRESS)


def _page_up(address: int) -> int:
    return (address + PAGE - 1) & ~(PAGE - 1)


class _Area:
    """Consecutive 4-aligned blocks in the loader's area: their addresses."""

    def __init__(self, start: int) -> None:
        self.end = start
        self.pieces: List[Tuple[int, bytes]] = []

    def put(self, data: bytes) -> int:
        address = self.end
        self.pieces.append((address, data))
        self.end = (address + len(data) + 3) & ~3
        return address


GDT_OFFSET, GDTR_OFFSET, PROTECTED_OFFSET = 0x100, 0xF8, 0x40
FLAT_GDT = struct.pack("<3Q", 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF)    # null, code 08h, data 10h


def _stub(entry: int, info: int) -> bytes:
    """Real-mode code at STUB_ADDRESS: A20 through port 92h, a flat GDT, PE, then
    32-bit segment loads and the multiboot registers."""
    gdtr = STUB_ADDRESS + GDTR_OFFSET
    real = (b"\xFA"                                         # cli
            b"\xE4\x92\x0C\x02\x24\xFE\xE6\x92"             # in al,92h; or al,2; and al,0FEh; out 92h,al
            b"\x2E\x0F\x01\x16" + struct.pack("<H", gdtr) +  # lgdt [cs:gdtr]
            b"\x0F\x20\xC0\x0C\x01\x0F\x22\xC0"             # mov eax,cr0; or al,1; mov cr0,eax
            b"\x66\xEA" + struct.pack("<IH", STUB_ADDRESS + PROTECTED_OFFSET, 0x08))  # jmp dword 08h:pm
    protected = (b"\x66\xB8\x10\x00"                        # mov ax,10h
                 b"\x8E\xD8\x8E\xC0\x8E\xE0\x8E\xE8\x8E\xD0"  # mov ds/es/fs/gs/ss,ax
                 b"\xBC" + struct.pack("<I", STUB_ADDRESS) +  # mov esp,stub (the spec leaves it undefined)
                 b"\xB8" + struct.pack("<I", MULTIBOOT_LOADER_MAGIC) +   # mov eax,2BADB002h
                 b"\xBB" + struct.pack("<I", info) +        # mov ebx,info
                 b"\xB9" + struct.pack("<I", entry) +       # mov ecx,entry
                 b"\xFF\xE1")                               # jmp ecx
    stub = bytearray(GDT_OFFSET + len(FLAT_GDT))
    stub[:len(real)] = real
    stub[PROTECTED_OFFSET:PROTECTED_OFFSET + len(protected)] = protected
    struct.pack_into("<HI", stub, GDTR_OFFSET, len(FLAT_GDT) - 1, STUB_ADDRESS + GDT_OFFSET)
    stub[GDT_OFFSET:] = FLAT_GDT
    return bytes(stub)
