"""Finding component classes and managing the pluggy plugin manager.

A plugin reference in a profile or on the command line is one of:

* an entry-point name in the group `pcmachine.plugins` (built-ins and installed
  third-party packages): ``cpu``, ``i8259``;
* a dotted path ``package.module:Class``;
* a file path ``./myplugin.py:Class`` (or ``/abs/path/file.py:Class``).
"""

import functools
import importlib
import importlib.util
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import pluggy

from . import hookspecs
from .errors import UserError
from .hookflags import HookFlags

ENTRY_POINT_GROUP = "pcmachine.plugins"


class PluginNotFound(UserError):
    """A plugin reference that names nothing we can load."""


@functools.lru_cache(maxsize=None)
def _entry_points() -> Dict[str, Tuple[Any, Any]]:
    """name -> (entry point, its distribution) for the plugin group.  Walks the
    distributions, because Python 3.9's entry points do not know their package."""
    from importlib import metadata
    found: Dict[str, Tuple[Any, Any]] = {}
    for dist in metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP:
                found.setdefault(ep.name, (ep, dist))
    return found


def available_plugins() -> List[Tuple[str, str]]:
    """(name, source) for every installed plugin entry point, sorted by name.  The
    distributions' names and versions are read here only: parsing their METADATA
    cost PyPy 0.15 s of every machine's start-up."""
    packages: Dict[int, str] = {}
    for _, dist in _entry_points().values():
        if id(dist) not in packages:
            about = dist.metadata     # parses METADATA again at every access
            packages[id(dist)] = f"{about['Name']} {about['Version']}"
    return [(name, f"{ep.value} ({packages[id(dist)]})")
            for name, (ep, dist) in sorted(_entry_points().items())]


def _load_file(path: str, class_name: str) -> Any:
    if not os.path.isfile(path):
        raise PluginNotFound(f"plugin file not found: {path}")
    module_name = "pcmachine_user_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's file is broken: say so in one line
        raise PluginNotFound(f"plugin file {path} failed to load: {type(error).__name__}: {error}") from None
    try:
        return getattr(module, class_name)
    except AttributeError:
        raise PluginNotFound(f"plugin file {path} has no class {class_name}") from None


def resolve_plugin(reference: str) -> Any:
    """Return the class (or object) a plugin reference names; raise PluginNotFound."""
    reference = str(reference).strip()
    if ":" in reference:
        target, attr = reference.rsplit(":", 1)
        if target.endswith(".py") or os.sep in target or target.startswith("."):
            return _load_file(target, attr)
        try:
            module = importlib.import_module(target)
        except ImportError as error:
            raise PluginNotFound(f"unknown plugin {reference!r}: cannot import {target} ({error})") from None
        try:
            return getattr(module, attr)
        except AttributeError:
            raise PluginNotFound(f"unknown plugin {reference!r}: {target} has no {attr}") from None
    found = _entry_points().get(reference)
    if found is None:
        raise PluginNotFound(f"unknown plugin {reference!r} (see `machine plugins`)")
    try:
        return found[0].load()
    except Exception as error:
        raise PluginNotFound(f"plugin {reference!r} failed to load: {type(error).__name__}: {error}") from None


class PluginManager:
    """pluggy's manager with our hookspecs, plus the hook flags the hot paths read."""

    def __init__(self, flags: Optional[HookFlags] = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.flags = flags if flags is not None else HookFlags()
        self.hook_names = [name for name in dir(hookspecs)
                           if getattr(getattr(hookspecs, name), "pcmachine_spec", None) is not None]
        self.flags.refresh(self.pm.hook, self.hook_names)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def register(self, plugin: Any, name: Optional[str] = None) -> None:
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as error:
            self.pm.unregister(plugin)
            raise UserError(f"plugin {name or plugin!r}: {error}") from None
        self.flags.refresh(self.pm.hook, self.hook_names)

    def unregister(self, plugin: Any) -> None:
        self.pm.unregister(plugin)
        self.flags.refresh(self.pm.hook, self.hook_names)

    def plugins(self) -> List[Any]:
        return list(self.pm.get_plugins())
