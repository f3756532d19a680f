"""The read-only TFTP server of the user-mode network (10.0.2.2 port 69), as
QEMU's `-netdev user,tftp=FOLDER` (libslirp's tftp.c) serves a network boot.

What the guest sees, in slirp's order of checks:

* a read request (RFC 1350) opens a session for its client address and port (a
  second request from the same port replaces it); at most three sessions, and a
  request finds no room, and no answer, unless one of them has been idle for more
  than five seconds;
* without a folder every request gets ERROR 2 "Access violation"; a name longer
  than 512 bytes or a request too short for a mode, too: a mode other than octet
  gets ERROR 4 "Unsupported transfer mode"; a name with "../" or ending in "/",
  ERROR 2; a file that cannot be opened, ERROR 1 "File not found";
* the options (RFC 2347), the first two of them: `tsize` (RFC 2349: 0 asks for
  the file's size) and `blksize` (RFC 2348: up to 1428 bytes, slirp's limit) are
  acknowledged by an OACK; without them the first data block goes at once;
* every ACK from the session's port sends the block after the last one sent
  (slirp does not look at the ACK's block number, so a repeated ACK moves on too);
  the short last block ends the session, so does an ERROR from the client.

Files are read when a block is due, by name from the folder (a name starting with
"/" stays inside it), so the folder is an input of the run like a disk image: a
replay needs the same files.  The sessions are plain data in the network's state.
"""

import os
import struct
from typing import List, Optional, Tuple

TFTP_READ_REQUEST, TFTP_DATA, TFTP_ACK, TFTP_ERROR, TFTP_OPTION_ACK = 1, 3, 4, 5, 6
FILE_NOT_FOUND = (1, b"File not found")
ACCESS_VIOLATION = (2, b"Access violation")
BAD_MODE = (4, b"Unsupported transfer mode")
DEFAULT_BLOCK_SIZE = 512
MAX_BLOCK_SIZE = 1428               # libslirp's TFTP_BLOCKSIZE_MAX
MAX_NAME = 512                      # TFTP_FILENAME_MAX
MAX_SESSIONS = 3                    # TFTP_SESSIONS_MAX
SESSION_IDLE_NS = 5_000_000_000     # a session idle longer than this may be replaced
MAX_OPTIONS = 2


def error_packet(code_and_message) -> bytes:
    code, message = code_and_message
    return struct.pack("!HH", TFTP_ERROR, code) + message + b"\0"


class TftpServer:
    """Answers to the TFTP packets one client port sends; the sessions live in
    `state` (the user-mode network's state: `tftp_*` fields, one entry a session)."""

    def __init__(self, folder: Optional[str]) -> None:
        self.folder = os.fsencode(folder) if folder else None

    def answer(self, state, client: bytes, packet: bytes, now_ns: int) -> List[bytes]:
        """The packets to send back to `client` (its address and port, 6 bytes)."""
        if len(packet) < 2:
            return []
        opcode = struct.unpack_from("!H", packet)[0]
        if opcode == TFTP_READ_REQUEST:
            return self._read_request(state, client, packet[2:], now_ns)
        session = self._find(state, client)
        if session is None:
            return []
        if opcode == TFTP_ACK:
            return [self._next_block(state, session, now_ns)]
        if opcode == TFTP_ERROR:
            self._end(state, session)
        return []

    # ------------------------------------------------------------ requests
    def _read_request(self, state, client: bytes, body: bytes, now_ns: int) -> List[bytes]:
        session = self._find(state, client)
        if session is not None:
            self._end(state, session)
        session = self._open(state, client, now_ns)
        if session is None:
            return []
        refusal, name, rest = self._parse(body)
        if refusal is not None:
            return [self._fail(state, session, refusal)]
        state.tftp_names[session] = name
        path = self._path(name)
        try:
            with open(path, "rb"):
                pass
        except OSError:
            return [self._fail(state, session, FILE_NOT_FOUND)]
        if body[-1] != 0:
            return [self._fail(state, session, ACCESS_VIOLATION)]
        acknowledged = []
        fields = rest.split(b"\0")[1:-1]          # after the mode; the last is empty
        at = 0
        while at < len(fields) and len(acknowledged) < MAX_OPTIONS:
            if at + 1 >= len(fields):
                return [self._fail(state, session, ACCESS_VIOLATION)]
            key, value = fields[at].lower(), leading_number(fields[at + 1])
            at += 2
            if key == b"tsize":
                if value == 0:
                    try:
                        value = os.stat(path).st_size
                    except OSError:
                        return [self._fail(state, session, FILE_NOT_FOUND)]
                acknowledged.append((b"tsize", value))
            elif key == b"blksize" and value > 0:
                state.tftp_block_sizes[session] = min(value, MAX_BLOCK_SIZE)
                acknowledged.append((b"blksize", state.tftp_block_sizes[session]))
        if acknowledged:
            return [struct.pack("!H", TFTP_OPTION_ACK)
                    + b"".join(key + b"\0" + b"%d" % (value & 0xFFFFFFFF) + b"\0"
                               for key, value in acknowledged)]
        return [self._next_block(state, session, now_ns)]

    def _parse(self, body: bytes) -> Tuple[Optional[Tuple[int, bytes]], bytes, bytes]:
        """A read request's file name and what follows it (the mode, then the
        options), or the error it gets before its file is looked at."""
        if self.folder is None:
            return ACCESS_VIOLATION, b"", b""
        end = body.find(b"\0", 0, MAX_NAME)
        if end < 0:
            return ACCESS_VIOLATION, b"", b""
        name, rest = body[:end], body[end + 1:]
        if len(rest) < 6:
            return ACCESS_VIOLATION, name, rest
        if rest.split(b"\0", 1)[0].lower() != b"octet":
            return BAD_MODE, name, rest
        if b"../" in name or name.endswith(b"/"):
            return ACCESS_VIOLATION, name, rest
        return None, name, rest

    def _path(self, name: bytes) -> bytes:
        return self.folder + b"/" + name

    # ------------------------------------------------------------ data
    def _next_block(self, state, session: int, now_ns: int) -> bytes:
        size, number = state.tftp_block_sizes[session], state.tftp_blocks[session]
        try:
            with open(self._path(state.tftp_names[session]), "rb") as handle:
                handle.seek(number * size)
                data = handle.read(size)
        except OSError:
            return self._fail(state, session, FILE_NOT_FOUND)
        state.tftp_blocks[session] = number + 1
        if len(data) == size:
            state.tftp_stamps[session] = now_ns
        else:
            self._end(state, session)
        return struct.pack("!HH", TFTP_DATA, (number + 1) & 0xFFFF) + data

    # ------------------------------------------------------------ sessions
    @staticmethod
    def _find(state, client: bytes) -> Optional[int]:
        return state.tftp_clients.index(client) if client in state.tftp_clients else None

    def _open(self, state, client: bytes, now_ns: int) -> Optional[int]:
        if len(state.tftp_clients) >= MAX_SESSIONS:
            idle = [index for index, stamp in enumerate(state.tftp_stamps)
                    if now_ns - stamp > SESSION_IDLE_NS]
            if not idle:
                return None
            self._end(state, idle[0])
        state.tftp_clients.append(client)
        state.tftp_names.append(b"")
        state.tftp_block_sizes.append(DEFAULT_BLOCK_SIZE)
        state.tftp_blocks.append(0)
        state.tftp_stamps.append(now_ns)
        return len(state.tftp_clients) - 1

    def _fail(self, state, session: int, code_and_message) -> bytes:
        self._end(state, session)
        return error_packet(code_and_message)

    @staticmethod
    def _end(state, session: int) -> None:
        for field in (state.tftp_clients, state.tftp_names, state.tftp_block_sizes,
                      state.tftp_blocks, state.tftp_stamps):
            del field[session]


def leading_number(text: bytes) -> int:
    """C's atoi: the decimal number at the start of `text` (0 if none)."""
    digits = text.strip()
    sign = -1 if digits[:1] == b"-" else 1
    digits = digits.lstrip(b"+-")
    end = 0
    while end < len(digits) and digits[end:end + 1].isdigit():
        end += 1
    return sign * int(digits[:end]) if end else 0
