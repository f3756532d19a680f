"""Read-only views of the guest's system structures for the monitor and the gdb stub:
linear-to-physical walks (32-bit, 4 MiB pages, PAE), page-table ranges, GDT/LDT/IDT
entries and the TSS, decoded as the Intel SDM vol. 3A chapters 3, 4, 6 and 7 lay
them out.  Nothing here changes the machine: walks neither fault nor set accessed
bits, and reads go around devices' side effects only where memory is plain RAM."""

import struct
from typing import Any, Dict, List, Optional, Tuple

PRESENT, WRITABLE, USER, ACCESSED, DIRTY, LARGE, GLOBAL = 0x1, 0x2, 0x4, 0x20, 0x40, 0x80, 0x100
CR0_PE, CR0_PG = 0x1, 0x80000000
CR4_PSE, CR4_PAE = 0x10, 0x20
SEGMENT_NAMES = ("es", "cs", "ss", "ds", "fs", "gs")
SYSTEM_TYPES = {0x1: "TSS16 (avail)", 0x2: "LDT", 0x3: "TSS16 (busy)", 0x4: "call gate16",
                0x5: "task gate", 0x6: "interrupt gate16", 0x7: "trap gate16",
                0x9: "TSS32 (avail)", 0xB: "TSS32 (busy)", 0xC: "call gate32",
                0xE: "interrupt gate32", 0xF: "trap gate32"}
GATES = (0x4, 0x5, 0x6, 0x7, 0xC, 0xE, 0xF)


def read_physical(machine: Any, address: int, length: int) -> bytes:
    """Bytes of physical memory (ROM and RAM as the guest sees them)."""
    return bytes(machine.bus.read_byte(address + i) for i in range(length)) \
        if address + length > machine.bus.ram_size else bytes(machine.bus.memory[address:address + length])


def _u32(machine: Any, address: int) -> int:
    return struct.unpack("<I", read_physical(machine, address, 4))[0]


def _u64(machine: Any, address: int) -> int:
    return struct.unpack("<Q", read_physical(machine, address, 8))[0]


def translate(machine: Any, linear: int, cpu: Any = None) -> Optional[Tuple[int, int]]:
    """(physical address, effective flags) of a linear address as `cpu` (default: the
    running processor) sees it, or None when the walk finds a non-present entry.
    Without paging the address is the physical one (with the A20 mask)."""
    cpu = cpu or machine.cpu
    linear &= 0xFFFFFFFF
    if not cpu.cr[0] & CR0_PG:
        return linear & machine.bus.a20_mask, PRESENT | WRITABLE | USER
    if cpu.cr[4] & CR4_PAE:
        return _translate_pae(machine, cpu, linear)
    pde = _u32(machine, (cpu.cr[3] & 0xFFFFF000) + ((linear >> 22) << 2))
    if not pde & PRESENT:
        return None
    if pde & LARGE and cpu.cr[4] & CR4_PSE:
        high = ((pde >> 13) & 0xFF) << 32                 # PSE-36 bits 39:32
        return (high | (pde & 0xFFC00000)) + (linear & 0x3FFFFF), pde & 0x1FF
    pte = _u32(machine, (pde & 0xFFFFF000) + (((linear >> 12) & 0x3FF) << 2))
    if not pte & PRESENT:
        return None
    return (pte & 0xFFFFF000) + (linear & 0xFFF), (pte & 0x1FF & ~(WRITABLE | USER)) | (pde & pte & (WRITABLE | USER))


def _translate_pae(machine: Any, cpu: Any, linear: int) -> Optional[Tuple[int, int]]:
    pdpte = _u64(machine, (cpu.cr[3] & 0xFFFFFFE0) + ((linear >> 30) << 3))
    if not pdpte & PRESENT:
        return None
    pde = _u64(machine, (pdpte & 0xFFFFFF000) + (((linear >> 21) & 0x1FF) << 3))
    if not pde & PRESENT:
        return None
    if pde & LARGE:
        return (pde & 0xFFFE00000) + (linear & 0x1FFFFF), pde & 0x1FF
    pte = _u64(machine, (pde & 0xFFFFFF000) + (((linear >> 12) & 0x1FF) << 3))
    if not pte & PRESENT:
        return None
    return (pte & 0xFFFFFF000) + (linear & 0xFFF), (pte & 0x1FF & ~(WRITABLE | USER)) | (pde & pte & (WRITABLE | USER))


def read_linear(machine: Any, linear: int, length: int, cpu: Any = None) -> Optional[bytes]:
    """Bytes at a linear address through `cpu`'s page tables; None if a page is absent."""
    out = bytearray()
    while length > 0:
        mapped = translate(machine, linear, cpu)
        if mapped is None:
            return None
        chunk = min(length, 0x1000 - (linear & 0xFFF))
        out += read_physical(machine, mapped[0], chunk)
        linear += chunk
        length -= chunk
    return bytes(out)


def flag_text(flags: int) -> str:
    """`P W U A D G` style flags of a page-table entry."""
    names = ((PRESENT, "P"), (WRITABLE, "W"), (USER, "U"), (ACCESSED, "A"), (DIRTY, "D"), (GLOBAL, "G"))
    return " ".join(name if flags & bit else "-" for bit, name in names)


def page_ranges(machine: Any) -> List[Tuple[int, int, int, int]]:
    """Every mapped linear range as (first, last, physical first, flags), with
    neighbouring pages merged when they map contiguously with the same flags
    (Bochs's `info tab`)."""
    cpu = machine.cpu
    if not cpu.cr[0] & CR0_PG:
        return []
    pages: List[Tuple[int, int, int, int]] = []      # (linear, size, physical, flags)
    if cpu.cr[4] & CR4_PAE:
        for top in range(4):
            pdpte = _u64(machine, (cpu.cr[3] & 0xFFFFFFE0) + top * 8)
            if not pdpte & PRESENT:
                continue
            for middle in range(512):
                pde = _u64(machine, (pdpte & 0xFFFFFF000) + middle * 8)
                base = (top << 30) | (middle << 21)
                if not pde & PRESENT:
                    continue
                if pde & LARGE:
                    pages.append((base, 0x200000, pde & 0xFFFE00000, pde & 0x1FF))
                    continue
                table = read_physical(machine, pde & 0xFFFFFF000, 4096)
                for low, pte in enumerate(struct.unpack("<512Q", table)):
                    if pte & PRESENT:
                        pages.append((base | (low << 12), 0x1000, pte & 0xFFFFFF000,
                                      (pte & 0x1FF & ~6) | (pde & pte & 6)))
    else:
        directory = struct.unpack("<1024I", read_physical(machine, cpu.cr[3] & 0xFFFFF000, 4096))
        for high, pde in enumerate(directory):
            if not pde & PRESENT:
                continue
            if pde & LARGE and cpu.cr[4] & CR4_PSE:
                pages.append((high << 22, 0x400000, pde & 0xFFC00000, pde & 0x1FF))
                continue
            table = struct.unpack("<1024I", read_physical(machine, pde & 0xFFFFF000, 4096))
            for low, pte in enumerate(table):
                if pte & PRESENT:
                    pages.append(((high << 22) | (low << 12), 0x1000, pte & 0xFFFFF000,
                                  (pte & 0x1FF & ~6) | (pde & pte & 6)))
    ranges: List[Tuple[int, int, int, int]] = []
    significant = PRESENT | WRITABLE | USER | GLOBAL
    for linear, size, physical, flags in pages:
        if ranges:
            first, last, phys_first, last_flags = ranges[-1]
            if (last + 1 == linear and phys_first + (linear - first) == physical
                    and last_flags & significant == flags & significant):
                ranges[-1] = (first, linear + size - 1, phys_first, last_flags)
                continue
        ranges.append((linear, linear + size - 1, physical, flags))
    return ranges


def page_walk(machine: Any, linear: int) -> List[str]:
    """The walk for one address, entry by entry (the monitor's `page`)."""
    cpu = machine.cpu
    linear &= 0xFFFFFFFF
    if not cpu.cr[0] & CR0_PG:
        return [f"paging is off: linear {linear:#010x} = physical {linear & machine.bus.a20_mask:#010x}"]
    lines = [f"linear {linear:#010x}, CR3 {cpu.cr[3]:#010x}"]
    if cpu.cr[4] & CR4_PAE:
        size, frame = 8, 0xFFFFFF000
        levels = [("PDPTE", (cpu.cr[3] & 0xFFFFFFE0) + ((linear >> 30) << 3), False),
                  ("PDE", ((linear >> 21) & 0x1FF) << 3, True), ("PTE", ((linear >> 12) & 0x1FF) << 3, False)]
    else:
        size, frame = 4, 0xFFFFF000
        levels = [("PDE", (cpu.cr[3] & 0xFFFFF000) + ((linear >> 22) << 2), bool(cpu.cr[4] & CR4_PSE)),
                  ("PTE", ((linear >> 12) & 0x3FF) << 2, False)]
    entry = None
    for name, offset, may_be_large in levels:
        address = offset if entry is None else (entry & frame) + offset
        entry = _u64(machine, address) if size == 8 else _u32(machine, address)
        large = may_be_large and entry & LARGE and entry & PRESENT
        lines.append(f"  {name} at {address:#010x} = {entry:#0{size * 2 + 2}x}  {flag_text(entry)}"
                     + ("  (large page)" if large else ""))
        if not entry & PRESENT:
            lines.append("  not present: an access faults (#PF)")
            return lines
        if large:
            break
    mapped = translate(machine, linear)
    assert mapped is not None
    lines.append(f"  physical {mapped[0]:#010x}  {flag_text(mapped[1])}")
    return lines


# ---------------------------------------------------------------------- descriptors
def decode_descriptor(low: int, high: int) -> Dict[str, Any]:
    """One 8-byte descriptor as a dict: kind, base, limit, dpl, present, and for
    gates the target selector:offset."""
    access = (high >> 8) & 0xFF
    kind = access & 0x1F
    entry: Dict[str, Any] = {"present": bool(access & 0x80), "dpl": (access >> 5) & 3}
    if not kind & 0x10 and (kind & 0xF) in GATES:
        entry["type"] = SYSTEM_TYPES[kind & 0xF]
        entry["selector"] = (low >> 16) & 0xFFFF
        entry["offset"] = (low & 0xFFFF) | ((high & 0xFFFF0000) if kind & 0x8 else 0)
        if kind & 0xF == 0x4 or kind & 0xF == 0xC:
            entry["params"] = high & 0x1F
        return entry
    base = ((low >> 16) & 0xFFFF) | ((high & 0xFF) << 16) | (high & 0xFF000000)
    limit = (low & 0xFFFF) | (high & 0xF0000)
    if high & 0x800000:
        limit = (limit << 12) | 0xFFF
    entry.update(base=base, limit=limit)
    if kind & 0x10:
        code = bool(kind & 0x8)
        bits = "32-bit" if high & 0x400000 else "16-bit"
        if code:
            entry["type"] = f"code {bits}, " + ("conforming, " if kind & 4 else "") + \
                ("execute/read" if kind & 2 else "execute-only")
        else:
            entry["type"] = f"data {bits}, " + ("expand-down, " if kind & 4 else "") + \
                ("read/write" if kind & 2 else "read-only")
        if kind & 1:
            entry["type"] += ", accessed"
    else:
        entry["type"] = SYSTEM_TYPES.get(kind & 0xF, f"reserved system type {kind & 0xF:#x}")
    return entry


def describe_entry(entry: Dict[str, Any]) -> str:
    text = entry["type"]
    if "selector" in entry:
        text += f" -> {entry['selector']:04x}:{entry['offset']:08x}"
        if "params" in entry:
            text += f" ({entry['params']} params)"
    else:
        text += f", base {entry['base']:#010x}, limit {entry['limit']:#010x}"
    text += f", DPL {entry['dpl']}" + ("" if entry["present"] else ", not present")
    return text


def descriptor_table(machine: Any, base: int, limit: int, linear: bool = True) -> List[Tuple[int, Optional[Dict[str, Any]]]]:
    """(index, decoded entry or None for a null/unreadable one) for each 8-byte slot."""
    entries = []
    for index in range((limit + 1) // 8):
        raw = read_linear(machine, base + index * 8, 8) if linear else read_physical(machine, base + index * 8, 8)
        if raw is None:
            entries.append((index, None))
            continue
        low, high = struct.unpack("<II", raw)
        entries.append((index, decode_descriptor(low, high) if low or high else None))
    return entries


def table_lines(machine: Any, which: str) -> List[str]:
    """`info gdt` / `info idt` / `info ldt` as text lines."""
    cpu = machine.cpu
    if which == "idt" and not cpu.cr[0] & CR0_PE:
        lines = [f"IDTR base {cpu.idtr_base:#010x} limit {cpu.idtr_limit:#06x} (real-mode IVT)"]
        for vector in range(min(256, (cpu.idtr_limit + 1) // 4)):
            raw = read_physical(machine, cpu.idtr_base + vector * 4, 4)
            offset, segment = struct.unpack("<HH", raw)
            lines.append(f"  {vector:02x}: {segment:04x}:{offset:04x}")
        return lines
    base, limit = {"gdt": (cpu.gdtr_base, cpu.gdtr_limit), "idt": (cpu.idtr_base, cpu.idtr_limit),
                   "ldt": (cpu.ldtr_base, cpu.ldtr_limit)}[which]
    title = {"gdt": "GDTR", "idt": "IDTR", "ldt": f"LDTR {cpu.ldtr:#06x}"}[which]
    lines = [f"{title} base {base:#010x} limit {limit:#06x}"]
    for index, entry in descriptor_table(machine, base, limit):
        if entry is not None:
            label = f"{index:02x}" if which == "idt" else f"{index * 8 | (4 if which == 'ldt' else 0):04x}"
            lines.append(f"  {label}: {describe_entry(entry)}")
    return lines


TSS32_FIELDS = (("link", 0, 2), ("esp0", 4, 4), ("ss0", 8, 2), ("esp1", 12, 4), ("ss1", 16, 2),
                ("esp2", 20, 4), ("ss2", 24, 2), ("cr3", 28, 4), ("eip", 32, 4), ("eflags", 36, 4),
                ("eax", 40, 4), ("ecx", 44, 4), ("edx", 48, 4), ("ebx", 52, 4), ("esp", 56, 4),
                ("ebp", 60, 4), ("esi", 64, 4), ("edi", 68, 4), ("es", 72, 2), ("cs", 76, 2),
                ("ss", 80, 2), ("ds", 84, 2), ("fs", 88, 2), ("gs", 92, 2), ("ldt", 96, 2),
                ("iomap", 102, 2))


def tss_lines(machine: Any) -> List[str]:
    """`info tss`: the task register and the 32-bit TSS fields."""
    cpu = machine.cpu
    lines = [f"TR {cpu.tr:#06x} base {cpu.tr_base:#010x} limit {cpu.tr_limit:#06x} "
             f"type {SYSTEM_TYPES.get(cpu.tr_flags & 0xF, hex(cpu.tr_flags & 0xF))}"]
    raw = read_linear(machine, cpu.tr_base, 104)
    if raw is None or not cpu.cr[0] & CR0_PE:
        return lines + ["  (no TSS readable)"]
    for name, offset, size in TSS32_FIELDS:
        value = int.from_bytes(raw[offset:offset + size], "little")
        lines.append(f"  {name:7} {value:#0{size * 2 + 2}x}")
    return lines
