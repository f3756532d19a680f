"""The base class of machine components and the declaration of their options.

A component is a pluggy plugin (its `@hookimpl` methods receive events) that also
owns a piece of the machine: ports, memory regions, IRQ lines.  It declares its
profile options in `OPTIONS`, so the profile loader validates them and the docs and
`machine plugins --options` can list them.  Its guest-visible state is plain data:
`snapshot()` returns a dict, `restore()` loads it back.
"""

import dataclasses
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(value: Any) -> int:
    """16M, 640K, 1G or a plain integer."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 16M")
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", str(value), re.IGNORECASE)
    if not match:
        raise ValueError("expected a size such as 16M, 640K or 1048576")
    return int(match.group(1)) * SIZE_SUFFIXES[match.group(2).upper()]


@dataclasses.dataclass
class Option:
    """One profile option: its type, default and a one-line description.

    `kind` is one of "int", "str", "bool", "size", "list", "dict", "path", "paths"
    (a list of paths), "any".
    `choices` restricts a str option."""

    kind: str
    default: Any
    doc: str
    choices: Optional[Sequence[Any]] = None
    #: inclusive bounds for "int" and "size" options
    minimum: Optional[int] = None
    maximum: Optional[int] = None

    def convert(self, value: Any) -> Any:
        """Return the value in its declared type or raise ValueError saying what was expected."""
        if value is None and self.default is None:
            return None
        result = self._convert(value)
        if self.kind in ("int", "size"):
            if self.minimum is not None and result < self.minimum:
                raise ValueError(f"expected at least {self._show(self.minimum)}, got {self._show(result)}")
            if self.maximum is not None and result > self.maximum:
                raise ValueError(f"expected at most {self._show(self.maximum)}, got {self._show(result)}")
        return result

    def _show(self, number: int) -> str:
        if self.kind == "size":
            for suffix, unit in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
                if number and number % unit == 0:
                    return f"{number // unit}{suffix}"
        return str(number) if number < 0x100 else f"{number} ({number:#x})"

    def _convert(self, value: Any) -> Any:
        kind = self.kind
        if kind == "any":
            return value
        if kind == "size":
            return parse_size(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            if isinstance(value, int):
                return value
            try:
                return int(str(value), 0)
            except ValueError:
                raise ValueError(f"expected an integer, got {value!r}") from None
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("true", "yes", "on", "1"):
                return True
            if text in ("false", "no", "off", "0"):
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        if kind in ("str", "path"):
            if isinstance(value, (dict, list)):
                raise ValueError(f"expected a string, got {type(value).__name__}")
            text = str(value)
            if self.choices is not None and text not in [str(c) for c in self.choices]:
                raise ValueError("expected one of " + ", ".join(str(c) for c in self.choices)
                                 + f", got {text!r}")
            return text
        if kind in ("list", "paths"):
            if isinstance(value, str):
                return [item.strip() for item in value.split(",") if item.strip()]
            if not isinstance(value, list):
                raise ValueError(f"expected a list, got {type(value).__name__}")
            if self.choices is not None:
                for item in value:
                    if item not in self.choices:
                        raise ValueError("expected items from " + ", ".join(map(str, self.choices))
                                         + f", got {item!r}")
            return list(value)
        if kind == "dict":
            if not isinstance(value, dict):
                raise ValueError(f"expected a mapping, got {type(value).__name__}")
            return dict(value)
        raise ValueError(f"unknown option kind {kind}")


class Component:
    """Base of every device and plugin built from a profile entry.

    Subclasses set `OPTIONS`, override `reset()`, and implement `snapshot()` /
    `restore()` when they hold guest-visible state.  `self.machine`, `self.bus` and
    `self.clock` are available from construction on."""

    OPTIONS: Dict[str, Option] = {}
    #: snapshot format version of this component's state
    STATE_VERSION = 1
    #: True for components that only observe (tracers, analysers): they are not part
    #: of the machine a recording or snapshot describes, so replays and restores
    #: rebuild the machine without them
    OBSERVER = False

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        self.machine = machine
        self.name = name
        self.options = options
        self.bus = machine.bus
        self.clock = machine.clock

    @classmethod
    def instances(cls, name: str, options: Dict[str, Any],
                  entries: Dict[str, Dict[str, Any]]) -> List[Tuple[str, Dict[str, Any]]]:
        """The components one profile entry builds, as (name, options): one, unless
        the entry stands for several alike parts (`cpu: {count: 2}` builds the
        processors `cpu` and `cpu1`, and its local APIC entry one APIC for each).
        `entries` are the profile's entries by name, with converted options."""
        return [(name, options)]

    def reset(self) -> None:
        """Return to the power-on state (called at start and on every machine reset)."""

    def snapshot(self) -> Dict[str, Any]:
        """Guest-visible state as plain data (ints, bools, str, bytes, lists, dicts)."""
        return {}

    def restore(self, state: Dict[str, Any]) -> None:
        """Load a `snapshot()`; re-schedule any clock events it implies."""

    def close(self) -> None:
        """Release host resources (files, terminals); called once when the machine stops."""


def state_to_dict(state: Any) -> Dict[str, Any]:
    """A state dataclass as a plain dict (copies bytes-like and list fields)."""
    result = {}
    for field in dataclasses.fields(state):
        value = getattr(state, field.name)
        if isinstance(value, bytearray):
            value = bytes(value)
        elif isinstance(value, list):
            value = [bytes(v) if isinstance(v, bytearray) else v for v in value]
        result[field.name] = value
    return result


def dict_to_state(cls: Any, data: Dict[str, Any]) -> Any:
    """Rebuild a state dataclass from `state_to_dict` output, restoring bytearrays
    where the default is one.  Unknown keys are an error: they mean a version skew."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown state fields {sorted(unknown)}")
    instance = cls()
    for name, value in data.items():
        current = getattr(instance, name)
        if isinstance(current, bytearray):
            value = bytearray(value)
        elif isinstance(current, list):
            value = list(value)
        setattr(instance, name, value)
    return instance

