"""pcmachine: a PC emulator framework assembled from pluggy plugins.

Users write `from pcmachine import Machine, Component, Option, hookimpl`.  The names
are imported when first used, so that the `machine` command starts without
loading the emulator (it may restart itself first: cli.py).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .component import Component, Option
    from .errors import GuestError, MediaError, ProfileError, UserError
    from .hookspecs import hookimpl
    from .machine import Machine

#: public name -> the module that defines it
_HOMES = {"Machine": ".machine", "Component": ".component", "Option": ".component",
          "hookimpl": ".hookspecs", "UserError": ".errors", "ProfileError": ".errors",
          "MediaError": ".errors", "GuestError": ".errors"}

__all__ = list(_HOMES)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pcmachine' has no attribute {name!r}")
    value = getattr(import_module(home, __name__), name)
    globals()[name] = value
    return value
