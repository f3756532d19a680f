"""Int 09h (IRQ 1) and int 16h: the keyboard handler and the keyboard services.

Int 09h reads a scancode (set 1, as the 8042 translates it) from port 60h, offers it
to int 15h AH=4Fh (a program may change or swallow it), then tracks shift, Ctrl,
Alt and lock state in the BDA (40:17, 40:18, 40:96, 40:97) and puts key codes
(scancode << 8 | ASCII) into the BDA ring buffer (40:1A head, 40:1C tail, bounds at
40:80/40:82).  Ctrl+Alt+Del sets the warm-boot flag 1234h at 40:72 and resets the
machine.  Alt + keypad digits enter a character code.  Ctrl+Break (Ctrl with
Scroll Lock, or with Pause, which then sends E0 46) empties the buffer, stores the
key 0000h, sets bit 7 of 40:71 and calls int 1Bh.

Int 16h reads that buffer; AH=00h/10h wait for a key in a ROM `STI; HLT` loop so
virtual time passes while the guest waits.

Not implemented: Pause, Print Screen (int 05h) and the keyboard LEDs (40:97 is
kept, the keyboard is not told).
"""

from typing import Any, Dict, Optional

from . import common as c
from .rom import CLI, IRET, MOV_AL_20, OUT_20_AL, POP_AX, PUSH_AX, RomBuilder, int_n

# 40:17 shift flags
RSHIFT, LSHIFT, CTRL, ALT, SCROLL, NUM, CAPS, INSERT = (1 << i for i in range(8))
# 40:18
LCTRL_DOWN, LALT_DOWN = 0x01, 0x02
# 40:96
LAST_E1, LAST_E0, RCTRL_DOWN, RALT_DOWN, KBD_101 = 0x01, 0x02, 0x04, 0x08, 0x10

LETTERS = {0x10: "q", 0x11: "w", 0x12: "e", 0x13: "r", 0x14: "t", 0x15: "y", 0x16: "u",
           0x17: "i", 0x18: "o", 0x19: "p", 0x1E: "a", 0x1F: "s", 0x20: "d", 0x21: "f",
           0x22: "g", 0x23: "h", 0x24: "j", 0x25: "k", 0x26: "l", 0x2C: "z", 0x2D: "x",
           0x2E: "c", 0x2F: "v", 0x30: "b", 0x31: "n", 0x32: "m"}
# scancode: (normal, shifted, ctrl ASCII or None) for keys whose Alt code is scan << 8
SYMBOLS = {0x02: ("1", "!", None), 0x03: ("2", "@", 0x00), 0x04: ("3", "#", None),
           0x05: ("4", "$", None), 0x06: ("5", "%", None), 0x07: ("6", "^", 0x1E),
           0x08: ("7", "&", None), 0x09: ("8", "*", None), 0x0A: ("9", "(", None),
           0x0B: ("0", ")", None), 0x0C: ("-", "_", 0x1F), 0x0D: ("=", "+", None),
           0x1A: ("[", "{", 0x1B), 0x1B: ("]", "}", 0x1D), 0x27: (";", ":", None),
           0x28: ("'", '"', None), 0x29: ("`", "~", None), 0x2B: ("\\", "|", 0x1C),
           0x33: (",", "<", None), 0x34: (".", ">", None), 0x35: ("/", "?", None)}
ALT_DIGIT_CODES = {0x02 + i: 0x78 + i for i in range(12)}     # Alt+1..Alt+= -> 78h..83h
# scancode: (normal, shift, ctrl, alt) complete key codes
FIXED_KEYS = {
    0x01: (0x011B, 0x011B, 0x011B, 0x0100), 0x0E: (0x0E08, 0x0E08, 0x0E7F, 0x0E00),
    0x0F: (0x0F09, 0x0F00, 0x9400, 0xA500), 0x1C: (0x1C0D, 0x1C0D, 0x1C0A, 0x1C00),
    0x37: (0x372A, 0x372A, 0x9600, 0x3700), 0x39: (0x3920, 0x3920, 0x3920, 0x3920),
    0x4A: (0x4A2D, 0x4A2D, 0x8E00, 0x4A00), 0x4E: (0x4E2B, 0x4E2B, 0x9000, 0x4E00),
    0x57: (0x8500, 0x8700, 0x8900, 0x8B00), 0x58: (0x8600, 0x8800, 0x8A00, 0x8C00),
}
# keypad: scancode -> (digit character, ctrl code, alt code of the grey key)
KEYPAD = {0x47: ("7", 0x77, 0x97), 0x48: ("8", 0x8D, 0x98), 0x49: ("9", 0x84, 0x99),
          0x4B: ("4", 0x73, 0x9B), 0x4C: ("5", 0x8F, None), 0x4D: ("6", 0x74, 0x9D),
          0x4F: ("1", 0x75, 0x9F), 0x50: ("2", 0x91, 0xA0), 0x51: ("3", 0x76, 0xA1),
          0x52: ("0", 0x92, 0xA2), 0x53: (".", 0x93, 0xA3)}
# 0xAA is also the left-shift break code in set 1, so it is not ignored here.
IGNORED_BYTES = (0x00, 0xFA, 0xFE, 0xFF, 0xEE)


def function_key(scan: int, shift: bool, ctrl: bool, alt: bool) -> int:
    """F1-F10 (scancodes 3Bh-44h)."""
    index = scan - 0x3B
    base = 0x68 if alt else 0x5E if ctrl else 0x54 if shift else 0x3B
    return (base + index) << 8


class KeyboardServices:
    """int 09h scancode handling and int 16h."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context

    def install(self, rom: RomBuilder) -> Dict[int, int]:
        entry = rom.emit(PUSH_AX, "int09")
        rom.hostcall(self.irq_read_scancode, int_n(0x15))
        rom.hostcall(self.irq_process_scancode, CLI + MOV_AL_20 + OUT_20_AL + POP_AX + IRET)
        self.break_offset = rom.emit(CLI + MOV_AL_20 + OUT_20_AL + int_n(0x1B) + POP_AX + IRET,
                                     "int09_break")
        int16 = rom.hostcall(self.int16, IRET, "int16")
        self.wait_offset = self.bios.wait_loop(rom, self.int16_resume, "int16_wait")
        return {0x09: entry, 0x16: int16}

    def post(self) -> None:
        ctx = self.ctx
        start, end = c.BDA_KBD_BUFFER, c.BDA_KBD_BUFFER + 32
        for offset, value in ((c.BDA_KBD_HEAD, start), (c.BDA_KBD_TAIL, start),
                              (c.BDA_KBD_START, start), (c.BDA_KBD_END, end)):
            ctx.set_bda16(offset, value)
        ctx.set_bda8(c.BDA_KBD_FLAGS1, 0)
        ctx.set_bda8(c.BDA_KBD_MODE, KBD_101)

    # ------------------------------------------------------------ ring buffer
    def buffer_peek(self) -> Optional[int]:
        ctx = self.ctx
        head, tail = ctx.bda16(c.BDA_KBD_HEAD), ctx.bda16(c.BDA_KBD_TAIL)
        if head == tail:
            return None
        return ctx.read16(c.BDA + head)

    def buffer_pop(self) -> Optional[int]:
        ctx = self.ctx
        key = self.buffer_peek()
        if key is not None:
            head = ctx.bda16(c.BDA_KBD_HEAD) + 2
            if head >= ctx.bda16(c.BDA_KBD_END):
                head = ctx.bda16(c.BDA_KBD_START)
            ctx.set_bda16(c.BDA_KBD_HEAD, head)
        return key

    def buffer_push(self, key: int) -> bool:
        ctx = self.ctx
        tail = ctx.bda16(c.BDA_KBD_TAIL)
        following = tail + 2
        if following >= ctx.bda16(c.BDA_KBD_END):
            following = ctx.bda16(c.BDA_KBD_START)
        if following == ctx.bda16(c.BDA_KBD_HEAD):
            return False
        ctx.write16(c.BDA + tail, key)
        ctx.set_bda16(c.BDA_KBD_TAIL, following)
        return True

    # ------------------------------------------------------------ int 09h
    def irq_read_scancode(self, cpu: Any) -> None:
        """Before `INT 15h`: AL = scancode, AH = 4Fh, CF = 1 (process it)."""
        cpu.set_reg("al", self.ctx.inb(0x60))
        cpu.set_reg("ah", 0x4F)
        cpu.set_flag("cf", True)

    def irq_process_scancode(self, cpu: Any) -> None:
        """After int 15h/4Fh: process AL unless the intercept cleared CF; on
        Ctrl+Break leave through the ROM path that calls int 1Bh."""
        if cpu.get_flag("cf") and self.process_scancode(cpu.get_reg("al")):
            self.bios.jump_rom(cpu, self.break_offset)

    def process_scancode(self, code: int) -> bool:
        """Update the keyboard state for one scancode; True on Ctrl+Break."""
        ctx = self.ctx
        mode = ctx.bda8(c.BDA_KBD_MODE)
        if code in IGNORED_BYTES:
            return False
        if code == 0xE0:
            ctx.set_bda8(c.BDA_KBD_MODE, mode | LAST_E0)
            return False
        if code == 0xE1:
            ctx.set_bda8(c.BDA_KBD_MODE, mode | LAST_E1)
            return False
        extended = bool(mode & LAST_E0)
        if mode & LAST_E1:
            # Pause (E1 1D 45, E1 9D C5) is ignored: swallow the two bytes after E1.
            keep = LAST_E1 if code & 0x7F == 0x1D else 0
            ctx.set_bda8(c.BDA_KBD_MODE, (mode & ~(LAST_E0 | LAST_E1)) | keep)
            return False
        ctx.set_bda8(c.BDA_KBD_MODE, mode & ~(LAST_E0 | LAST_E1))
        released = bool(code & 0x80)
        scan = code & 0x7F
        if scan == 0x46 and ctx.bda8(c.BDA_KBD_FLAGS1) & CTRL:
            if not released:
                self.control_break()
                return True
            return False
        if self.modifier(scan, released, extended):
            return False
        if released:
            return False
        flags = ctx.bda8(c.BDA_KBD_FLAGS1)
        if flags & CTRL and flags & ALT and scan == 0x53:
            ctx.set_bda16(c.BDA_RESET_FLAG, c.WARM_BOOT_MAGIC)
            self.bios.machine.request_reset("keyboard")
            return False
        if flags & ALT and not extended and scan in KEYPAD and KEYPAD[scan][0].isdigit():
            ctx.set_bda8(c.BDA_ALT_KEYPAD, (ctx.bda8(c.BDA_ALT_KEYPAD) * 10 + int(KEYPAD[scan][0])) & 0xFF)
            return False
        key = self.key_code(scan, flags, extended)
        if key is not None and not self.buffer_push(key):
            self.bios.video.bell()
        return False

    def control_break(self) -> None:
        ctx = self.ctx
        start = ctx.bda16(c.BDA_KBD_START)
        ctx.set_bda16(c.BDA_KBD_HEAD, start)
        ctx.set_bda16(c.BDA_KBD_TAIL, start)
        self.buffer_push(0x0000)
        ctx.set_bda8(c.BDA_BREAK, ctx.bda8(c.BDA_BREAK) | 0x80)

    def modifier(self, scan: int, released: bool, extended: bool) -> bool:
        """Update shift/lock state; True when `scan` is a modifier key."""
        ctx = self.ctx
        flags1, flags2 = ctx.bda8(c.BDA_KBD_FLAGS1), ctx.bda8(c.BDA_KBD_FLAGS2)
        mode = ctx.bda8(c.BDA_KBD_MODE)
        if scan in (0x2A, 0x36):
            if extended:
                return True              # fake shifts around grey keys
            bit = LSHIFT if scan == 0x2A else RSHIFT
            flags1 = (flags1 & ~bit) if released else (flags1 | bit)
        elif scan == 0x1D:
            if extended:
                mode = (mode & ~RCTRL_DOWN) if released else (mode | RCTRL_DOWN)
            else:
                flags2 = (flags2 & ~LCTRL_DOWN) if released else (flags2 | LCTRL_DOWN)
            down = (flags2 & LCTRL_DOWN) or (mode & RCTRL_DOWN)
            flags1 = (flags1 | CTRL) if down else (flags1 & ~CTRL)
        elif scan == 0x38:
            if extended:
                mode = (mode & ~RALT_DOWN) if released else (mode | RALT_DOWN)
            else:
                flags2 = (flags2 & ~LALT_DOWN) if released else (flags2 | LALT_DOWN)
            down = (flags2 & LALT_DOWN) or (mode & RALT_DOWN)
            flags1 = (flags1 | ALT) if down else (flags1 & ~ALT)
            if released and not down and ctx.bda8(c.BDA_ALT_KEYPAD):
                self.buffer_push(ctx.bda8(c.BDA_ALT_KEYPAD))
                ctx.set_bda8(c.BDA_ALT_KEYPAD, 0)
        elif scan in (0x3A, 0x45, 0x46) and not (scan == 0x46 and extended):
            toggle, held = {0x3A: (CAPS, 0x40), 0x45: (NUM, 0x20), 0x46: (SCROLL, 0x10)}[scan]
            if released:
                flags2 &= ~held
            elif not flags2 & held:
                flags2 |= held
                flags1 ^= toggle
            ctx.set_bda8(c.BDA_KBD_LEDS, (ctx.bda8(c.BDA_KBD_LEDS) & ~0x07) | ((flags1 >> 4) & 0x07))
        else:
            return False
        ctx.set_bda8(c.BDA_KBD_FLAGS1, flags1)
        ctx.set_bda8(c.BDA_KBD_FLAGS2, flags2)
        ctx.set_bda8(c.BDA_KBD_MODE, mode)
        return True

    def key_code(self, scan: int, flags: int, extended: bool) -> Optional[int]:
        """The buffer word for a key press, or None for keys with no code."""
        shift = bool(flags & (LSHIFT | RSHIFT))
        ctrl, alt = bool(flags & CTRL), bool(flags & ALT)
        if extended:
            return self.extended_key_code(scan, shift, ctrl, alt)
        if scan in LETTERS:
            letter = LETTERS[scan]
            if alt:
                return scan << 8
            if ctrl:
                return (scan << 8) | (ord(letter) & 0x1F)
            upper = shift != bool(flags & CAPS)
            return (scan << 8) | ord(letter.upper() if upper else letter)
        if scan in SYMBOLS:
            normal, shifted, control = SYMBOLS[scan]
            if alt:
                return (ALT_DIGIT_CODES[scan] << 8) if scan in ALT_DIGIT_CODES else scan << 8
            if ctrl:
                return None if control is None else (scan << 8) | control
            return (scan << 8) | ord(shifted if shift else normal)
        if scan in FIXED_KEYS:
            normal, shifted, control, alternate = FIXED_KEYS[scan]
            return alternate if alt else control if ctrl else shifted if shift else normal
        if 0x3B <= scan <= 0x44:
            return function_key(scan, shift, ctrl, alt)
        if scan in KEYPAD:
            digit, control, _ = KEYPAD[scan]
            if ctrl:
                return control << 8
            if alt:
                return None
            if shift != bool(flags & NUM):
                return (scan << 8) | ord(digit)
            return scan << 8
        return None

    @staticmethod
    def extended_key_code(scan: int, shift: bool, ctrl: bool, alt: bool) -> Optional[int]:
        """Grey keys (E0 prefix): ASCII E0h marks them for the extended functions."""
        if scan == 0x1C:
            return 0xA600 if alt else 0xE00A if ctrl else 0xE00D
        if scan == 0x35:
            return 0xA400 if alt else 0x9500 if ctrl else 0xE02F
        if scan in KEYPAD:
            _, control, alternate = KEYPAD[scan]
            if alt:
                return None if alternate is None else alternate << 8
            if ctrl:
                return (control << 8) | 0xE0
            return (scan << 8) | 0xE0
        return None

    # ------------------------------------------------------------ int 16h
    def int16(self, cpu: Any) -> None:
        function = cpu.get_reg("ah")
        self.bios.call_hook(cpu, 0x16, function)
        ctx = self.ctx
        if function in (0x00, 0x10):
            if not self.deliver(cpu, function):
                self.bios.jump_rom(cpu, self.wait_offset)
        elif function in (0x01, 0x11):
            key = self.buffer_peek()
            if key is not None:
                cpu.set_reg("ax", self.translate(key, function))
            else:
                self.bios.polled(cpu)
            c.set_return_flags(cpu, zf=key is None)
        elif function == 0x02:
            cpu.set_reg("al", ctx.bda8(c.BDA_KBD_FLAGS1))
        elif function == 0x12:
            flags2, mode = ctx.bda8(c.BDA_KBD_FLAGS2), ctx.bda8(c.BDA_KBD_MODE)
            high = (flags2 & (LCTRL_DOWN | LALT_DOWN)) | ((mode & RCTRL_DOWN) and 0x04) \
                | ((mode & RALT_DOWN) and 0x08) | (flags2 & 0x70) | ((flags2 & 0x04) << 5)
            cpu.set_reg("al", ctx.bda8(c.BDA_KBD_FLAGS1))
            cpu.set_reg("ah", high)
        elif function == 0x05:
            cpu.set_reg("al", 0 if self.buffer_push(cpu.get_reg("cx")) else 1)
            c.set_return_flags(cpu, cf=cpu.get_reg("al") != 0)
        elif function == 0x09:
            cpu.set_reg("al", 0x20)          # functions 10h-12h supported
        elif function == 0x0A:
            cpu.set_reg("bx", 0x83AB)        # MF2 keyboard
        elif function == 0x92:
            cpu.set_reg("ah", 0x80)

    def int16_resume(self, cpu: Any) -> None:
        if self.deliver(cpu, cpu.get_reg("ah")):
            self.bios.finish(cpu)

    def deliver(self, cpu: Any, function: int) -> bool:
        key = self.buffer_pop()
        if key is None:
            return False
        cpu.set_reg("ax", self.translate(key, function))
        return True

    @staticmethod
    def translate(key: int, function: int) -> int:
        """The non-extended functions (00h/01h) report grey keys like their
        keypad twins: ASCII E0h becomes 00h, scancode E0h becomes 1Ch/35h."""
        if function >= 0x10:
            return key
        scan, ascii_code = key >> 8, key & 0xFF
        if scan == 0xE0:
            scan = 0x1C if ascii_code in (0x0D, 0x0A) else 0x35
        elif ascii_code == 0xE0 and scan:
            ascii_code = 0
        return (scan << 8) | ascii_code
