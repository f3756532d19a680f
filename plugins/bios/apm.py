"""Int 15h AH=53h: the APM 1.2 BIOS interface, through its real-mode calls.

Followed: the Advanced Power Management BIOS Interface Specification 1.2 (Intel
and Microsoft, 1996) as Ralf Brown's list gives its functions and error codes,
and SeaBIOS (`src/apm.c`) for what a BIOS on an emulated PC powers off with.
Boot sectors and small systems shut the PC down with it (connect, then
"set power state: off"), as the OSDev wiki's "Shutdown" page shows.

Implemented: 5300h installation check (version 1.2, BX = "PM", CX = 0: no
protected-mode interface), 5301h real-mode connect, 5302h/5303h the protected-mode
connects (06h/08h: not supported), 5304h disconnect, 5305h CPU idle and 5306h CPU
busy (nothing to slow), 5307h set power state for all devices (BX = 0001h):
CX = 0003h "off" writes S5 (SLP_TYP 0, SLP_EN) to the ACPI PM1 control register
when the machine has the `acpi` component, which stops it with the reason
"poweroff" as QEMU's PIIX4 does; without it, and for standby and suspend, 60h
(cannot enter the state); 5308h/530Dh/530Fh enable, device enable, engage
(accepted), 530Ah power status (on AC power, no battery), 530Bh PM event (80h:
none), 530Ch power state (ready), 530Eh driver version (the lower of the
driver's and 1.2), 5310h capabilities (no batteries, none).  Every call takes
BX = 0000h (the BIOS) or a device ID the function accepts (09h otherwise) and,
from 5305h on, a connected interface (03h otherwise).  The connection is BIOS
state (snapshots keep it); a reset drops it.
"""

from typing import Any

from pcmachine.plugins.chipset.acpipm import SLEEP_TYPE_S5, SLP_EN, SLP_TYP_SHIFT, ACPIPowerManagement

from . import common as c

VERSION = 0x0102
SIGNATURE_PM = 0x504D
DEVICE_BIOS, DEVICE_ALL = 0x0000, 0x0001
ALREADY_CONNECTED, NOT_CONNECTED = 0x02, 0x03
NO_PM16, NO_PM32, BAD_DEVICE, BAD_PARAMETER = 0x06, 0x08, 0x09, 0x0A
NOT_SUPPORTED, CANNOT_ENTER, NO_EVENTS = 0x0C, 0x60, 0x80
STATE_READY, STATE_OFF = 0x0000, 0x0003
PM1_CNT = 4
AC_ONLINE, UNKNOWN, NO_BATTERY = 0x01, 0xFF, 0x80


class ApmServices:
    """int 15h AX=53xxh."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context

    def int15(self, cpu: Any) -> None:
        function = cpu.get_reg("al")
        device = cpu.get_reg("bx")
        state = self.bios.state
        if function == 0x00:
            if device != DEVICE_BIOS:
                c.fail(cpu, BAD_DEVICE)
                return
            cpu.set_reg("ax", VERSION)
            cpu.set_reg("bx", SIGNATURE_PM)
            cpu.set_reg("cx", 0)
            c.set_return_flags(cpu, cf=False)
        elif function in (0x01, 0x02, 0x03, 0x04):
            if device != DEVICE_BIOS:
                c.fail(cpu, BAD_DEVICE)
            elif function == 0x02:
                c.fail(cpu, NO_PM16)
            elif function == 0x03:
                c.fail(cpu, NO_PM32)
            elif (function == 0x01) == state.apm_connected:
                c.fail(cpu, ALREADY_CONNECTED if state.apm_connected else NOT_CONNECTED)
            else:
                state.apm_connected = function == 0x01
                c.succeed(cpu)
        elif function > 0x10:
            c.fail(cpu, NOT_SUPPORTED)
        elif not state.apm_connected:
            c.fail(cpu, NOT_CONNECTED)
        elif function == 0x07:
            self.set_power_state(cpu, device, cpu.get_reg("cx"))
        elif function == 0x0A:
            cpu.set_reg("bx", (AC_ONLINE << 8) | UNKNOWN)
            cpu.set_reg("cx", (NO_BATTERY << 8) | UNKNOWN)
            cpu.set_reg("dx", 0xFFFF)
            c.succeed(cpu)
        elif function == 0x0B:
            c.fail(cpu, NO_EVENTS)
        elif function == 0x0C:
            cpu.set_reg("cx", STATE_READY)
            c.succeed(cpu)
        elif function == 0x0E:
            cpu.set_reg("ax", min(cpu.get_reg("cx"), VERSION))
            c.set_return_flags(cpu, cf=False)
        elif function == 0x10:
            cpu.set_reg("bl", 0)
            cpu.set_reg("cx", 0)
            c.succeed(cpu)
        else:                               # 05h, 06h, 08h, 09h, 0Dh, 0Fh
            c.succeed(cpu)

    def set_power_state(self, cpu: Any, device: int, power_state: int) -> None:
        """AX=5307h: "off" for all devices is the ACPI S5 of the chipset."""
        if device != DEVICE_ALL:
            c.fail(cpu, BAD_DEVICE)
            return
        if power_state == STATE_READY:
            c.succeed(cpu)
            return
        if power_state > STATE_OFF:
            c.fail(cpu, BAD_PARAMETER)
            return
        pm = self.bios.machine.find(ACPIPowerManagement)
        if power_state != STATE_OFF or pm is None:
            c.fail(cpu, CANNOT_ENTER)
            return
        c.succeed(cpu)
        self.ctx.outw(pm.base + PM1_CNT, (SLEEP_TYPE_S5 << SLP_TYP_SHIFT) | SLP_EN)
