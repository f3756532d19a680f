"""ACPI fixed hardware: the PM1 event and control registers, the PM timer and the SCI.

Followed: the ACPI specification 6.5, 4.8.3 "Fixed Hardware Registers" (PM1_STS,
PM1_EN, PM1_CNT, PM_TMR), 4.8.2.2.1 "Power Button" (the fixed-feature button) and
16.1 "Sleeping States"; the register block of the
PIIX4's power-management function as QEMU's i440FX PC places it (`hw/acpi/core.c`,
`hw/acpi/piix4.c`): PM1a_EVT_BLK at `base` (0x600), PM1a_CNT_BLK at base+4,
PM_TMR_BLK at base+8.  The BIOS's FADT (`plugins/bios/acpitables.py`) points at
these ports, names the SCI's IRQ and its DSDT gives \\_S5 = SLP_TYP 0, so the
common shortcut `outw(0x604, 0x2000)` powers the machine off as it does in QEMU.

Implemented:

* PM1_STS (base+0, write 1 to clear): TMR_STS (bit 0) set at every change of the
  timer's bit 23; PWRBTN_STS (bit 8) set when the power button is pressed.
  PM1_EN (base+2): TMR_EN (0) and PWRBTN_EN (8), and GBL_EN, SLPBTN_EN, RTC_EN,
  PCIEXP_WAKE_DIS kept as written (ACPICA reads its enables back; no other event
  source exists here).  The SCI (a level on `sci_irq`) is asserted while SCI_EN
  is set and a status bit and its enable bit are both set.
* The fixed power button (QEMU's `system_powerdown`): a host input of kind
  "power-button" (`--powerdown`, the monitor's `system_powerdown`, the pytest
  plugin's `powerdown()`), so recordings replay it at the same instruction.  A
  press sets PWRBTN_STS whether or not PWRBTN_EN is set, as 4.8.2.2.1 says (the
  bit is set when the button is pressed; the enable only gates the interrupt);
  QEMU's `acpi_pm1_evt_power_down` sets it only while the OS has it enabled.
  The FADT says the button is a fixed feature (its PWR_BUTTON flag is clear).
* PM1_CNT (base+4): SCI_EN (bit 0) always reads 1: the board is in ACPI mode from
  reset (the FADT's SMI_CMD is 0, so there is no mode switch); BM_RLD (1) is
  kept; GBL_RLS (2) reads 0.  SLP_EN (13) with SLP_TYP (10-12) = 0 enters S5:
  the machine stops with the reason "poweroff".  Other sleep types are ignored
  (the DSDT declares only \\_S5).
* PM_TMR (base+8, 32-bit read): a 24-bit counter at 3.579545 MHz worked out from
  the virtual clock when read.

Not modelled: the sleep button (the FADT says there is no fixed one), the
power button override (held for four seconds), GPE blocks, the global lock's
BIOS side, S1-S4 and wake events.
"""

import dataclasses
from typing import Any, Dict, Optional

from pcmachine.clock import NS_PER_SECOND, Event
from pcmachine.component import Component, Option, dict_to_state, state_to_dict

PM_TIMER_HZ = 3_579_545
TIMER_BITS = 24
STATUS_PERIOD_SHIFT = 23                 # TMR_STS: every change of timer bit 23
BLOCK_SIZE = 12
TMR_STS, PWRBTN_STS, WAK_STS = 0x0001, 0x0100, 0x8000
TMR_EN, PWRBTN_EN = 0x0001, 0x0100
#: PM1_EN bits an OS may set (TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS): kept
#: and read back, though only the timer and the power button raise status bits here
ENABLE_BITS = 0x4721
SCI_EN, BM_RLD = 0x0001, 0x0002
SLP_TYP_SHIFT, SLP_EN = 10, 0x2000
SLEEP_TYPE_S5 = 0
EVENT_BITS = TMR_STS | PWRBTN_STS       # status bits that have an enable bit here
#: the host input that presses the power button
INPUT_KIND = "power-button"


@dataclasses.dataclass
class ACPIPMState:
    status: int = 0
    enable: int = 0
    control: int = SCI_EN
    #: the timer's count >> 23 when TMR_STS was last brought up to date
    timer_period: int = 0


class ACPIPowerManagement(Component):
    """The PM1a event/control block, the PM timer and the SCI line."""

    OPTIONS = {
        "base": Option("int", 0x600, "first of the 12 ports: PM1a_EVT (+0), PM1a_CNT (+4), "
                       "PM_TMR (+8)", minimum=0, maximum=0xFFF4),
        "sci_irq": Option("int", 9, "the SCI's IRQ line (level, shared-capable)",
                          minimum=0, maximum=15),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.base = options["base"]
        self.sci_irq = options["sci_irq"]
        self.state = ACPIPMState()
        self._timer_event: Optional[Event] = None
        self.bus.register_io(self.base, self.base + BLOCK_SIZE - 1, self._read, self._write,
                             name, sizes=(1, 2, 4))
        machine.register_input(INPUT_KIND, self._press_power_button)

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        self._cancel_timer_event()
        self.state = ACPIPMState(timer_period=self._ticks() >> STATUS_PERIOD_SHIFT)
        self._update_sci()

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self._cancel_timer_event()
        self.state = dict_to_state(ACPIPMState, state)
        self._schedule_timer_event()
        self._update_sci()

    # ------------------------------------------------------------------ the timer
    def _ticks(self) -> int:
        return self.clock.now() * PM_TIMER_HZ // NS_PER_SECOND

    def timer_value(self) -> int:
        return self._ticks() & ((1 << TIMER_BITS) - 1)

    def _sync_timer_status(self) -> None:
        period = self._ticks() >> STATUS_PERIOD_SHIFT
        if period != self.state.timer_period:
            self.state.timer_period = period
            self.state.status |= TMR_STS

    def _cancel_timer_event(self) -> None:
        if self._timer_event is not None:
            self._timer_event.cancel()
            self._timer_event = None

    def _schedule_timer_event(self) -> None:
        """With TMR_EN, an event at the next change of bit 23 raises the SCI."""
        if self._timer_event is not None or not self.state.enable & TMR_EN:
            return
        ticks = (self.state.timer_period + 1) << STATUS_PERIOD_SHIFT
        deadline = -(-ticks * NS_PER_SECOND // PM_TIMER_HZ)
        self._timer_event = self.clock.schedule(max(deadline, self.clock.now()), self._timer_due)

    def _timer_due(self) -> None:
        self._timer_event = None
        self._sync_timer_status()
        self._update_sci()
        self._schedule_timer_event()

    # ------------------------------------------------------------------ the button
    def _press_power_button(self, data: Any) -> bool:
        """A host press: PWRBTN_STS goes up; the SCI follows if the OS enabled it."""
        self.state.status |= PWRBTN_STS
        self._update_sci()
        return True

    # ------------------------------------------------------------------ registers
    def _update_sci(self) -> None:
        state = self.state
        level = bool(state.control & SCI_EN and state.status & state.enable & EVENT_BITS)
        self.bus.set_irq(self.sci_irq, 1 if level else 0)

    def _read(self, port: int, size: int) -> int:
        offset = port - self.base
        timer = self.timer_value().to_bytes(4, "little")
        if offset >= 8:          # PM_TMR alone: an OS that keeps time with it reads it constantly
            data = timer[offset - 8:]
        else:
            self._sync_timer_status()
            state = self.state
            data = (state.status.to_bytes(2, "little") + state.enable.to_bytes(2, "little")
                    + state.control.to_bytes(2, "little") + bytes(2) + timer)[offset:]
        return int.from_bytes(data[:size].ljust(size, b"\xff"), "little")

    def _write(self, port: int, size: int, value: int) -> None:
        offset = port - self.base
        for index in range(size):
            if offset + index < BLOCK_SIZE:
                self._write_byte(offset + index, (value >> (8 * index)) & 0xFF)
        self._update_sci()

    def _write_byte(self, offset: int, value: int) -> None:
        state = self.state
        if offset in (0, 1):                               # PM1_STS: write 1 to clear
            self._sync_timer_status()
            state.status &= ~(value << (8 * offset))
        elif offset in (2, 3):                             # PM1_EN
            shift = 8 * (offset - 2)
            state.enable = (state.enable & ~(0xFF << shift)) | (value << shift)
            state.enable &= ENABLE_BITS
            if state.enable & TMR_EN:
                self._schedule_timer_event()
            else:
                self._cancel_timer_event()
        elif offset == 4:                                  # PM1_CNT low: SCI_EN stays set
            state.control = (state.control & 0xFF00) | (value & BM_RLD) | SCI_EN
        elif offset == 5:                                  # PM1_CNT high: SLP_TYP, SLP_EN
            control = value << 8
            if control & SLP_EN and (control >> SLP_TYP_SHIFT) & 7 == SLEEP_TYPE_S5:
                self.machine.request_stop("poweroff")
            state.control = (state.control & 0x00FF) | (control & ~SLP_EN & 0x1C00)
