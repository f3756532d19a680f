"""Machine profiles: YAML files that name the components and their options.

A profile is a mapping.  Reserved top-level keys:

* `description`: one line shown by `machine profiles`;
* `extends`: another profile (path relative to this file, or a bundled name) that this
  one overrides key by key (mappings merge, everything else replaces);
* `machine`: machine-wide settings (`ips`, `on_triple_fault`);
* `media`: disk images by drive name (`fda`, `fdb`, `hda`..`hdd`, `cdrom`), each a path
  or a mapping `{image, readonly, overlay}`; `empty` (or `{empty: true}`) for a floppy
  drive with no disk in it;
* `plugins`: extra plugins with no options (entry-point names or `module:Class`).

Every other key is a component: `name: {plugin: REF, option: value, ...}` (`plugin`
defaults to the name); `name: null` removes a component inherited through `extends`.
Command-line `--set a.b=c` overrides any key (the value is parsed as YAML).

Errors name the file (or `--set`), the key and what was expected, in one line.
"""

import copy
import os
from typing import Any, Dict, List, Optional

import yaml

from .component import Option
from .errors import ProfileError
from .pluginmanager import PluginNotFound, resolve_plugin

RESERVED = ("description", "extends", "machine", "media", "plugins")
MACHINE_OPTIONS = {
    "ips": Option("int", 20_000_000, "virtual instructions per second (icount clock)",
                  minimum=1000, maximum=10**12),
    "on_triple_fault": Option("str", "reset", "what a triple fault does", choices=("reset", "stop")),
}
MEDIA_NAMES = {"fda": "floppy", "fdb": "floppy", "hda": "hdd", "hdb": "hdd",
               "hdc": "hdd", "hdd": "hdd", "cdrom": "cdrom"}
MEDIA_OPTIONS = {
    "image": Option("path", None, "path of the raw image file"),
    "readonly": Option("bool", False, "refuse guest writes"),
    "overlay": Option("bool", False, "keep guest writes in memory; the image is never modified"),
    "empty": Option("bool", False, "fda/fdb only: a 1.44 MB drive with no disk in it, as QEMU's pc "
                    "has (`fda: empty`, `--fda empty`); a disk goes in with --change-floppy"),
}
#: the word that stands for an empty floppy drive where a path is expected
EMPTY = "empty"


def bundled_profiles_dir() -> str:
    import pcmachine.machines as machines
    return os.path.dirname(machines.__file__)


def bundled_profiles() -> List[str]:
    folder = bundled_profiles_dir()
    return sorted(name for name in os.listdir(folder) if name.endswith(".yaml"))


def find_profile(reference: str, relative_to: Optional[str] = None) -> str:
    """A profile path: the file itself if it exists (relative to `relative_to` for
    `extends:`), else the bundled profile of that name (with or without `.yaml`)."""
    candidates = []
    if relative_to is not None and not os.path.isabs(reference):
        candidates.append(os.path.join(relative_to, reference))
    candidates.append(reference)
    base = os.path.basename(reference)
    if not base.endswith(".yaml"):
        base += ".yaml"
    candidates.append(os.path.join(bundled_profiles_dir(), base))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    raise ProfileError(reference, "", "profile not found (give a path or one of: "
                       + ", ".join(bundled_profiles()) + ")")


def _read_yaml(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = _load_yaml(handle)
    except (yaml.YAMLError, ValueError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ProfileError(path, where, f"invalid YAML: {problem}") from None
    except OSError as error:
        raise ProfileError(path, "", f"cannot read: {error.strerror}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProfileError(path, "", "expected a mapping at the top level")
    return data


class _ProfileLoader(yaml.SafeLoader):
    """YAML as profiles use it: a date or time such as 2026-01-01T00:00:00 stays the
    string it was written as (it is an option value, and profiles are stored in
    recordings as plain data)."""


_ProfileLoader.yaml_implicit_resolvers = {
    first: [resolver for resolver in resolvers if resolver[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _load_yaml(text: Any) -> Any:
    return yaml.load(text, Loader=_ProfileLoader)


def _merge(base: Dict[str, Any], override: Dict[str, Any], origins: Dict[str, str],
           source: str, prefix: str = "") -> Dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        path = f"{prefix}{key}"
        if not prefix and _replaces_component(key, result.get(key), value):
            # another plugin for this component: its options start afresh
            for stale in [origin for origin in origins if origin.startswith(path + ".")]:
                del origins[stale]
            result[key] = {}
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value, origins, source, path + ".")
        else:
            result[key] = copy.deepcopy(value)
            origins[path] = source
            _mark_origins(value, origins, source, path)
    return result


def _replaces_component(name: str, base: Any, override: Any) -> bool:
    """True when an override names a different plugin for a component entry."""
    if name in RESERVED or not isinstance(base, dict) or not isinstance(override, dict):
        return False
    return "plugin" in override and override["plugin"] != base.get("plugin", name)


def _mark_origins(value: Any, origins: Dict[str, str], source: str, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            origins[f"{path}.{key}"] = source
            _mark_origins(item, origins, source, f"{path}.{key}")


class Profile:
    """A loaded, merged and validated profile."""

    def __init__(self, path: str, data: Dict[str, Any], origins: Dict[str, str]) -> None:
        self.path = path
        self.data = data
        self.origins = origins
        self._components: Optional[Dict[str, Dict[str, Any]]] = None
        self.validate()

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, reference: str, overrides: Optional[List[str]] = None,
             media: Optional[Dict[str, str]] = None,
             components: Optional[Dict[str, Dict[str, Any]]] = None) -> "Profile":
        """Load a profile, apply `--set` overrides, drive images and extra component
        entries (e.g. the tracer the --trace flags ask for)."""
        path = find_profile(reference)
        origins: Dict[str, str] = {}
        data = cls._load_chain(path, origins, [])
        for name, entry in (components or {}).items():
            data = _merge(data, {name: entry}, origins, f"--{name}")
        for item in overrides or []:
            data = cls._apply_override(data, item, origins)
        for drive, image in (media or {}).items():
            if image is None:
                continue
            entry = data.setdefault("media", {}) or {}
            data["media"] = entry
            current = entry.get(drive)
            if not isinstance(current, dict):
                current = {}
            if image == EMPTY:
                current.pop("image", None)
                current["empty"] = True
                origins[f"media.{drive}.empty"] = f"--{drive}"
            else:
                current["image"] = os.path.abspath(image)
                current.pop("empty", None)
                origins[f"media.{drive}.image"] = f"--{drive}"
            entry[drive] = current
        return cls(path, data, origins)

    @classmethod
    def from_data(cls, data: Dict[str, Any], source: str = "<profile>") -> "Profile":
        origins: Dict[str, str] = {}
        _mark_origins(data, origins, source, "")
        origins = {k.lstrip("."): v for k, v in origins.items()}
        return cls(source, copy.deepcopy(data), origins)

    @classmethod
    def _load_chain(cls, path: str, origins: Dict[str, str], seen: List[str]) -> Dict[str, Any]:
        if path in seen:
            raise ProfileError(path, "extends", "profiles extend each other in a loop")
        data = _read_yaml(path)
        folder = os.path.dirname(path)
        media = data.get("media")
        if isinstance(media, dict):
            for drive, spec in media.items():
                image = spec.get("image") if isinstance(spec, dict) else spec
                if isinstance(image, str) and not os.path.isabs(image) and spec != EMPTY:
                    image = os.path.normpath(os.path.join(folder, image))
                    if isinstance(spec, dict):
                        spec["image"] = image
                    else:
                        media[drive] = image
        base: Dict[str, Any] = {}
        if "extends" in data:
            parent = data.pop("extends")
            if not isinstance(parent, str):
                raise ProfileError(path, "extends", "expected the name or path of a profile")
            try:
                parent_path = find_profile(parent, folder)
            except ProfileError:
                raise ProfileError(path, "extends", f"profile not found: {parent}") from None
            base = cls._load_chain(parent_path, origins, seen + [path])
        return _merge(base, data, origins, path)

    @staticmethod
    def _apply_override(data: Dict[str, Any], item: str, origins: Dict[str, str]) -> Dict[str, Any]:
        if "=" not in item:
            raise ProfileError("--set", item, "expected KEY=VALUE")
        key, text = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ProfileError("--set", key, "expected a dotted key such as cpu.model")
        try:
            value = _load_yaml(text) if text.strip() else ""
        except (yaml.YAMLError, ValueError):
            value = text
        parts = key.split(".")
        if parts[0] == "media" and len(parts) == 3 and parts[2] == "image" and isinstance(value, str):
            value = os.path.abspath(value)
        override: Dict[str, Any] = {}
        cursor = override
        for part in parts[:-1]:
            cursor[part] = {}
            cursor = cursor[part]
        cursor[parts[-1]] = value
        return _merge(data, override, origins, "--set")

    # ------------------------------------------------------------------ validation
    def where(self, key: str) -> str:
        """The file (or --set / --fda) that gave `key`."""
        probe = key
        while probe:
            if probe in self.origins:
                return self.origins[probe]
            probe = probe.rpartition(".")[0]
        return self.path

    def fail(self, key: str, problem: str) -> None:
        raise ProfileError(self.where(key), key, problem)

    def validate(self) -> None:
        self.machine_settings()
        self.media()
        plugins = self.data.get("plugins") or []
        if not isinstance(plugins, list):
            self.fail("plugins", "expected a list of plugin references")
        description = self.data.get("description", "")
        if not isinstance(description, str):
            self.fail("description", "expected a string")
        self.components()
        for index, reference in enumerate(plugins):
            try:
                resolve_plugin(reference)
            except PluginNotFound as error:
                self.fail(f"plugins.{index}", str(error))

    def machine_settings(self) -> Dict[str, Any]:
        settings = self.data.get("machine") or {}
        if not isinstance(settings, dict):
            self.fail("machine", "expected a mapping")
        return self._convert("machine", settings, MACHINE_OPTIONS)

    def _convert(self, prefix: str, given: Dict[str, Any], options: Dict[str, Option]) -> Dict[str, Any]:
        unknown = [key for key in given if key not in options]
        if unknown:
            self.fail(f"{prefix}.{unknown[0]}", "unknown key (expected one of "
                      + ", ".join(options) + ")")
        result = {}
        for key, option in options.items():
            try:
                result[key] = option.convert(given.get(key, option.default))
            except ValueError as error:
                self.fail(f"{prefix}.{key}", str(error))
        return result

    def _path_from(self, key: str, path: str) -> str:
        """A relative path option is relative to the profile file that gave it (to the
        current directory when it came from the command line)."""
        source = self.where(key)
        if os.path.isfile(source):
            return os.path.normpath(os.path.join(os.path.dirname(source), path))
        return os.path.abspath(path)

    def media(self) -> Dict[str, Dict[str, Any]]:
        """Drives that have an image: name -> {image, kind, readonly, overlay}."""
        result: Dict[str, Dict[str, Any]] = {}
        for drive, converted in self._drives().items():
            image = converted["image"]
            if image is None:
                continue
            if not os.path.isfile(image):
                self.fail(f"media.{drive}.image", f"image not found: {image}" if not os.path.exists(image)
                          else f"not a regular file (an image file is needed): {image}")
            for other, spec in result.items():
                if os.path.samefile(spec["image"], image):
                    self.fail(f"media.{drive}.image", f"{image} is already the image of {other}; "
                              "one image file cannot be two drives")
            result[drive] = converted
        return result

    def empty_floppies(self) -> List[str]:
        """The floppy drives the profile gives without a disk (`fda: empty`)."""
        return [drive for drive, converted in self._drives().items() if converted["empty"]]

    def _drives(self) -> Dict[str, Dict[str, Any]]:
        """Every drive given in `media`, converted: name -> {image, kind, readonly, overlay, empty}."""
        section = self.data.get("media") or {}
        if not isinstance(section, dict):
            self.fail("media", "expected a mapping of drive names")
        result = {}
        for drive, spec in section.items():
            if drive not in MEDIA_NAMES:
                self.fail(f"media.{drive}", "unknown drive (expected one of " + ", ".join(MEDIA_NAMES) + ")")
            if spec is None:
                continue
            if spec == EMPTY:
                spec = {"empty": True}
            elif not isinstance(spec, dict):
                spec = {"image": spec}
            converted = self._convert(f"media.{drive}", spec, MEDIA_OPTIONS)
            converted["kind"] = MEDIA_NAMES[drive]
            if converted["empty"]:
                if converted["kind"] != "floppy":
                    self.fail(f"media.{drive}.empty", "only a floppy drive (fda, fdb) can be empty")
                if converted["image"] is not None:
                    self.fail(f"media.{drive}.empty", "give an image or empty: true, not both")
            result[drive] = converted
        return result

    def components(self) -> Dict[str, Dict[str, Any]]:
        """Component name -> {"plugin": ref, "class": cls, "options": converted}."""
        if self._components is not None:
            return self._components
        result = {}
        for name, entry in self.data.items():
            if name in RESERVED or entry is None:
                continue
            if not isinstance(entry, dict):
                self.fail(name, "expected a mapping of component options (or null to remove it)")
            options = dict(entry)
            reference = options.pop("plugin", name)
            if not isinstance(reference, str):
                self.fail(f"{name}.plugin", "expected a plugin name or module:Class")
            try:
                cls = resolve_plugin(reference)
            except PluginNotFound as error:
                self.fail(f"{name}.plugin", str(error))
            declared = getattr(cls, "OPTIONS", {})
            converted = self._convert(name, options, declared)
            for key, option in declared.items():
                if option.kind == "path" and converted[key] and not os.path.isabs(converted[key]):
                    converted[key] = self._path_from(f"{name}.{key}", converted[key])
                elif option.kind == "paths":
                    converted[key] = [path if os.path.isabs(path) else
                                      self._path_from(f"{name}.{key}", path) for path in converted[key]]
            result[name] = {"plugin": reference, "class": cls, "options": converted}
        self._components = result
        return result

    def plugins(self) -> List[str]:
        return list(self.data.get("plugins") or [])

    def resolved(self) -> Dict[str, Any]:
        """The merged profile as plain data (what a recording stores)."""
        return copy.deepcopy(self.data)
