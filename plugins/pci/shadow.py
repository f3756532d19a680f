"""Shadow RAM: the i440FX PAM registers (82441FX PMC datasheet, PAM0-PAM6 at
configuration offsets 59h-5Fh) route reads and writes of C0000-FFFFF either to
the ROMs there or to the DRAM behind them: per segment (F0000-FFFFF in PAM0
bits 5:4, then 16 KiB segments from C0000 in the low and high nibbles of PAM1-6)
a read-enable and a write-enable bit.  Firmware copies itself to DRAM and runs
from it: SeaBIOS keeps its variables there, and the Bochs BIOS writes its ACPI,
MP and SMBIOS tables into the F segment.

Only pages that hold a ROM (the `rom` plugin's image and option ROMs) follow the
PAM; the rest of C0000-FFFFF stays RAM, as without this chipset model.  The
memory array shows what reads see: the ROM's bytes while reads go to the ROM,
the DRAM's while they go to DRAM; the DRAM's bytes hidden behind a ROM are kept
here (zeros at power-on) and saved in snapshots.
"""

from typing import Any, Dict, Optional

from pcmachine.bus import PAGE_SHIFT, PAGE_SIZE, ROMRegion, ShadowRegion

PAM_FIRST, PAM_LAST = 0x59, 0x5F
#: the bits of PAM0-PAM6 that exist (PAM0 has only the F segment's pair)
PAM_WRITE_MASKS = {PAM_FIRST: 0x30, **{offset: 0x33 for offset in range(PAM_FIRST + 1, PAM_LAST + 1)}}
READ_ENABLE, WRITE_ENABLE = 1, 2


def segment_modes(config: bytearray) -> Dict[int, int]:
    """{page: mode bits (READ_ENABLE | WRITE_ENABLE)} for every page of C0000-FFFFF."""
    modes = {}
    f_mode = (config[PAM_FIRST] >> 4) & 3
    for page in range(0xF0, 0x100):
        modes[page] = f_mode
    for index in range(12):                           # C0000, C4000, ... EC000
        register = PAM_FIRST + 1 + index // 2
        mode = (config[register] >> (4 * (index & 1))) & 3
        first = 0xC0 + 4 * index
        for page in range(first, first + 4):
            modes[page] = mode
    return modes


class ShadowRAM:
    """The PAM routing of one host bridge over the bus's ROM pages."""

    def __init__(self, bus: Any, name: str) -> None:
        self.bus = bus
        self.name = name
        #: the ROM region of each page it covers (found at the first PAM write)
        self.roms: Dict[int, ROMRegion] = {}
        #: the DRAM behind each page whose reads go to the ROM
        self.hidden: Dict[int, bytearray] = {}
        self.modes: Dict[int, int] = {}

    def _rom_pages(self) -> Dict[int, ROMRegion]:
        if not self.roms:
            for page in range(0xC0, 0x100):
                region = self.bus.page_region.get(page)
                if isinstance(region, ROMRegion) and (page + 1) << PAGE_SHIFT <= len(self.bus.memory):
                    self.roms[page] = region
        return self.roms

    def apply(self, config: bytearray) -> None:
        """Route every ROM page as the PAM registers now say."""
        memory = self.bus.memory
        for page, mode in segment_modes(config).items():
            rom = self._rom_pages().get(page)
            old = self.modes.get(page, 0)
            if rom is None or (mode == old and page in self.modes):
                continue
            start = page << PAGE_SHIFT
            if old & READ_ENABLE and not mode & READ_ENABLE:      # DRAM hides behind the ROM again
                self.hidden[page] = bytearray(memory[start:start + PAGE_SIZE])
                offset = start - rom.base
                memory[start:start + PAGE_SIZE] = rom.data[offset:offset + PAGE_SIZE]
            elif mode & READ_ENABLE and not old & READ_ENABLE:    # the DRAM shows
                memory[start:start + PAGE_SIZE] = self.hidden.pop(page, bytes(PAGE_SIZE))
            self.modes[page] = mode
            self.bus.remap_page(page, self._region(page, rom, mode))

    def _region(self, page: int, rom: ROMRegion, mode: int) -> Optional[Any]:
        if mode == READ_ENABLE | WRITE_ENABLE:
            return None                                       # plain RAM
        if mode == 0:
            return rom
        store = None
        if mode == WRITE_ENABLE:                              # reads the ROM, writes the DRAM
            store = self.hidden.setdefault(page, bytearray(PAGE_SIZE))
        return ShadowRegion(page << PAGE_SHIFT, PAGE_SIZE, f"{self.name} shadow",
                            self.bus.memory, store)

    def snapshot(self) -> Dict[str, Any]:
        return {"modes": dict(self.modes), "hidden": {page: bytes(data) for page, data in self.hidden.items()}}

    def restore(self, state: Optional[Dict[str, Any]]) -> None:
        """The memory array comes back with the RAM; only the routing and the
        hidden DRAM are set here."""
        state = state or {"modes": {}, "hidden": {}}
        self.hidden = {int(page): bytearray(data) for page, data in state["hidden"].items()}
        self.modes = {}
        modes = {int(page): mode for page, mode in state["modes"].items()}
        for page, rom in self._rom_pages().items():
            mode = modes.get(page, 0)
            self.modes[page] = mode
            self.bus.remap_page(page, self._region(page, rom, mode))
