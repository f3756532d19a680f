"""The key table and the `--type` syntax, checked against published scan code tables.

The reference tables below are transcribed from OSDev "PS/2 Keyboard" (scan code
set 1 and set 2, US QWERTY), listed in scan-code order as OSDev prints them, so
they are independent of the name-ordered table in `plugins/i8042/keymap.py`.
"""

import pytest

from pcmachine.errors import UserError
from pcmachine.plugins.i8042 import keymap
from pcmachine.plugins.i8042.keymap import KEYS, codes_for, key_name, parse_type, translate_8042

# OSDev set 1, single-byte make codes 0x01..0x58 in order (None = no key of ours).
OSDEV_SET1_ORDER = (
    "esc 1 2 3 4 5 6 7 8 9 0 minus equal backspace tab "
    "q w e r t y u i o p lbracket rbracket enter lctrl "
    "a s d f g h j k l semicolon quote grave lshift backslash "
    "z x c v b n m comma period slash rshift kpstar lalt space capslock "
    "f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 numlock scrolllock "
    "kp7 kp8 kp9 kpminus kp4 kp5 kp6 kpplus kp1 kp2 kp3 kp0 kpdot - - intl f11 f12"
).split()

# OSDev set 2, single-byte make codes.
OSDEV_SET2 = {
    0x01: "f9", 0x03: "f5", 0x04: "f3", 0x05: "f1", 0x06: "f2", 0x07: "f12",
    0x09: "f10", 0x0A: "f8", 0x0B: "f6", 0x0C: "f4", 0x0D: "tab", 0x0E: "grave",
    0x11: "lalt", 0x12: "lshift", 0x14: "lctrl", 0x15: "q", 0x16: "1", 0x1A: "z",
    0x1B: "s", 0x1C: "a", 0x1D: "w", 0x1E: "2", 0x21: "c", 0x22: "x", 0x23: "d",
    0x24: "e", 0x25: "4", 0x26: "3", 0x29: "space", 0x2A: "v", 0x2B: "f", 0x2C: "t",
    0x2D: "r", 0x2E: "5", 0x31: "n", 0x32: "b", 0x33: "h", 0x34: "g", 0x35: "y",
    0x36: "6", 0x3A: "m", 0x3B: "j", 0x3C: "u", 0x3D: "7", 0x3E: "8", 0x41: "comma",
    0x42: "k", 0x43: "i", 0x44: "o", 0x45: "0", 0x46: "9", 0x49: "period",
    0x4A: "slash", 0x4B: "l", 0x4C: "semicolon", 0x4D: "p", 0x4E: "minus",
    0x52: "quote", 0x54: "lbracket", 0x55: "equal", 0x58: "capslock", 0x59: "rshift",
    0x5A: "enter", 0x5B: "rbracket", 0x5D: "backslash", 0x61: "intl", 0x66: "backspace",
    0x69: "kp1", 0x6B: "kp4", 0x6C: "kp7", 0x70: "kp0", 0x71: "kpdot", 0x72: "kp2",
    0x73: "kp5", 0x74: "kp6", 0x75: "kp8", 0x76: "esc", 0x77: "numlock", 0x78: "f11",
    0x79: "kpplus", 0x7A: "kp3", 0x7B: "kpminus", 0x7C: "kpstar", 0x7D: "kp9",
    0x7E: "scrolllock", 0x83: "f7",
}

# OSDev extended (E0-prefixed) codes: name -> (set 1 byte, set 2 byte).
OSDEV_EXTENDED = {
    "kpenter": (0x1C, 0x5A), "rctrl": (0x1D, 0x14), "kpslash": (0x35, 0x4A),
    "ralt": (0x38, 0x11), "home": (0x47, 0x6C), "up": (0x48, 0x75), "pgup": (0x49, 0x7D),
    "left": (0x4B, 0x6B), "right": (0x4D, 0x74), "end": (0x4F, 0x69), "down": (0x50, 0x72),
    "pgdn": (0x51, 0x7A), "ins": (0x52, 0x70), "del": (0x53, 0x71), "lwin": (0x5B, 0x1F),
    "rwin": (0x5C, 0x27), "menu": (0x5D, 0x2F),
}


def test_every_key_is_in_the_published_tables():
    published = set(OSDEV_SET2.values()) | set(OSDEV_EXTENDED) | {"prtsc", "pause"}
    assert set(KEYS) == published


def test_set1_single_byte_codes_match_osdev():
    for index, name in enumerate(OSDEV_SET1_ORDER):
        if name != "-":
            assert KEYS[name].make[1] == bytes([index + 1]), name
            assert KEYS[name].brk[1] == bytes([(index + 1) | 0x80]), name


def test_set2_single_byte_codes_match_osdev():
    for code, name in OSDEV_SET2.items():
        assert KEYS[name].make[2] == bytes([code]), name
        assert KEYS[name].brk[2] == bytes([0xF0, code]), name


def test_extended_codes_match_osdev():
    for name, (set1, set2) in OSDEV_EXTENDED.items():
        key = KEYS[name]
        assert key.make[1] == bytes([0xE0, set1]) and key.brk[1] == bytes([0xE0, set1 | 0x80])
        assert key.make[2] == bytes([0xE0, set2]) and key.brk[2] == bytes([0xE0, 0xF0, set2])


def test_print_screen_and_pause_sequences_match_osdev():
    prtsc, pause = KEYS["prtsc"], KEYS["pause"]
    assert prtsc.make[1].hex(" ") == "e0 2a e0 37"
    assert prtsc.brk[1].hex(" ") == "e0 b7 e0 aa"
    assert prtsc.make[2].hex(" ") == "e0 12 e0 7c"
    assert prtsc.brk[2].hex(" ") == "e0 f0 7c e0 f0 12"
    assert pause.make[1].hex(" ") == "e1 1d 45 e1 9d c5"
    assert pause.make[2].hex(" ") == "e1 14 77 e1 f0 14 f0 77"
    assert pause.brk[1] == pause.brk[2] == b""


@pytest.mark.parametrize("name", sorted(KEYS))
def test_8042_translation_maps_set2_onto_set1(name):
    key = KEYS[name]
    assert translate_8042(key.make[2]) == key.make[1]
    assert translate_8042(key.brk[2]) == key.brk[1]


def test_translation_table_passes_replies_through():
    table = keymap.TRANSLATION_8042
    assert len(table) == 256
    for reply in (0xFA, 0xAA, 0xEE, 0xFE, 0xAB, 0xE0, 0xE1):
        assert table[reply] == reply
    assert table[0x83] == 0x41 and table[0x84] == 0x54 and table[0x00] == 0xFF


def test_plain_text_uses_left_shift_for_capitals_and_symbols():
    assert parse_type("aB!\n\t ") == [
        ("a", True), ("a", False),
        ("lshift", True), ("b", True), ("b", False), ("lshift", False),
        ("lshift", True), ("1", True), ("1", False), ("lshift", False),
        ("enter", True), ("enter", False), ("tab", True), ("tab", False),
        ("space", True), ("space", False)]


def test_every_printable_ascii_character_can_be_typed():
    for code in range(0x20, 0x7F):
        char = chr(code)
        text = "{{" if char == "{" else char
        events = parse_type(text)
        assert events[-1][1] is False and len(events) in (2, 4)


@pytest.mark.parametrize("name", ["enter", "esc", "tab", "backspace", "up", "down", "left",
                                  "right", "home", "end", "pgup", "pgdn", "ins", "del"]
                         + ["f%d" % n for n in range(1, 13)])
def test_named_keys_from_the_type_syntax(name):
    assert parse_type("{%s}" % name) == [(name, True), (name, False)]
    assert parse_type("{%s}" % name.upper()) == [(name, True), (name, False)]


def test_chords_press_in_order_and_release_in_reverse():
    assert parse_type("{ctrl+alt+del}") == [
        ("lctrl", True), ("lalt", True), ("del", True), ("del", False),
        ("lalt", False), ("lctrl", False)]
    assert parse_type("{shift+tab}") == [
        ("lshift", True), ("tab", True), ("tab", False), ("lshift", False)]
    assert parse_type("{ctrl+c}") == [("lctrl", True), ("c", True), ("c", False), ("lctrl", False)]
    assert parse_type("{ctrl+C}") == [("lctrl", True), ("lshift", True), ("c", True),
                                      ("c", False), ("lshift", False), ("lctrl", False)]


def test_literal_braces():
    assert parse_type("{{}") == [("lshift", True), ("lbracket", True), ("lbracket", False),
                                 ("lshift", False),
                                 ("lshift", True), ("rbracket", True), ("rbracket", False),
                                 ("lshift", False)]


@pytest.mark.parametrize("text", ["{nosuchkey}", "{ctrl+nosuch}", "{bogus+c}", "{}", "{ctrl+}",
                                  "abc{enter", "caf\u00e9"])
def test_bad_type_strings_raise_one_line_user_errors(text):
    with pytest.raises(UserError) as error:
        parse_type(text)
    assert "\n" not in str(error.value)


def test_key_names_accept_aliases_and_unshifted_characters():
    assert key_name("Ctrl") == "lctrl"
    assert key_name("ESCAPE") == "esc"
    assert key_name(";") == "semicolon"
    assert key_name("A") == "a"
    with pytest.raises(UserError):
        key_name(":")
    with pytest.raises(UserError):
        key_name("hyper")


def test_hello_world_in_both_sets():
    events = parse_type("Hello, World!\n{ctrl+alt+del}")
    assert codes_for(events, 2).hex(" ") == (
        "12 33 f0 33 f0 12 24 f0 24 4b f0 4b 4b f0 4b 44 f0 44 41 f0 41 29 f0 29 "
        "12 1d f0 1d f0 12 44 f0 44 2d f0 2d 4b f0 4b 23 f0 23 "
        "12 16 f0 16 f0 12 5a f0 5a 14 11 e0 71 e0 f0 71 f0 11 f0 14")
    expected_set1 = (
        "2a 23 a3 aa 12 92 26 a6 26 a6 18 98 33 b3 39 b9 2a 11 91 aa 18 98 13 93 26 a6 "
        "20 a0 2a 02 82 aa 1c 9c 1d 38 e0 53 e0 d3 b8 9d")
    assert codes_for(events, 2, translate=True).hex(" ") == expected_set1
    assert codes_for(events, 1).hex(" ") == expected_set1
