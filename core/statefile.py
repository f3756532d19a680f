"""Plain-data machine state on disk, and state digests for record/replay.

State is plain data (dicts, lists, ints, bools, str, bytes).  Files store it as
gzip-compressed JSON where bytes become ``{"$b": base64}`` and integer dict keys
become ``{"$i": [[key, value], ...]}``, so nothing executable is ever loaded
(unlike pickle) and the format is readable with standard tools.

Every record line carries a checksum, ``"sum"``: the SHA-256 (first 32 hex digits)
of the previous record's sum followed by the record's canonical JSON, so a record
that was edited, dropped or moved after it was written is found and named by its
number.  A file cut off in the middle of a record, or whose compressed data is
damaged, is reported with the number of the last good record.  (The chain is a
check against accidents and hand edits, not a signature: it has no key.)

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


SUM_KEY = "sum"


class StateFileError(ValueError):
    """A state file that cannot be read as written: the message names the file and
    the record."""


def _canonical(encoded: Any) -> str:
    return json.dumps(encoded, separators=(",", ":"), sort_keys=True)


def _chain(previous: str, text: str) -> str:
    return hashlib.sha256((previous + text).encode("utf-8")).hexdigest()[:32]


class RecordWriter:
    """Writes checksummed records; `append` adds a gzip member that readers see as
    the continuation of the file, chained on from `last_sum` (the `last_sum` of
    the writer that wrote the file so far)."""

    def __init__(self, path: str, append: bool = False, last_sum: str = "") -> None:
        self.handle: IO[str] = gzip.open(path, "at" if append else "wt", encoding="utf-8", compresslevel=6)
        self.last_sum = last_sum

    def dump(self, record: Dict[str, Any]) -> None:
        text = _canonical(encode(record))
        self.last_sum = _chain(self.last_sum, text)
        separator = "," if text != "{}" else ""
        self.handle.write(f'{text[:-1]}{separator}"{SUM_KEY}":"{self.last_sum}"}}\n')

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_records(path: str) -> Iterator[Dict[str, Any]]:
    """Yield the records of a file written by `RecordWriter`, each checked against
    its checksum; StateFileError (one line: file, record number, problem) otherwise."""
    number = 0
    previous = ""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                number += 1
                if not line.endswith("\n"):
                    raise StateFileError(f"{path}: the file ends in the middle of record {number} (cut off?)")
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    raise StateFileError(f"{path}: record {number} is not valid JSON "
                                         "(the file was edited or damaged)") from None
                if not isinstance(raw, dict):
                    raise StateFileError(f"{path}: record {number} is not a record")
                stated = raw.pop(SUM_KEY, None)
                if stated is None:
                    version = raw.get("version") if number == 1 else None
                    hint = f" (format version {version}, written by an older pcmachine)" if version else ""
                    raise StateFileError(f"{path}: record {number} has no checksum{hint}")
                expected = _chain(previous, _canonical(raw))
                if stated != expected:
                    what = raw.get("type") if isinstance(raw.get("type"), str) else "?"
                    raise StateFileError(f"{path}: record {number} ({what}) does not match its checksum: "
                                         "the file was edited, or records were removed or reordered")
                previous = stated
                yield decode(raw)
    except EOFError:
        raise StateFileError(f"{path}: the file is cut off after record {number}") from None
    except (OSError, zlib.error, UnicodeDecodeError) as error:
        if number == 0:
            raise StateFileError(f"{path}: not a pcmachine state file ({error})") from None
        raise StateFileError(f"{path}: damaged after record {number} ({error})") from None


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
            # Slices, not a memoryview: PyPy's crc32 of a memoryview slice takes
            # twice as long as copying the slice first.
            for offset in range(0, len(value), DIGEST_BLOCK):
                flat[f"{path}[{offset:#010x}]"] = "%08x" % zlib.crc32(value[offset:offset + DIGEST_BLOCK])
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
