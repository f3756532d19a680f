"""Plain-data machine state on disk, and state digests for record/replay.

State is plain data (dicts, lists, ints, bools, str, bytes).  Files store it as
gzip-compressed JSON where bytes become ``{"$b": base64}`` and integer dict keys
become ``{"$i": [[key, value], ...]}``, so nothing executable is ever loaded
(unlike pickle) and the format is readable with standard tools.

A *digest* flattens a snapshot into ``{"cpu.eax": 5, "ram[0x00000000]": "ab12..."}``:
scalars are kept as they are (so a mismatch can show both values), long bytes are
checksummed per 64 KiB block, so a replay can name the component and fields that differ.
"""

import base64
import gzip
import hashlib
import json
import zlib
from typing import Any, Dict, IO, Iterator

DIGEST_BLOCK = 64 * 1024


def encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {key: encode(item) for key, item in value.items()}
        return {"$i": [[encode(key), encode(item)] for key, item in value.items()]}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$b" in value:
            return base64.b64decode(value["$b"])
        if len(value) == 1 and "$i" in value:
            return {decode(key): decode(item) for key, item in value["$i"]}
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


def open_writer(path: str, append: bool = False) -> IO[str]:
    """A text handle for records; `append` adds a gzip member that readers see as
    the continuation of the file."""
    return gzip.open(path, "at" if append else "wt", encoding="utf-8", compresslevel=6)


def dump_record(handle: IO[str], record: Dict[str, Any]) -> None:
    handle.write(json.dumps(encode(record), separators=(",", ":"), sort_keys=True))
    handle.write("\n")


def read_records(path: str) -> Iterator[Dict[str, Any]]:
    """Yield the records of a file written by `write_records` (ValueError if it is not one)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield decode(json.loads(line))
    except (OSError, EOFError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a pcmachine state file ({error})") from None


def digest(state: Any, prefix: str = "") -> Dict[str, Any]:
    """Flatten plain-data state into comparable fields (see module docstring)."""
    flat: Dict[str, Any] = {}
    _flatten(state, prefix, flat)
    return flat


def _flatten(value: Any, path: str, flat: Dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            _flatten(value[key], f"{path}.{key}" if path else str(key), flat)
    elif isinstance(value, (list, tuple)):
        if len(value) <= 64 and all(isinstance(item, (int, bool, str, type(None))) for item in value):
            flat[path] = list(value)
        else:
            for index, item in enumerate(value):
                _flatten(item, f"{path}[{index}]", flat)
    elif isinstance(value, (bytes, bytearray)):
        if len(value) <= 32:
            flat[path] = bytes(value).hex()
        else:
            # CRC-32 per block: a digest is compared with the digest of the same
            # state (it detects accidental differences, it is not defended against
            # forgery), and CRC-32 keeps checkpoints of a 16 MiB RAM cheap on PyPy.
            view = memoryview(value)
            for offset in range(0, len(value), DIGEST_BLOCK):
                flat[f"{path}[{offset:#010x}]"] = "%08x" % zlib.crc32(view[offset:offset + DIGEST_BLOCK])
    else:
        flat[path] = value


def digest_hash(flat: Dict[str, Any]) -> str:
    """One hash over a digest (what the user sees as 'the state hash')."""
    text = json.dumps(encode(flat), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def differences(expected: Dict[str, Any], actual: Dict[str, Any]) -> Dict[str, tuple]:
    """field -> (expected, actual) for every field that differs."""
    result = {}
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) != actual.get(key):
            result[key] = (expected.get(key), actual.get(key))
    return result
