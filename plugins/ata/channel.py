"""ATA/IDE channel: up to two PIO hard disks or ATAPI CD-ROM drives behind one
register block, as on the PC/AT.

Follows ATA/ATAPI-6 (T13 1410D): the command block at `base` (data, error/features,
sector count, LBA low/mid/high = sector number and cylinder low/high, device/head,
status/command), the control block at `control` (alternate status/device control, and
the obsolete drive address register at `control + 1`), INTRQ on `irq`.  Every register
write reaches both devices; reads answer from the device DEV selects.  The LBA48 task
file registers are two-deep FIFOs read back through the device control HOB bit.

Commands: IDENTIFY DEVICE, READ/WRITE SECTORS (20h/21h, 30h/31h), READ/WRITE MULTIPLE
(C4h/C5h) and SET MULTIPLE MODE (C6h), the EXT forms (24h, 29h, 34h, 39h, 42h), READ
VERIFY (40h/41h), INITIALIZE DEVICE PARAMETERS (91h, any CHS translation), RECALIBRATE
(1xh), SEEK (7xh), FLUSH CACHE (E7h/EAh), SET FEATURES (EFh: write cache, look-ahead,
PIO transfer mode, revert to defaults), EXECUTE DEVICE DIAGNOSTIC (90h), the power
management commands STANDBY/IDLE (IMMEDIATE) (E0h-E3h) and CHECK POWER MODE (E5h).
Anything else is aborted (ABRT).

A `cdrom` medium makes its device an ATAPI CD-ROM drive (ATA/ATAPI-6 section 9,
the PACKET protocol): its signature is LBA mid/high 14h/EBh; IDENTIFY DEVICE and
the other disk commands abort with the signature in place, as drivers probing
for ATAPI expect; IDENTIFY PACKET DEVICE (A1h), PACKET (A0h), DEVICE RESET (08h),
SET FEATURES and CHECK POWER MODE work.  A software reset (SRST), DEVICE RESET
and EXECUTE DEVICE DIAGNOSTIC leave a packet device's status 00h, DRDY clear, as
QEMU does (citing ATA/ATAPI-6 section 9.10) and as Linux's IDE probe expects (it
sends IDENTIFY DEVICE only to a device showing DRDY, IDENTIFY PACKET DEVICE
whatever the status), so a driver that waits for DRDY before IDENTIFY DEVICE
times out and goes on to IDENTIFY PACKET DEVICE without an aborted command; the
next command that completes sets DRDY again.  After PACKET the device asks for the
12-byte command (DRQ, interrupt reason CoD in the sector count register), then
sends the reply in DRQ blocks of at most the byte count limit the host put in
LBA mid/high (each block's size there, reason IO, INTRQ per block), and ends
with reason IO+CoD and INTRQ; a CHECK CONDITION ends with ERR and the sense key
in the error register's high nibble (REQUEST SENSE then tells the rest).  The
commands themselves are in `atapi.py`.  With no `hdc`, the `cdrom` medium is the
secondary master, as QEMU's `-cdrom`.

Bochs behaviours kept because guests written on Bochs rely on them:

* once the first DRQ of a multi-sector PIO read is set, each following sector (block,
  for READ MULTIPLE) is loaded the moment the previous one has been read, so one
  `rep insw` over all of them works; every sector (block) still raises INTRQ;
* a write command sets DRQ at once (xv6 writes its data right after the command) and
  so does every following sector; only the final completion waits;
* the status of an absent device reads 0, commands to an absent device 1 are
  ignored, and the data port reads 0 without DRQ; its other registers read back
  what was written (the register file is shared), and SRST leaves the reset
  signature in them with cylinder FFFFh (QEMU's "no device"), so a driver that
  waits for device 1's Sector Count and LBA Low to read 1 after a reset (Pintos)
  goes on at once;
* writing to a read-only medium fails with ABRT when the sector arrives; SRST clears
  the multiple-sector setting; SET MULTIPLE MODE accepts powers of two up to 16.

Where this model follows the standard instead: out-of-range sectors and CHS sector 0
fail with IDNF (Bochs: ABRT); INITIALIZE DEVICE PARAMETERS sets any logical geometry
(Bochs accepts only the physical one); INTRQ is the selected device's pending
interrupt gated by nIEN, so a pending interrupt appears when nIEN is cleared (Bochs
drops interrupts raised while nIEN is set); EXECUTE DEVICE DIAGNOSTIC signs both devices.

Timing: a command keeps BSY set for COMMAND_DELAY_NS of virtual time before it
completes (first DRQ, or INTRQ); a released SRST keeps BSY for RESET_DELAY_NS.

DMA: READ/WRITE DMA (EXT) (C8h/C9h, CAh/CBh, 25h, 35h) need the controller's
bus master (`busmaster.py`, attached by the PIIX3 IDE function); after the
command delay the device asks for DMA with DRQ set, the bus master moves the
sectors and the device completes with INTRQ.  A PACKET command with features
bit 0 set moves its reply the same way.  Without a bus master both abort, and
IDENTIFY (PACKET) DEVICE offers no DMA mode.

Not modelled: audio CDs and tray or medium
changes, power management, SMART, security, host protected area.
"""

from typing import Any, Dict, List, Optional, Tuple

from pcmachine.clock import Event
from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.errors import ProfileError
from pcmachine.media import Disk

from .atapi import (BLOCK_SIZE, READ_CHUNK_BLOCKS, SECTORS_PER_BLOCK, CheckCondition,
                    PacketCommands, identify_packet_page, reply_for)
from .identify import (DEFAULT_DMA_MODE, DMA_MODES, MAX_MULTIPLE_SECTORS, SECTOR_SIZE,
                       IdentifySettings, Translation, default_translation, identify_page,
                       logical_translation)
from .taskfile import (CONTROL_HOB, CONTROL_NIEN, CONTROL_SRST, DEVICE_DEV, DEVICE_HEAD, DEVICE_LBA,
                           DEVICE_OBSOLETE_ONES, ERROR_ABRT, ERROR_IDNF, STATUS_BSY, STATUS_DF,
                           STATUS_DRQ, STATUS_ERR, STATUS_IDLE, TASKFILE_FIELDS, ChannelState,
                           DeviceState, address_limit, addressing_mode, drop_command,
                           requested_count, sign, start_lba, store_address)

#: Virtual time a command keeps BSY before it completes, and SRST recovery time.
COMMAND_DELAY_NS = 5_000
RESET_DELAY_NS = 5_000

#: Defaults of the two PC channels: base, control, irq, master medium, slave medium.
CHANNELS = {
    "primary": (0x1F0, 0x3F6, 14, "hda", "hdb"),
    "secondary": (0x170, 0x376, 15, "hdc", "hdd"),
}

CMD_IDENTIFY = 0xEC
CMD_EXECUTE_DIAGNOSTIC = 0x90
CMD_PACKET = 0xA0
PACKET_SIZE = 12
#: ATAPI interrupt reason (sector count register): command/data, input/output
REASON_COD, REASON_IO = 0x01, 0x02
#: the ATA commands a packet device accepts: opcode -> handler method
PACKET_DEVICE_COMMANDS = {CMD_PACKET: "_cmd_packet", 0xA1: "_cmd_identify_packet",
                          0x08: "_cmd_device_reset", 0xEF: "_cmd_set_features",
                          0xE5: "_cmd_check_power_mode"}
#: Data-in commands: opcode -> (48-bit addressing, multiple-sector blocks)
READ_COMMANDS = {0x20: (False, False), 0x21: (False, False), 0x24: (True, False),
                 0xC4: (False, True), 0x29: (True, True)}
#: Data-out commands: opcode -> (48-bit addressing, multiple-sector blocks)
WRITE_COMMANDS = {0x30: (False, False), 0x31: (False, False), 0x34: (True, False),
                  0xC5: (False, True), 0x39: (True, True)}
#: READ VERIFY SECTORS: opcode -> 48-bit addressing
VERIFY_COMMANDS = {0x40: False, 0x41: False, 0x42: True}
#: READ/WRITE DMA (EXT), moved by the controller's bus master (`busmaster.py`):
#: opcode -> (48-bit addressing, the device writes memory)
DMA_COMMANDS = {0xC8: (False, True), 0xC9: (False, True), 0x25: (True, True),
                0xCA: (False, False), 0xCB: (False, False), 0x35: (True, False)}

#: Command opcode -> handler method.
COMMANDS: Dict[int, str] = {CMD_IDENTIFY: "_cmd_identify", 0x91: "_cmd_initialize_parameters",
                            0xC6: "_cmd_set_multiple", 0xE7: "_cmd_flush", 0xEA: "_cmd_flush",
                            0xEF: "_cmd_set_features"}
COMMANDS.update({opcode: "_cmd_read" for opcode in READ_COMMANDS})
COMMANDS.update({opcode: "_cmd_write" for opcode in WRITE_COMMANDS})
COMMANDS.update({opcode: "_cmd_verify" for opcode in VERIFY_COMMANDS})
COMMANDS.update({opcode: "_cmd_dma" for opcode in DMA_COMMANDS})
COMMANDS.update({opcode: "_cmd_recalibrate" for opcode in range(0x10, 0x20)})
COMMANDS.update({opcode: "_cmd_seek" for opcode in range(0x70, 0x80)})
#: The Power Management feature set, mandatory in ATA/ATAPI-6 for devices without
#: PACKET: STANDBY IMMEDIATE, IDLE IMMEDIATE, STANDBY, IDLE complete at once
#: (there is no spindle to stop: the device stays ready); CHECK POWER MODE
#: answers FFh, active or idle.  Linux sends STANDBY IMMEDIATE at power-off (sd's
#: "Stopping disk", translated by libata).  SLEEP (E6h) is not modelled (ABRT).
COMMANDS.update({opcode: "_cmd_power_mode" for opcode in (0xE0, 0xE1, 0xE2, 0xE3)})
COMMANDS[0xE5] = "_cmd_check_power_mode"

#: Command block by offset from `base`: (name read, name written, read handler, write handler).
#: The data port (offset 0) is registered on its own for 16- and 32-bit accesses.
COMMAND_BLOCK = {
    0: ("data", "data", "_read_data", "_write_data"),
    1: ("error", "features", "_read_error", "_write_taskfile"),
    2: ("sector count", "sector count", "_read_taskfile", "_write_taskfile"),
    3: ("LBA low", "LBA low", "_read_taskfile", "_write_taskfile"),
    4: ("LBA mid", "LBA mid", "_read_taskfile", "_write_taskfile"),
    5: ("LBA high", "LBA high", "_read_taskfile", "_write_taskfile"),
    6: ("device", "device", "_read_device", "_write_device"),
    7: ("status", "command", "_read_status", "_write_command"),
}
#: Control block by offset from `control`.
CONTROL_BLOCK = {
    0: ("alternate status", "device control", "_read_alternate_status", "_write_device_control"),
    1: ("drive address", None, "_read_drive_address", None),
}


class ATAChannel(Component):
    """One ATA channel (command block, control block, IRQ line) with a master and an
    optional slave disk; `channel: secondary` switches every default to 0x170/0x376/15."""

    OPTIONS = {
        "channel": Option("str", "primary", "which PC channel's defaults apply",
                          choices=tuple(CHANNELS)),
        "base": Option("int", None, "command block ports base (default 0x1F0 / 0x170)",
                       minimum=0, maximum=0xFFF8),
        "control": Option("int", None, "device control / alternate status port (default 0x3F6 / 0x376)",
                          minimum=0, maximum=0xFFFE),
        "irq": Option("int", None, "IRQ line (default 14 / 15)", minimum=0, maximum=15),
        "master": Option("str", None, "medium of device 0 (default hda / hdc, or cdrom without hdc); "
                         "a cdrom medium is an ATAPI CD-ROM drive; a medium the machine lacks = no device"),
        "slave": Option("str", None, "medium of device 1 (default hdb / hdd); a medium the machine lacks = no device"),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        base, control, irq, master, slave = CHANNELS[options["channel"]]
        self.base = base if options["base"] is None else options["base"]
        self.control = control if options["control"] is None else options["control"]
        self.irq = irq if options["irq"] is None else options["irq"]
        if (options["master"] is None and master == "hdc" and "cdrom" in self.machine.media
                and options["slave"] != "cdrom"):
            if "hdc" in self.machine.media:
                raise ProfileError("component", f"{name}.master",
                                   "hdc and cdrom both want the secondary master: give one of "
                                   f"them another place (for example {name}.slave=cdrom)")
            master = "cdrom"
        self.disks: List[Optional[Disk]] = [
            self._medium("master", master if options["master"] is None else options["master"]),
            self._medium("slave", slave if options["slave"] is None else options["slave"]),
        ]
        #: the command sets of the ATAPI devices (None: a hard disk or nothing)
        self.packet: List[Optional[PacketCommands]] = [
            PacketCommands(disk) if disk is not None and disk.kind == "cdrom" else None
            for disk in self.disks]
        self.state = ChannelState()
        self.devices = [DeviceState(), DeviceState()]
        self._event: Optional[Event] = None
        #: the controller's DMA engine (`busmaster.BusMaster.attach`); None: PIO only
        self.bus_master: Optional[Any] = None
        self._irq_level = False
        self._readers = {offset: getattr(self, entry[2]) for offset, entry in COMMAND_BLOCK.items() if offset}
        self._writers = {offset: getattr(self, entry[3]) for offset, entry in COMMAND_BLOCK.items() if offset}
        self.bus.register_io(self.base, self.base, self._read_data, self._write_data,
                             f"{name} data", sizes=(1, 2, 4))
        for offset, (read_name, write_name, _, _) in COMMAND_BLOCK.items():
            if offset:
                self.bus.register_io(self.base + offset, self.base + offset, self._io_read,
                                     self._io_write, f"{name} {read_name}/{write_name}")
        for offset, (read_name, _, reader, writer) in CONTROL_BLOCK.items():
            port = self.control + offset
            # The drive address register shares 0x3F7 with the floppy controller's
            # digital input register (bit 7 is its disk-change line): a floppy
            # controller that claimed the port first keeps it.
            if offset and self.bus.io_table[port] is not None:
                continue
            self.bus.register_io(port, port, getattr(self, reader),
                                 getattr(self, writer) if writer else None, f"{name} {read_name}")
        self.reset()

    def _medium(self, role: str, medium: str) -> Optional[Disk]:
        disk = self.machine.media.get(medium) if medium else None
        if disk is not None and disk.kind not in ("hdd", "cdrom"):
            raise ProfileError("component", f"{self.name}.{role}",
                               f"{medium} is a {disk.kind}; this controller drives hard disks and CD-ROMs")
        return disk

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Power-on / hardware reset: every setting to its default, both devices
        signed and ready."""
        self.state = ChannelState()
        self.devices = [DeviceState(), DeviceState()]
        for index in (0, 1):
            if self.packet[index] is not None:
                sign(self.devices[index], packet=True)
        self._arm_timer()
        self._update_irq()

    def snapshot(self) -> Dict[str, Any]:
        return {"channel": state_to_dict(self.state),
                "devices": [state_to_dict(device) for device in self.devices]}

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(ChannelState, state["channel"])
        self.devices = [dict_to_state(DeviceState, device) for device in state["devices"]]
        self._arm_timer()
        self._irq_level = self._intrq()       # the bus master's state holds past edges
        self._update_irq()

    # ------------------------------------------------------------------ port dispatch
    def _io_read(self, port: int, size: int) -> int:
        return self._readers[port - self.base](port - self.base)

    def _io_write(self, port: int, size: int, value: int) -> None:
        self._writers[port - self.base](port - self.base, value)

    def _selected(self) -> DeviceState:
        return self.devices[self.state.selected]

    def _present(self, index: int) -> bool:
        return self.disks[index] is not None

    def _status(self) -> int:
        return self._selected().status if self._present(self.state.selected) else 0

    def _read_error(self, offset: int) -> int:
        return self._selected().error if any(self.disks) else 0

    def _read_taskfile(self, offset: int) -> int:
        if not any(self.disks):
            return 0
        field = TASKFILE_FIELDS[offset]
        return getattr(self._selected(), "hob_" + field if self.state.hob else field)

    def _read_device(self, offset: int) -> int:
        device = self._selected()
        return (DEVICE_OBSOLETE_ONES | (DEVICE_LBA if device.lba_mode else 0)
                | (self.state.selected << 4) | device.head)

    def _read_status(self, offset: int) -> int:
        """Reading status acknowledges the selected device's interrupt."""
        status = self._status()
        self._selected().intrq = False
        self._update_irq()
        return status

    def _read_alternate_status(self, port: int, size: int) -> int:
        return self._status()

    def _read_drive_address(self, port: int, size: int) -> int:
        """ATA-1 drive address: bit 7 not driven, nWTG, inverted head, nDS1/nDS0."""
        device = self._selected()
        writing = device.command in WRITE_COMMANDS and device.status & STATUS_DRQ
        return (0x80 | (0 if writing else 0x40) | ((~device.head & DEVICE_HEAD) << 2)
                | (0x02 if self.state.selected == 0 else 0x01))

    def _write_taskfile(self, offset: int, value: int) -> None:
        """Both devices latch the value; the previous one moves to the HOB copy."""
        field = TASKFILE_FIELDS[offset]
        for device in self.devices:
            setattr(device, "hob_" + field, getattr(device, field))
            setattr(device, field, value)
        self.state.hob = False

    def _write_device(self, offset: int, value: int) -> None:
        self.state.selected = 1 if value & DEVICE_DEV else 0
        for device in self.devices:
            device.head = value & DEVICE_HEAD
            device.lba_mode = bool(value & DEVICE_LBA)
        self.state.hob = False
        self._update_irq()

    def _write_device_control(self, port: int, size: int, value: int) -> None:
        """nIEN gates INTRQ; SRST going 1 resets both devices, going 0 lets them recover."""
        srst = bool(value & CONTROL_SRST)
        was_in_reset = self.state.srst
        self.state.nien = bool(value & CONTROL_NIEN)
        self.state.hob = bool(value & CONTROL_HOB)
        self.state.srst = srst
        if srst and not was_in_reset:
            for device in self.devices:
                drop_command(device)
                device.pending = ""
                device.status = STATUS_BSY
                device.intrq = False
            self._arm_timer()
        elif was_in_reset and not srst:
            self.state.selected = 0
            for index in (0, 1):
                if self._present(index):
                    self._schedule(index, "_complete_reset", RESET_DELAY_NS, STATUS_BSY)
                else:
                    sign(self.devices[index], present=False)
        self._update_irq()

    # ------------------------------------------------------------------ data port
    def _read_data(self, port: int, size: int) -> int:
        """PIO data in: bytes of the buffer; finishing a block loads the next one."""
        device = self._selected()
        if (not self._present(self.state.selected) or not device.status & STATUS_DRQ
                or device.command in WRITE_COMMANDS or device.command in DMA_COMMANDS
                or device.packet_stage == "command"):
            return 0
        start = device.buffer_index
        if start + size < len(device.buffer):
            device.buffer_index = start + size
            return int.from_bytes(device.buffer[start:start + size], "little")
        value = 0
        for shift in range(0, 8 * size, 8):
            if not device.status & STATUS_DRQ:
                break
            value |= device.buffer[device.buffer_index] << shift
            device.buffer_index += 1
            if device.buffer_index >= len(device.buffer):
                self._data_in_done(self.state.selected)
        return value

    def _write_data(self, port: int, size: int, value: int) -> None:
        """PIO data out: each completed sector goes to the disk at once."""
        index = self.state.selected
        device = self.devices[index]
        if device.packet_stage == "command" and device.status & STATUS_DRQ:
            self._receive_packet(index, size, value)
            return
        if (not self._present(index) or not device.status & STATUS_DRQ
                or device.command not in WRITE_COMMANDS):
            return
        start = device.buffer_index
        if start % SECTOR_SIZE + size < SECTOR_SIZE:
            device.buffer[start:start + size] = value.to_bytes(size, "little")
            device.buffer_index = start + size
            return
        for shift in range(0, 8 * size, 8):
            if not device.status & STATUS_DRQ:
                break
            device.buffer[device.buffer_index] = (value >> shift) & 0xFF
            device.buffer_index += 1
            if device.buffer_index % SECTOR_SIZE == 0:
                self._sector_received(index)

    def _data_in_done(self, index: int) -> None:
        device = self.devices[index]
        if device.command == CMD_PACKET:
            self._next_packet_block(index)
        elif device.command in READ_COMMANDS and device.sectors_left:
            self._load_block(index)
        else:
            drop_command(device)
            device.status = STATUS_IDLE

    def _sector_received(self, index: int) -> None:
        device = self.devices[index]
        end = device.buffer_index
        if not self._write_sectors(index, bytes(device.buffer[end - SECTOR_SIZE:end])):
            return
        if end < len(device.buffer):
            return
        if device.sectors_left == 0:
            drop_command(device)
            if device.write_cache:
                self._finish(index)
            else:
                self._cmd_flush(index, 0)
        elif self._open_write_block(index):
            self._interrupt(index)

    # ------------------------------------------------------------------ commands
    def _write_command(self, offset: int, value: int) -> None:
        index = self.state.selected
        if value == CMD_EXECUTE_DIAGNOSTIC:
            self._cmd_execute_diagnostic()
            return
        device = self.devices[index]
        if not self._present(index) or device.status & STATUS_BSY or self.state.srst:
            return
        device.intrq = False
        device.error = 0
        device.status &= ~(STATUS_ERR | STATUS_DRQ | STATUS_DF)
        drop_command(device)
        if self.packet[index] is not None:
            handler = PACKET_DEVICE_COMMANDS.get(value, "_cmd_not_for_packet_devices")
        else:
            handler = COMMANDS.get(value)
        if handler is None:
            self._finish(index, ERROR_ABRT)
        else:
            getattr(self, handler)(index, value)
        self._update_irq()

    def _cmd_read(self, index: int, opcode: int) -> None:
        if self._begin_transfer(index, opcode, *READ_COMMANDS[opcode]):
            self._schedule(index, "_load_block")

    def _cmd_write(self, index: int, opcode: int) -> None:
        """DRQ at once, without an interrupt, as Bochs does."""
        if self._begin_transfer(index, opcode, *WRITE_COMMANDS[opcode]):
            if not self._in_range(index, self.devices[index].next_lba, self._block_sectors(index)):
                self._fail_out_of_range(index, at_once=False)
            else:
                self._open_write_block(index)

    def _cmd_dma(self, index: int, opcode: int) -> None:
        """READ/WRITE DMA (EXT): after the command delay the device asks for DMA
        (DRQ) and the bus master moves the sectors; without one, ABRT."""
        if self.bus_master is None:
            self._finish(index, ERROR_ABRT)
            return
        if self._begin_transfer(index, opcode, DMA_COMMANDS[opcode][0], False):
            device = self.devices[index]
            if not self._in_range(index, device.next_lba, device.sectors_left):
                self._fail_out_of_range(index, at_once=False)
            else:
                self._schedule(index, "_complete_dma_ready")

    def _complete_dma_ready(self, index: int) -> None:
        self.devices[index].status = STATUS_IDLE | STATUS_DRQ
        self.bus_master.device_ready(self)

    # The bus master's side of a DMA command (`busmaster.BusMaster._transfer`).
    def dma_device(self) -> Optional[int]:
        """The device whose DMA command waits for the bus master, if any."""
        for index, device in enumerate(self.devices):
            if ((device.command in DMA_COMMANDS or device.packet_dma and device.packet_stage == "data")
                    and device.status & STATUS_DRQ and not device.pending):
                return index
        return None

    def dma_request(self, index: int) -> Tuple[int, int, bool]:
        """The bytes left, the unit they move in (a disk's sector; any number of
        bytes of a packet command's reply) and whether they go to memory."""
        device = self.devices[index]
        if device.packet_dma:
            return len(device.reply) + device.sectors_left * BLOCK_SIZE, 1, True
        return device.sectors_left * SECTOR_SIZE, SECTOR_SIZE, DMA_COMMANDS[device.command][1]

    def dma_read(self, index: int, size: int) -> Optional[bytes]:
        """The next `size` bytes (whole sectors of a disk) for memory; None after
        a host I/O error (the device then fails the command)."""
        device = self.devices[index]
        if device.packet_dma:
            if not self._fill_reply(index, size):
                return None
            data = bytes(device.reply[:size])
            del device.reply[:size]
            return data
        return self._read_sectors(index, size // SECTOR_SIZE)

    def dma_write(self, index: int, data: bytes) -> bool:
        """Whole sectors from memory to the disk; False if the command failed."""
        return self._write_sectors(index, data)

    def dma_end(self, index: int) -> None:
        """The bus master is done: with every sector moved the command completes
        with an interrupt (after a flush when the write cache is off); with PRDs
        too short for it the device just returns to ready, as QEMU's does."""
        device = self.devices[index]
        complete = device.sectors_left == 0 and not device.reply
        if device.packet_dma and complete:
            self._packet_done(index)
            return
        writing = not device.packet_dma and not DMA_COMMANDS[device.command][1]
        drop_command(device)
        device.status = STATUS_IDLE
        if not complete:
            return
        if writing and not device.write_cache:
            try:
                self.disks[index].flush()
            except OSError:
                self._fail(index, ERROR_ABRT, STATUS_DF)
                return
        self._interrupt(index)

    def _cmd_verify(self, index: int, opcode: int) -> None:
        device = self.devices[index]
        device.addressing = addressing_mode(device, VERIFY_COMMANDS[opcode])
        lba = self._start_lba(index)
        count = requested_count(device)
        if lba is None or not self._in_range(index, lba, count):
            self._finish(index, ERROR_IDNF)
            return
        self._report_transfer(index, "verify", lba, count)
        self._finish(index)

    def _cmd_identify(self, index: int, opcode: int) -> None:
        device = self.devices[index]
        disk = self.disks[index]
        device.command = opcode
        device.buffer = bytearray(identify_page(IdentifySettings(
            total_sectors=disk.sectors, default=self._default_translation(index),
            current=self._translation(index), multiple=device.multiple,
            write_cache=device.write_cache, look_ahead=device.look_ahead,
            serial=f"PCM{self.base:04X}{index}",
            dma_mode=device.dma_mode if self.bus_master is not None else None)))
        self._schedule(index, "_complete_data_ready")

    def _cmd_set_multiple(self, index: int, opcode: int) -> None:
        device = self.devices[index]
        count = device.count
        if count == 0 or count > MAX_MULTIPLE_SECTORS or count & (count - 1):
            self._finish(index, ERROR_ABRT)
            return
        device.multiple = count
        self._finish(index)

    def _cmd_initialize_parameters(self, index: int, opcode: int) -> None:
        """Logical geometry: sectors per track from the count, heads from the head bits."""
        device = self.devices[index]
        if device.count == 0:
            self._finish(index, ERROR_ABRT)
            return
        device.logical_heads = device.head + 1
        device.logical_spt = device.count
        self._finish(index)

    def _cmd_recalibrate(self, index: int, opcode: int) -> None:
        device = self.devices[index]
        device.lba_mid = device.lba_high = 0
        self._finish(index)

    def _cmd_seek(self, index: int, opcode: int) -> None:
        device = self.devices[index]
        device.addressing = addressing_mode(device, False)
        lba = self._start_lba(index)
        self._finish(index, 0 if lba is not None and self._in_range(index, lba, 1) else ERROR_IDNF)

    def _cmd_flush(self, index: int, opcode: int) -> None:
        """Disk.flush(); a host I/O error is a device fault (DF)."""
        try:
            self.disks[index].flush()
        except OSError:
            self._finish(index, ERROR_ABRT, fault=True)
            return
        self._finish(index)

    def _cmd_power_mode(self, index: int, opcode: int) -> None:
        """STANDBY/IDLE (IMMEDIATE): the device is always ready, nothing to do."""
        self._finish(index)

    def _cmd_set_features(self, index: int, opcode: int) -> None:
        device = self.devices[index]
        feature = device.features
        if feature in (0x02, 0x82):
            device.write_cache = feature == 0x02
        elif feature in (0xAA, 0x55):
            device.look_ahead = feature == 0xAA
        elif feature in (0xCC, 0x66):
            device.revert_defaults = feature == 0xCC
        elif feature == 0x03:
            # PIO default (00h, 01h) or PIO flow-control mode 0-4 (08h-0Ch); with a
            # bus master also multiword DMA 0-2 (20h-22h) and Ultra DMA 0-5 (40h-45h).
            mode = device.count
            if mode in DMA_MODES and self.bus_master is not None:
                device.dma_mode = mode
            elif not (mode <= 0x01 or 0x08 <= mode <= 0x0C):
                self._finish(index, ERROR_ABRT)
                return
        else:
            self._finish(index, ERROR_ABRT)
            return
        self._finish(index)

    def _cmd_execute_diagnostic(self) -> None:
        """Both devices run it whichever is selected; device 0 reports with INTRQ."""
        present = [index for index in (0, 1) if self._present(index)]
        if not present or any(self.devices[i].status & STATUS_BSY for i in present) or self.state.srst:
            return
        self.state.selected = 0
        for index in present:
            device = self.devices[index]
            drop_command(device)
            sign(device, packet=self.packet[index] is not None)
            device.intrq = False
            self._schedule(index, "_complete_diagnostic")
        self._update_irq()

    # ------------------------------------------------------------------ ATAPI
    def _cmd_not_for_packet_devices(self, index: int, opcode: int) -> None:
        """A disk command to a CD-ROM: ABRT with the packet signature in the task
        file (how a driver that sent IDENTIFY DEVICE learns it found ATAPI)."""
        sign(self.devices[index], packet=True)
        self._finish(index, ERROR_ABRT)

    def _cmd_identify_packet(self, index: int, opcode: int) -> None:
        device = self.devices[index]
        device.command = opcode
        device.buffer = bytearray(identify_packet_page(
            f"PCM{self.base:04X}{index}",
            device.dma_mode if self.bus_master is not None else None))
        self._schedule(index, "_complete_data_ready")

    def _cmd_device_reset(self, index: int, opcode: int) -> None:
        """The packet device's own reset: signature, status 00h, no interrupt."""
        device = self.devices[index]
        sign(device, packet=True)
        device.status = self._reset_status(index)

    def _cmd_check_power_mode(self, index: int, opcode: int) -> None:
        self.devices[index].count = 0xFF          # active or idle
        self._finish(index)

    def _cmd_packet(self, index: int, opcode: int) -> None:
        """DRQ for the 12 command bytes at once (no interrupt: the IDENTIFY PACKET
        page says DRQ comes within 50 us); the byte count limit and the DMA bit
        (features bit 0: the reply moves through the bus master) are latched."""
        device = self.devices[index]
        dma = bool(device.features & 0x01)
        if dma and self.bus_master is None:
            self._finish(index, ERROR_ABRT)
            return
        limit = device.lba_mid | (device.lba_high << 8)
        device.byte_limit = max(2, (limit or 0xFFFE) & ~1)
        device.command = opcode
        device.packet_stage = "command"
        device.packet_dma = dma
        device.buffer = bytearray(PACKET_SIZE)
        device.buffer_index = 0
        device.count = REASON_COD
        device.status = STATUS_IDLE | STATUS_DRQ

    def _receive_packet(self, index: int, size: int, value: int) -> None:
        device = self.devices[index]
        for shift in range(0, 8 * size, 8):
            if device.buffer_index < PACKET_SIZE:
                device.buffer[device.buffer_index] = (value >> shift) & 0xFF
                device.buffer_index += 1
        if device.buffer_index >= PACKET_SIZE:
            device.packet_stage = "data"
            self._schedule(index, "_execute_packet")

    def _execute_packet(self, index: int) -> None:
        device = self.devices[index]
        cdb = bytes(device.buffer[:PACKET_SIZE])
        try:
            reply = reply_for(self.packet[index], cdb,
                              (device.sense_key, device.sense_asc, device.sense_ascq))
        except CheckCondition as failed:
            self._packet_failed(index, failed.key, failed.asc, failed.ascq)
            return
        device.sense_key = device.sense_asc = device.sense_ascq = 0
        device.reply = bytearray(reply.data)
        device.next_lba, device.sectors_left = reply.lba, reply.blocks
        if device.packet_dma and (device.reply or device.sectors_left):
            device.count = REASON_IO
            device.status = STATUS_IDLE | STATUS_DRQ
            self.bus_master.device_ready(self)
            return
        self._next_packet_block(index)

    def _fill_reply(self, index: int, size: int) -> bool:
        """Read image blocks into the reply until it holds `size` bytes or the
        blocks run out; False after a host I/O error (the command then failed)."""
        device = self.devices[index]
        commands = self.packet[index]
        while len(device.reply) < size and device.sectors_left:
            count = min(device.sectors_left, READ_CHUNK_BLOCKS)
            try:
                device.reply.extend(commands.read_blocks(device.next_lba, count))
            except OSError:
                self._fail(index, ERROR_ABRT, STATUS_DF)
                return False
            self._report_transfer(index, "read", device.next_lba * SECTORS_PER_BLOCK,
                                  count * SECTORS_PER_BLOCK)
            device.next_lba += count
            device.sectors_left -= count
        return True

    def _packet_done(self, index: int) -> None:
        """The reply is all sent: status with reason IO+CoD and INTRQ."""
        device = self.devices[index]
        drop_command(device)
        device.count = REASON_IO | REASON_COD
        device.status = STATUS_IDLE
        self._interrupt(index)

    def _next_packet_block(self, index: int) -> None:
        """The next DRQ block of the reply (image blocks read as needed), or the
        command's completion when nothing is left."""
        device = self.devices[index]
        if not self._fill_reply(index, device.byte_limit):
            return
        if not device.reply:
            self._packet_done(index)
            return
        size = min(device.byte_limit, len(device.reply))
        device.buffer = device.reply[:size]
        del device.reply[:size]
        device.buffer_index = 0
        device.lba_mid, device.lba_high = size & 0xFF, size >> 8
        device.count = REASON_IO
        device.status = STATUS_IDLE | STATUS_DRQ
        self._interrupt(index)

    def _packet_failed(self, index: int, key: int, asc: int, ascq: int) -> None:
        """CHECK CONDITION: ERR, the sense key in the error register (as QEMU)."""
        device = self.devices[index]
        drop_command(device)
        device.sense_key, device.sense_asc, device.sense_ascq = key, asc, ascq
        device.error = key << 4
        device.count = REASON_IO | REASON_COD
        device.status = STATUS_IDLE | STATUS_ERR
        self._interrupt(index)

    # ------------------------------------------------------------------ transfers
    def _begin_transfer(self, index: int, opcode: int, lba48: bool, multiple: bool) -> bool:
        """Latch the command, its address and its count; False if it already failed."""
        device = self.devices[index]
        if multiple and not device.multiple:
            self._finish(index, ERROR_ABRT)
            return False
        device.addressing = addressing_mode(device, lba48)
        lba = self._start_lba(index)
        if lba is None:
            self._finish(index, ERROR_IDNF)
            return False
        device.command = opcode
        device.next_lba = lba
        device.sectors_left = requested_count(device)
        return True

    def _block_sectors(self, index: int) -> int:
        device = self.devices[index]
        opcode = device.command
        multiple = READ_COMMANDS.get(opcode, WRITE_COMMANDS.get(opcode, (False, False)))[1]
        return min(device.sectors_left, device.multiple) if multiple else 1

    def _load_block(self, index: int) -> None:
        """Read the next sector (block) into the buffer, set DRQ and interrupt."""
        device = self.devices[index]
        count = self._block_sectors(index)
        lba = device.next_lba
        if not self._in_range(index, lba, count):
            self._fail_out_of_range(index)
            return
        data = self._read_sectors(index, count)
        if data is None:
            return
        device.buffer = bytearray(data)
        device.buffer_index = 0
        device.status = STATUS_IDLE | STATUS_DRQ
        self._interrupt(index)

    def _read_sectors(self, index: int, count: int) -> Optional[bytes]:
        """The command's next `count` sectors from the disk, the task file moved
        past them; None after a host I/O error (the command failed with DF)."""
        lba = self.devices[index].next_lba
        try:
            data = self.disks[index].read(lba, count)
        except OSError:
            self._fail(index, ERROR_ABRT, STATUS_DF)
            return None
        self._advance(index, count)
        self._report_transfer(index, "read", lba, count)
        return data

    def _write_sectors(self, index: int, data: bytes) -> bool:
        """Whole sectors to the disk at the command's next sector, the task file
        moved past them; False when the command failed (ABRT on a read-only
        medium, DF too after a host I/O error)."""
        lba = self.devices[index].next_lba
        try:
            self.disks[index].write(lba, data)
        except PermissionError:
            self._fail(index, ERROR_ABRT)
            return False
        except OSError:
            self._fail(index, ERROR_ABRT, STATUS_DF)
            return False
        count = len(data) // SECTOR_SIZE
        self._advance(index, count)
        self._report_transfer(index, "write", lba, count)
        return True

    def _open_write_block(self, index: int) -> bool:
        device = self.devices[index]
        count = self._block_sectors(index)
        if not self._in_range(index, device.next_lba, count):
            self._fail_out_of_range(index)
            return False
        device.buffer = bytearray(count * SECTOR_SIZE)
        device.buffer_index = 0
        device.status = STATUS_IDLE | STATUS_DRQ
        return True

    def _advance(self, index: int, count: int) -> None:
        """Sectors done: the task file then names the next sector and the count left."""
        device = self.devices[index]
        device.next_lba += count
        device.sectors_left -= count
        store_address(device, device.next_lba, self._translation(index))
        device.count = device.sectors_left & 0xFF
        if device.addressing == "lba48":
            device.hob_count = (device.sectors_left >> 8) & 0xFF

    def _report_transfer(self, index: int, operation: str, lba: int, count: int) -> None:
        if self.machine.hooks.disk_transfer:
            self.machine.hooks.call.disk_transfer(machine=self.machine, drive=self.disks[index].name,
                                                  operation=operation, lba=lba, count=count)

    # ------------------------------------------------------------------ addressing
    def _default_translation(self, index: int) -> Translation:
        disk = self.disks[index]
        return default_translation(disk.cylinders, disk.heads, disk.spt)

    def _translation(self, index: int) -> Translation:
        device = self.devices[index]
        if device.logical_spt:
            return logical_translation(self.disks[index].sectors, device.logical_heads,
                                       device.logical_spt)
        return self._default_translation(index)

    def _start_lba(self, index: int) -> Optional[int]:
        return start_lba(self.devices[index], self._translation(index))

    def _in_range(self, index: int, lba: int, count: int) -> bool:
        limit = address_limit(self.devices[index], self.disks[index].sectors, self._translation(index))
        return 0 <= lba and lba + count <= limit

    # ------------------------------------------------------------------ completion
    def _schedule(self, index: int, completion: str, delay_ns: int = COMMAND_DELAY_NS,
                  busy_status: int = STATUS_BSY) -> None:
        """BSY now; `completion` (a method name, saved as plain data) after the delay."""
        device = self.devices[index]
        device.status = busy_status
        device.pending = completion
        device.pending_deadline = self.clock.now() + delay_ns
        self._arm_timer()

    def _arm_timer(self) -> None:
        """One clock event per channel, at the earliest pending completion."""
        if self._event is not None:
            self._event.cancel()
            self._event = None
        deadlines = [device.pending_deadline for device in self.devices if device.pending]
        if deadlines:
            self._event = self.clock.schedule(min(deadlines), self._on_timer)

    def _on_timer(self) -> None:
        self._event = None
        now = self.clock.now()
        for index, device in enumerate(self.devices):
            if device.pending and device.pending_deadline <= now:
                completion, device.pending = device.pending, ""
                getattr(self, completion)(index)
        self._arm_timer()

    def _finish(self, index: int, error: int = 0, fault: bool = False) -> None:
        """Complete a command after the delay, successfully, with `error`, or with a
        device fault (a host I/O error)."""
        self.devices[index].error = error
        completion = "_complete_fault" if fault else "_complete_error" if error else "_complete_done"
        self._schedule(index, completion)

    def _complete_done(self, index: int) -> None:
        self.devices[index].status = STATUS_IDLE
        self._interrupt(index)

    def _complete_error(self, index: int) -> None:
        self.devices[index].status = STATUS_IDLE | STATUS_ERR
        self._interrupt(index)

    def _complete_fault(self, index: int) -> None:
        self.devices[index].status = STATUS_IDLE | STATUS_DF | STATUS_ERR
        self._interrupt(index)

    def _complete_data_ready(self, index: int) -> None:
        device = self.devices[index]
        device.buffer_index = 0
        device.status = STATUS_IDLE | STATUS_DRQ
        self._interrupt(index)

    def _reset_status(self, index: int) -> int:
        """The status a reset or a diagnostic leaves: DRDY and DSC for a disk, 00h
        for a packet device (QEMU's ide_perform_srst, cmd_exec_dev_diagnostic and
        cmd_device_reset)."""
        return 0 if self.packet[index] is not None else STATUS_IDLE

    def _complete_diagnostic(self, index: int) -> None:
        self.devices[index].status = self._reset_status(index)
        if index == min(i for i in (0, 1) if self._present(i)):
            self._interrupt(index)

    def _complete_reset(self, index: int) -> None:
        """SRST recovery: signature, multiple mode off (as Bochs), settings kept unless
        SET FEATURES CCh asked to revert them; no interrupt."""
        device = self.devices[index]
        sign(device, packet=self.packet[index] is not None)
        device.multiple = 0
        if device.revert_defaults:
            device.logical_heads = device.logical_spt = 0
            device.write_cache = device.look_ahead = True
            device.dma_mode = DEFAULT_DMA_MODE
        device.status = self._reset_status(index)

    def _fail_out_of_range(self, index: int, at_once: bool = True) -> None:
        """IDNF with the task file naming the first sector that does not exist;
        reported at once in a transfer, after the command delay at its start."""
        device = self.devices[index]
        limit = address_limit(device, self.disks[index].sectors, self._translation(index))
        store_address(device, max(device.next_lba, limit), self._translation(index))
        if at_once:
            self._fail(index, ERROR_IDNF)
        else:
            drop_command(device)
            self._finish(index, ERROR_IDNF)

    def _fail(self, index: int, error: int, fault: int = 0) -> None:
        """An error in the middle of a data transfer: reported at once (`fault`:
        STATUS_DF when the host image failed)."""
        device = self.devices[index]
        drop_command(device)
        device.error = error
        device.status = STATUS_IDLE | STATUS_ERR | fault
        self._interrupt(index)

    # ------------------------------------------------------------------ INTRQ
    def _interrupt(self, index: int) -> None:
        self.devices[index].intrq = True
        self._update_irq()

    def _intrq(self) -> bool:
        """INTRQ: the selected device's pending interrupt, unless nIEN is set."""
        selected = self.state.selected
        return self._present(selected) and self.devices[selected].intrq and not self.state.nien

    def _update_irq(self) -> None:
        level = self._intrq()
        if level and not self._irq_level and self.bus_master is not None:
            self.bus_master.interrupt_raised(self)
        self._irq_level = level
        self.bus.set_irq(self.irq, 1 if level else 0)
