"""pcmachine: a PC emulator framework assembled from pluggy plugins.

Users write `from pcmachine import Machine, Component, Option, hookimpl`.
"""

from .component import Component, Option
from .errors import GuestError, MediaError, ProfileError, UserError
from .hookspecs import hookimpl
from .machine import Machine

__all__ = ["Machine", "Component", "Option", "hookimpl", "UserError", "ProfileError",
           "MediaError", "GuestError"]
__version__ = "0.1.0"
