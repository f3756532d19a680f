"""One boolean per hook: does any plugin implement it?

The hot paths (bus, CPU) test `flags.<hook>` before calling pluggy, so a hook no
plugin implements costs one attribute read.  The plugin manager refreshes the flags
whenever a plugin is registered or unregistered and notifies listeners (the CPU
switches between its fast loop and its traced step loop on `instruction`).
"""

from typing import Any, Callable, List


class HookFlags:
    """`flags.io_write` is True when some plugin implements `io_write`;
    `flags.call` is the pluggy hook relay (`pm.hook`)."""

    def __init__(self) -> None:
        self.call: Any = None
        self.listeners: List[Callable[["HookFlags"], None]] = []

    def __getattr__(self, name: str) -> bool:
        # A hook nobody has asked about yet is a hook nobody implements.
        if name.startswith("_"):
            raise AttributeError(name)
        return False

    def refresh(self, hook_relay: Any, names: List[str]) -> None:
        self.call = hook_relay
        for name in names:
            caller = getattr(hook_relay, name)
            setattr(self, name, bool(caller.get_hookimpls()))
        for listener in list(self.listeners):
            listener(self)
