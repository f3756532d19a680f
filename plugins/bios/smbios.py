"""The SMBIOS tables (DMTF SMBIOS Reference Specification, version 2.4 structures),
built from the machine's components so that they always describe it.

What an OS reads as "DMI": Linux prints `DMI: <manufacturer> <product>, BIOS
<version> <date>` at boot and keys quirks on it, `dmidecode` and memtest86+ show
it.  QEMU (SeaBIOS) and Bochs (rombios32) provide the same set; the strings are the
`bios` component's `smbios_manufacturer` and `smbios_product` options (QEMU's
`-smbios type=1,manufacturer=...,product=...`).

In the BIOS ROM's table area (the 2.1 entry point must be on a 16-byte boundary in
F0000-FFFFF, 5.2.1), the 31-byte entry point `_SM_` with its `_DMI_` part, then the
structure table:

* type 0, BIOS: vendor, version, release date, ROM segment F000h and size, the
  services this BIOS has (ISA, PCI when the board has a host bridge, boot from CD
  and selectable boot, EDD, int 9h/10h/14h/17h), ACPI when there are ACPI tables;
* type 1, system: manufacturer, product, version, UUID all zero ("not present but
  settable": there is no -uuid), woken by the power switch;
* type 2, baseboard, and type 3, chassis (type "other", all states safe);
* type 4, one processor per CPU: family from the CPU model (Intel386, Intel486,
  Pentium, Pentium Pro, Pentium II), CPUID leaf 1's EAX and EDX as processor ID,
  speed from the virtual clock (`machine.ips` instructions per second counted as
  that many hertz, as the TSC counts them), socket populated and enabled;
* type 16, 17 and 19: one memory array holding one device of the RAM's size,
  mapped from address 0;
* type 32, boot information: no errors; type 127, end of table.

Handles follow QEMU's numbering (type << 8, plus the CPU index for type 4).
"""

import struct
from typing import Any, List, Sequence

from pcmachine import __version__
from pcmachine.plugins.chipset.acpipm import ACPIPowerManagement
from pcmachine.plugins.cpu.ops_0f import cpuid_features, cpuid_leaf1_edx, cpuid_signature
from pcmachine.plugins.pci import PCIHost

from .mptable import checksum_byte
from .rom import BIOS_DATE

VERSION = (2, 4)
ENTRY_POINT_SIZE = 0x1F
#: the ROM's date at F000:FFF5 with a four-digit year (SMBIOS 2.3 on: mm/dd/yyyy)
BIOS_RELEASE_DATE = BIOS_DATE[:6].decode() + "20" + BIOS_DATE[6:].decode()
#: SMBIOS processor family by CPU generation (3.3.5.2: 05h Intel386, 06h Intel486,
#: 0Bh Pentium, 0Ch Pentium Pro), and for the models named apart (0Dh Pentium II,
#: B2h Pentium 4)
PROCESSOR_FAMILY = {3: 0x05, 4: 0x06, 5: 0x0B, 6: 0x0C}
MODEL_FAMILY = {"pentium2": 0x0D, "pentium4": 0xB2}
#: BIOS characteristics (3.3.1.1) of every PC this BIOS runs: ISA, boot from CD,
#: selectable boot, EDD, int 9h keyboard, int 14h serial, int 17h printer, int 10h video
CHARACTERISTICS = (1 << 4) | (1 << 15) | (1 << 16) | (1 << 19) | (1 << 27) | (1 << 28) \
    | (1 << 29) | (1 << 30)
CHARACTERISTIC_PCI = 1 << 7
EXTENSION_ACPI = 0x01                 # extension byte 1, bit 0
EXTENSION_BBS = 0x01                  # extension byte 2, bit 0: BIOS Boot Specification
END_OF_TABLE = 127


def structure(kind: int, handle: int, formatted: bytes, strings: Sequence[str] = ()) -> bytes:
    """One structure: header, formatted area, the string set (each string
    NUL-terminated, the set ended by one more NUL; two NULs with no strings)."""
    header = struct.pack("<BBH", kind, 4 + len(formatted), handle)
    text = b"".join(s.encode("ascii", "replace") + b"\0" for s in strings)
    return header + formatted + (text + b"\0" if text else b"\0\0")


def build_entry_point(table_address: int, table_length: int, count: int, largest: int) -> bytes:
    """The 2.1 32-bit entry point (5.2.1) with both checksums."""
    intermediate = bytearray(b"_DMI_" + struct.pack("<BHIHB", 0, table_length, table_address, count,
                                                    VERSION[0] << 4 | VERSION[1]))
    intermediate[5] = checksum_byte(bytes(intermediate))
    data = bytearray(b"_SM_" + struct.pack("<BBBBHB5s", 0, ENTRY_POINT_SIZE, VERSION[0], VERSION[1],
                                            largest, 0, bytes(5)) + intermediate)
    data[4] = checksum_byte(bytes(data))
    return bytes(data)


def bios_information(machine: Any, version: str) -> bytes:
    characteristics = CHARACTERISTICS | (CHARACTERISTIC_PCI if machine.find(PCIHost) else 0)
    acpi = EXTENSION_ACPI if machine.find(ACPIPowerManagement) is not None else 0    # as acpitables.build
    major, minor = (int(part) for part in (version.split(".") + ["0"])[:2])
    formatted = struct.pack("<BBHBBQBBBBBB", 1, 2, 0xF000, 3, 0, characteristics, acpi, EXTENSION_BBS,
                            major & 0xFF, minor & 0xFF, 0xFF, 0xFF)
    return structure(0, 0x0000, formatted, ("pcmachine", version, BIOS_RELEASE_DATE))


def system_information(manufacturer: str, product: str, version: str) -> bytes:
    wake_power_switch = 0x06
    formatted = struct.pack("<BBBB16sBBB", 1, 2, 3, 0, bytes(16), wake_power_switch, 0, 0)
    return structure(1, 0x0100, formatted, (manufacturer, product, version))


def baseboard_information(manufacturer: str, product: str, version: str) -> bytes:
    hosting_board, motherboard = 0x01, 0x0A
    formatted = struct.pack("<BBBBBBBHBB", 1, 2, 3, 0, 0, hosting_board, 0, 0x0300, motherboard, 0)
    return structure(2, 0x0200, formatted, (manufacturer, product, version))


def chassis_information(manufacturer: str, version: str) -> bytes:
    other, safe, unknown = 0x01, 0x03, 0x02
    formatted = struct.pack("<BBBBBBBBBIBBBB", 1, other, 2, 0, 0, safe, safe, safe, unknown, 0, 0, 0, 0, 3)
    return structure(3, 0x0300, formatted, (manufacturer, version))


def processor_information(index: int, cpu: Any, mhz: int) -> bytes:
    model = getattr(cpu, "model", None)
    generation = model.generation if model is not None else 6
    family = MODEL_FAMILY.get(model.name, 0) if model is not None else 0
    family = family or PROCESSOR_FAMILY.get(generation, 0x02)          # 02h: unknown
    signature = features = 0
    if model is not None and model.cpuid:           # what CPUID leaf 1 reports
        signature = cpuid_signature(cpu)
        features = cpuid_leaf1_edx(cpu, cpuid_features(cpu))
    central, populated_enabled, upgrade_other, no_cache = 0x03, 0x41, 0x01, 0xFFFF
    formatted = struct.pack("<BBBBIIBBHHHBBHHHBBB", 1, central, family, 2, signature, features, 3, 0,
                            0, mhz, mhz, populated_enabled, upgrade_other, no_cache, no_cache, no_cache,
                            0, 0, 0)
    name = model.name if model is not None else "unknown"
    return structure(4, 0x0400 + index, formatted, (f"CPU {index}", "GenuineIntel", name))


def memory_structures(ram_size: int) -> List[bytes]:
    """Types 16, 17 and 19: one array, one device, one mapped range from 0."""
    kib = max(ram_size // 1024, 1)
    system_board, system_memory, no_ecc, no_error = 0x03, 0x03, 0x03, 0xFFFE
    array = structure(16, 0x1000, struct.pack("<BBBIHH", system_board, system_memory, no_ecc, kib,
                                              no_error, 1))
    size = kib // 1024 if kib >= 1024 else kib | 0x8000          # MiB, or KiB with bit 15
    dimm, ram, other_detail = 0x09, 0x07, 0x0002
    device = structure(17, 0x1100, struct.pack("<HHHHHBBBBBHHBBBB", 0x1000, no_error, 64, 64, size & 0xFFFF,
                                               dimm, 0, 1, 0, ram, other_detail, 0, 0, 0, 0, 0),
                       ("DIMM 0",))
    mapped = structure(19, 0x1300, struct.pack("<IIHB", 0, kib - 1, 0x1000, 1))
    return [array, device, mapped]


def build(machine: Any, address: int, manufacturer: str, product: str) -> bytes:
    """The entry point at `address` (16-byte aligned) followed by the structures."""
    version = __version__
    cpus = machine.processors.cpus or [machine.cpu]
    mhz = max(machine.clock.ips // 1_000_000, 1)
    structures = [bios_information(machine, version),
                  system_information(manufacturer, product, version),
                  baseboard_information(manufacturer, product, version),
                  chassis_information(manufacturer, version)]
    structures += [processor_information(index, cpu, mhz) for index, cpu in enumerate(cpus) if cpu is not None]
    structures += memory_structures(machine.bus.ram_size)
    structures.append(structure(32, 0x2000, bytes(7)))       # 6 reserved bytes, status 0: no errors
    structures.append(structure(END_OF_TABLE, 0x7F00, b""))
    table = b"".join(structures)
    largest = max(len(s) for s in structures)
    return build_entry_point(address + 0x20, len(table), len(structures), largest) + bytes(1) + table
