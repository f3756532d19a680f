"""System RAM: one contiguous block at physical address 0.

The memory itself lives in the bus (`bus.memory`) so the CPU reaches it without a
call; this component sizes it and saves/restores it with the machine snapshot.
"""

from typing import Any, Dict

from pcmachine.component import Component, Option
from pcmachine.errors import ProfileError

MIN_RAM = 1 << 20
MAX_RAM = 3584 << 20


class RAM(Component):
    """Conventional plus extended memory, sized by the profile (`size: 16M`)."""

    OPTIONS = {"size": Option("size", 16 << 20, "installed memory, e.g. 16M (1M to 3584M: the top "
                              "of the 4 GiB space holds the ROMs)", minimum=MIN_RAM, maximum=MAX_RAM)}

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        size = options["size"]
        if size % 4096:
            raise ProfileError("profile", f"{name}.size", "expected a multiple of 4K")
        self.size = size
        self.bus.attach_ram(size)

    def reset(self) -> None:
        """Power-on RAM is zero in an emulator (real RAM holds garbage; zero is
        reproducible).  A warm reset keeps memory, as on real hardware."""
