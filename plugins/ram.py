"""System RAM: one contiguous block at physical address 0.

The memory itself lives in the bus (`bus.memory`) so the CPU reaches it without a
call; this component sizes it and saves/restores it with the machine snapshot.
"""

from typing import Any, Dict

from pcmachine.component import Component, Option

MIN_RAM = 1 << 20


class RAM(Component):
    """Conventional plus extended memory, sized by the profile (`size: 16M`)."""

    OPTIONS = {"size": Option("size", 16 << 20, "installed memory (at least 1M), e.g. 16M")}

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        size = options["size"]
        if size < MIN_RAM or size % 4096:
            from pcmachine.errors import ProfileError
            raise ProfileError("profile", f"{name}.size", "expected at least 1M, a multiple of 4K")
        self.size = size
        self.bus.attach_ram(size)

    def reset(self) -> None:
        """Power-on RAM is zero in an emulator (real RAM holds garbage; zero is
        reproducible).  A warm reset keeps memory, as on real hardware."""
