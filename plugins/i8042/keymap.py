"""Key names, scan codes and the `type()` text syntax of the PS/2 keyboard.

One table, `KEY_TABLE`, lists every key of the US 101/102-key keyboard with its
make code in scan code set 1 (XT) and set 2 (AT, what a PS/2 keyboard sends by
default); break codes are derived from make codes by the rules of each set:

* set 1: the break code of each byte is the make byte with bit 7 set;
* set 2: each code is preceded by 0xF0 (after its 0xE0 prefix, if any);
* keys whose make code has several E0-prefixed parts (Print Screen) break them in
  reverse order; Pause has no break code at all.

`TRANSLATION_8042` is the 8042's set 2 -> set 1 translation table (the one IBM's
firmware applies when command byte bit 6 is set); tests check that it maps every
key's set 2 code onto its set 1 code, and both columns against the OSDev
"PS/2 Keyboard" tables.

`parse_type()` turns text such as ``"Hello\\n{ctrl+alt+del}"`` into key events.
"""

from typing import Dict, List, Sequence, Tuple

from pcmachine.errors import UserError

#: (name, set 1 make code, set 2 make code), hex bytes.
KEY_TABLE: Tuple[Tuple[str, str, str], ...] = (
    ("esc", "01", "76"),
    ("1", "02", "16"), ("2", "03", "1E"), ("3", "04", "26"), ("4", "05", "25"),
    ("5", "06", "2E"), ("6", "07", "36"), ("7", "08", "3D"), ("8", "09", "3E"),
    ("9", "0A", "46"), ("0", "0B", "45"),
    ("minus", "0C", "4E"), ("equal", "0D", "55"), ("backspace", "0E", "66"),
    ("tab", "0F", "0D"),
    ("q", "10", "15"), ("w", "11", "1D"), ("e", "12", "24"), ("r", "13", "2D"),
    ("t", "14", "2C"), ("y", "15", "35"), ("u", "16", "3C"), ("i", "17", "43"),
    ("o", "18", "44"), ("p", "19", "4D"),
    ("lbracket", "1A", "54"), ("rbracket", "1B", "5B"), ("enter", "1C", "5A"),
    ("lctrl", "1D", "14"),
    ("a", "1E", "1C"), ("s", "1F", "1B"), ("d", "20", "23"), ("f", "21", "2B"),
    ("g", "22", "34"), ("h", "23", "33"), ("j", "24", "3B"), ("k", "25", "42"),
    ("l", "26", "4B"),
    ("semicolon", "27", "4C"), ("quote", "28", "52"), ("grave", "29", "0E"),
    ("lshift", "2A", "12"), ("backslash", "2B", "5D"),
    ("z", "2C", "1A"), ("x", "2D", "22"), ("c", "2E", "21"), ("v", "2F", "2A"),
    ("b", "30", "32"), ("n", "31", "31"), ("m", "32", "3A"),
    ("comma", "33", "41"), ("period", "34", "49"), ("slash", "35", "4A"),
    ("rshift", "36", "59"), ("kpstar", "37", "7C"), ("lalt", "38", "11"),
    ("space", "39", "29"), ("capslock", "3A", "58"),
    ("f1", "3B", "05"), ("f2", "3C", "06"), ("f3", "3D", "04"), ("f4", "3E", "0C"),
    ("f5", "3F", "03"), ("f6", "40", "0B"), ("f7", "41", "83"), ("f8", "42", "0A"),
    ("f9", "43", "01"), ("f10", "44", "09"),
    ("numlock", "45", "77"), ("scrolllock", "46", "7E"),
    ("kp7", "47", "6C"), ("kp8", "48", "75"), ("kp9", "49", "7D"), ("kpminus", "4A", "7B"),
    ("kp4", "4B", "6B"), ("kp5", "4C", "73"), ("kp6", "4D", "74"), ("kpplus", "4E", "79"),
    ("kp1", "4F", "69"), ("kp2", "50", "72"), ("kp3", "51", "7A"),
    ("kp0", "52", "70"), ("kpdot", "53", "71"),
    ("intl", "56", "61"),            # the 102nd key (left of Z on ISO keyboards)
    ("f11", "57", "78"), ("f12", "58", "07"),
    ("kpenter", "E0 1C", "E0 5A"), ("rctrl", "E0 1D", "E0 14"),
    ("kpslash", "E0 35", "E0 4A"), ("ralt", "E0 38", "E0 11"),
    ("home", "E0 47", "E0 6C"), ("up", "E0 48", "E0 75"), ("pgup", "E0 49", "E0 7D"),
    ("left", "E0 4B", "E0 6B"), ("right", "E0 4D", "E0 74"),
    ("end", "E0 4F", "E0 69"), ("down", "E0 50", "E0 72"), ("pgdn", "E0 51", "E0 7A"),
    ("ins", "E0 52", "E0 70"), ("del", "E0 53", "E0 71"),
    ("lwin", "E0 5B", "E0 1F"), ("rwin", "E0 5C", "E0 27"), ("menu", "E0 5D", "E0 2F"),
    ("prtsc", "E0 2A E0 37", "E0 12 E0 7C"),
    ("pause", "E1 1D 45 E1 9D C5", "E1 14 77 E1 F0 14 F0 77"),
)

#: Keys that send a make sequence only (no break code in any set).
MAKE_ONLY = frozenset({"pause"})

#: Other spellings accepted in key names.
ALIASES: Dict[str, str] = {
    "ctrl": "lctrl", "shift": "lshift", "alt": "lalt", "win": "lwin", "super": "lwin",
    "escape": "esc", "return": "enter", "insert": "ins", "delete": "del",
    "pageup": "pgup", "pagedown": "pgdn", "printscreen": "prtsc", "bksp": "backspace",
}

#: Printable characters: (key, needs shift) on a US layout.
_UNSHIFTED = "`1234567890-=[]\\;',./"
_SHIFTED = "~!@#$%^&*()_+{}|:\"<>?"
_SYMBOL_KEYS = ("grave", "1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "minus", "equal",
                "lbracket", "rbracket", "backslash", "semicolon", "quote", "comma",
                "period", "slash")

#: The 8042 translation table: set 2 byte -> set 1 byte (IBM PC/AT firmware).
TRANSLATION_8042 = bytes.fromhex(" ".join((
    "ff 43 41 3f 3d 3b 3c 58 64 44 42 40 3e 0f 29 59",
    "65 38 2a 70 1d 10 02 5a 66 71 2c 1f 1e 11 03 5b",
    "67 2e 2d 20 12 05 04 5c 68 39 2f 21 14 13 06 5d",
    "69 31 30 23 22 15 07 5e 6a 72 32 24 16 08 09 5f",
    "6b 33 25 17 18 0b 0a 60 6c 34 35 26 27 19 0c 61",
    "6d 73 28 74 1a 0d 62 6e 3a 36 1c 1b 75 2b 63 76",
    "55 56 77 78 79 7a 0e 7b 7c 4f 7d 4b 47 7e 7f 6f",
    "52 53 50 4c 4d 48 01 45 57 4e 51 4a 37 49 46 54",
    "80 81 82 41 54",     # 0x83 is F7's set 2 code; 0x84 is Alt+SysRq
))) + bytes(range(0x85, 0x100))   # the rest pass through unchanged


class Key:
    """One key's make and break sequences in scan code sets 1 and 2."""

    __slots__ = ("name", "make", "brk")

    def __init__(self, name: str, set1: str, set2: str) -> None:
        self.name = name
        self.make = {1: bytes.fromhex(set1), 2: bytes.fromhex(set2)}
        if name in MAKE_ONLY:
            self.brk = {1: b"", 2: b""}
        else:
            self.brk = {1: _break_set1(self.make[1]), 2: _break_set2(self.make[2])}

    def codes(self, pressed: bool, scancode_set: int) -> bytes:
        """The bytes the keyboard sends for a press or release in `scancode_set`."""
        return (self.make if pressed else self.brk)[scancode_set]


def _split_codes(make: bytes) -> List[bytes]:
    """Split a make sequence into codes: each an optional 0xE0 prefix plus one byte."""
    codes, index = [], 0
    while index < len(make):
        width = 2 if make[index] == 0xE0 else 1
        codes.append(make[index:index + width])
        index += width
    return codes


def _break_set1(make: bytes) -> bytes:
    return b"".join(code[:-1] + bytes([code[-1] | 0x80]) for code in reversed(_split_codes(make)))


def _break_set2(make: bytes) -> bytes:
    return b"".join(code[:-1] + b"\xF0" + code[-1:] for code in reversed(_split_codes(make)))


KEYS: Dict[str, Key] = {name: Key(name, set1, set2) for name, set1, set2 in KEY_TABLE}

#: character -> (key name, shift needed)
CHARACTERS: Dict[str, Tuple[str, bool]] = {" ": ("space", False), "\n": ("enter", False),
                                            "\t": ("tab", False)}
for _letter in "abcdefghijklmnopqrstuvwxyz":
    CHARACTERS[_letter] = (_letter, False)
    CHARACTERS[_letter.upper()] = (_letter, True)
for _plain, _shifted, _key in zip(_UNSHIFTED, _SHIFTED, _SYMBOL_KEYS):
    CHARACTERS[_plain] = (_key, False)
    CHARACTERS[_shifted] = (_key, True)

KeyEvent = Tuple[str, bool]


def key_name(name: str) -> str:
    """The canonical name of a key given by name, alias or unshifted character;
    raises UserError for anything else."""
    lowered = name.strip().lower()
    lowered = ALIASES.get(lowered, lowered)
    if lowered in KEYS:
        return lowered
    if name in CHARACTERS and not CHARACTERS[name][1]:
        return CHARACTERS[name][0]
    raise UserError(f"unknown key {name!r}: use a key name such as enter, f1, lctrl, a, "
                    "or a character without shift")


def _chord(spec: str) -> List[KeyEvent]:
    """Events of one `{...}` group: modifiers pressed in order, the key pressed and
    released, modifiers released in reverse order."""
    parts = spec.split("+")
    if not spec or any(part == "" for part in parts):
        raise UserError(f"bad key group {{{spec}}}: expected a key name or a chord such as ctrl+c")
    modifiers = []
    for part in parts[:-1]:
        try:
            modifiers.append(key_name(part))
        except UserError:
            raise UserError(f"unknown key {part!r} in {{{spec}}}") from None
    last = parts[-1]
    if len(last) == 1 and last in CHARACTERS:
        key, shifted = CHARACTERS[last]
        if shifted and "lshift" not in modifiers and "rshift" not in modifiers:
            modifiers.append("lshift")
    else:
        lowered = ALIASES.get(last.lower(), last.lower())
        if lowered not in KEYS:
            raise UserError(f"unknown key {last!r} in {{{spec}}}: known keys are "
                            + " ".join(sorted(KEYS)))
        key = lowered
    events = [(name, True) for name in modifiers] + [(key, True), (key, False)]
    return events + [(name, False) for name in reversed(modifiers)]


def _character(char: str) -> List[KeyEvent]:
    if char not in CHARACTERS:
        raise UserError(f"cannot type character {char!r}: use a {{key}} name instead")
    key, shifted = CHARACTERS[char]
    if shifted:
        return [("lshift", True), (key, True), (key, False), ("lshift", False)]
    return [(key, True), (key, False)]


def parse_type(text: str) -> List[KeyEvent]:
    """Key events for a `--type` string.

    Characters are typed as on a US keyboard (capitals and shifted symbols inside a
    left-shift press); ``\\n`` is Enter and ``\\t`` Tab; ``{name}`` presses and
    releases a named key, ``{ctrl+alt+del}`` a chord; ``{{`` types a ``{``.
    Raises UserError naming the first thing that cannot be typed, before anything
    is sent."""
    events: List[KeyEvent] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "{" and text.startswith("{{", index):
            events.extend(_character("{"))
            index += 2
        elif char == "{":
            end = text.find("}", index + 1)
            if end < 0:
                raise UserError(f"unclosed {{ in {text!r}: write {{{{ for a literal brace")
            events.extend(_chord(text[index + 1:end]))
            index = end + 1
        else:
            events.extend(_character(char))
            index += 1
    return events


def codes_for(events: Sequence[KeyEvent], scancode_set: int = 2,
              translate: bool = False) -> bytes:
    """The bytes a guest reads for `events` (tests and tools): the keyboard's codes
    in `scancode_set`, passed through the 8042 translation when `translate`."""
    raw = b"".join(KEYS[name].codes(pressed, scancode_set) for name, pressed in events)
    return translate_8042(raw) if translate else raw


def translate_8042(raw: bytes) -> bytes:
    """Translate a whole byte string as the 8042 does (0xF0 sets bit 7 of the next
    translated byte)."""
    out = bytearray()
    escaped = False
    for byte in raw:
        if byte == 0xF0:
            escaped = True
            continue
        out.append(TRANSLATION_8042[byte] | (0x80 if escaped else 0))
        escaped = False
    return bytes(out)
