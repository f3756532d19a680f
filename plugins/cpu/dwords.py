"""Dword reads and writes of the RAM array, shared by the accessors with paging
off (memory.py) and on (paging.py) and by the operand closures that inline them
(decoder.py).

struct is three times faster than slicing + int.from_bytes (CPython and PyPy).
They are module globals, not closure variables: PyPy's JIT then knows the Struct
and its format, while through a closure cell it compares the format string again
on every access."""

import struct

UNPACK32 = struct.Struct("<I").unpack_from
PACK32 = struct.Struct("<I").pack_into
