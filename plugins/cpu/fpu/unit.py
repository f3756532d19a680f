"""x87 registers, the register stack and exception reporting (SDM vol. 1, ch. 8).

The eight data registers hold raw 80-bit values; `empty` marks the tag word's
"empty" entries (the other tags are derived from the contents when stored).
Unmasked exceptions set ES and B; with CR0.NE=1 the next waiting x87 instruction
raises #MF, with NE=0 FERR# raises IRQ 13 through the PIC as on a PC, and a write
to port F0h lowers it (the DOS convention).
"""

import dataclasses
from typing import Any, List

from . import float80 as f

ES, BUSY = 0x80, 0x8000
C0, C1, C2, C3 = 0x100, 0x200, 0x400, 0x4000
CONDITION = C0 | C1 | C2 | C3
FERR_IRQ = 13


@dataclasses.dataclass
class X87State:
    """Everything the x87 holds, as plain data (snapshots)."""

    cw: int = 0x037F
    sw: int = 0                 # without TOP (kept in `top`)
    top: int = 0
    regs: List[int] = dataclasses.field(default_factory=lambda: [0] * 8)
    empty: List[bool] = dataclasses.field(default_factory=lambda: [True] * 8)
    fip: int = 0
    fcs: int = 0
    fdp: int = 0
    fds: int = 0
    fop: int = 0


class StackFault(Exception):
    """A masked stack fault already handled: the instruction stops here."""


class X87:
    def __init__(self, cpu: Any) -> None:
        self.cpu = cpu
        self.state = X87State()

    # ------------------------------------------------------------------ control
    def reset(self) -> None:
        """Power-up/RESET (SDM vol. 3, table 9-1): control word 0040h, every
        register +0.0 and tagged valid-zero (tag word 5555h), pointers zero."""
        self.state = X87State(cw=0x0040, empty=[False] * 8)

    def init(self) -> None:
        """FNINIT: control word 037Fh, status and tags cleared, pointers zero."""
        regs = self.state.regs
        self.state = X87State(regs=regs)

    @property
    def rc(self) -> int:
        return (self.state.cw >> 10) & 3

    @property
    def precision(self) -> int:
        return f.PRECISION[(self.state.cw >> 8) & 3]

    @property
    def masked(self) -> int:
        return self.state.cw & 0x3F

    def status_word(self) -> int:
        s = self.state
        return (s.sw & ~0x3800) | (s.top << 11)

    def tag_word(self) -> int:
        s = self.state
        word = 0
        for physical in range(8):
            if s.empty[physical]:
                tag = 3
            else:
                kind = f.classify(s.regs[physical])
                tag = 0 if kind == f.NORMAL else 1 if kind == f.ZERO else 2
            word |= tag << (2 * physical)
        return word

    def set_tag_word(self, word: int) -> None:
        """FLDENV/FRSTOR: only "empty" or not is kept; the rest follows the contents."""
        self.state.empty = [(word >> (2 * i)) & 3 == 3 for i in range(8)]

    # ------------------------------------------------------------------ exceptions
    def signal(self, flags: int) -> bool:
        """Record exception flags (and C1); True when an unmasked one among IE,
        DE, ZE means the destination must stay as it was."""
        s = self.state
        exceptions = flags & 0x7F
        s.sw = (s.sw & ~C1) | (flags & C1) | exceptions
        unmasked = exceptions & 0x3F & ~s.cw
        if unmasked:
            s.sw |= ES | BUSY
            if not self.cpu.cr[0] & 0x20:           # CR0.NE clear: FERR# -> IRQ 13
                self.cpu.bus.set_irq(FERR_IRQ, 1)
        return bool(unmasked & (f.IE | f.DE | f.ZE))

    def check_pending(self) -> None:
        """Before a waiting instruction: an unmasked exception still pending
        raises #MF when CR0.NE=1 (with NE=0 the IRQ 13 has already been raised)."""
        if self.state.sw & ES and self.cpu.cr[0] & 0x20:
            from ..state import CPUFault, MF
            raise CPUFault(MF)

    def clear_exceptions(self) -> None:
        self.state.sw &= ~(0x7F | ES | BUSY)

    # ------------------------------------------------------------------ stack
    def physical(self, index: int) -> int:
        return (self.state.top + index) & 7

    def is_empty(self, index: int) -> bool:
        return self.state.empty[(self.state.top + index) & 7]

    def get(self, index: int) -> int:
        """ST(i); an empty register is a stack underflow: IE+SF with C1=0, and
        with IE masked the instruction goes on with the indefinite QNaN."""
        s = self.state
        physical = (s.top + index) & 7
        if s.empty[physical]:
            if self.signal(f.IE | f.SF):
                raise StackFault()
            return f.INDEFINITE
        return s.regs[physical]

    def set(self, index: int, value: int) -> None:
        s = self.state
        physical = (s.top + index) & 7
        s.regs[physical] = value
        s.empty[physical] = False

    def push(self, value: int) -> None:
        """Load onto the stack; a full stack overflows: IE+SF with C1=1, the
        indefinite QNaN loaded when IE is masked."""
        s = self.state
        top = (s.top - 1) & 7
        if not s.empty[top]:
            if self.signal(f.IE | f.SF | f.C1):
                raise StackFault()
            value = f.INDEFINITE
        s.top = top
        s.regs[top] = value
        s.empty[top] = False

    def pop(self) -> None:
        s = self.state
        s.empty[s.top] = True
        s.top = (s.top + 1) & 7

    def set_condition(self, c3: int, c2: int, c1: int, c0: int) -> None:
        s = self.state
        s.sw = (s.sw & ~CONDITION) | (C3 if c3 else 0) | (C2 if c2 else 0) | (C1 if c1 else 0) | \
            (C0 if c0 else 0)

    def lower_ferr(self) -> None:
        """Port F0h: the IRQ 13 handler acknowledges the coprocessor error."""
        self.cpu.bus.set_irq(FERR_IRQ, 0)
