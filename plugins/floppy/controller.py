"""The floppy disk controller: an Intel 82077AA at 3F0h-3F7h, IRQ 6, DMA channel 2.

Registers (82077AA datasheet, section 2): DOR (3F2h: drive select, /RESET,
DMA and IRQ enable, motor enables), MSR (3F4h read: RQM, DIO, NDMA, CB, drive-busy
bits) and DSR (3F4h write: data rate, software reset), FIFO (3F5h), DIR (3F7h read:
bit 7 disk change) and CCR (3F7h write: data rate).  Commands (section 5, table
"Command Set"): READ DATA, WRITE DATA (MT/MFM/SK, multi-sector, multi-track, end of
track), READ ID, FORMAT TRACK, RECALIBRATE, SEEK, SENSE INTERRUPT STATUS, SENSE
DRIVE STATUS, SPECIFY, VERSION, CONFIGURE, DUMPREG, LOCK, PERPENDICULAR MODE; any
other byte is an invalid command (result ST0 = 80h).  Data moves through the ISA
DMA controller (`dma:` option); the non-DMA mode of SPECIFY is answered but data
transfers then end with an abnormal termination (Linux, Minix, the BIOSes and hobby
drivers all use DMA).

After a reset the controller interrupts and reports "ready changed" for the four
drives through four SENSE INTERRUPT STATUS commands, as the datasheet's reset
section says and drivers expect.  The interrupt line drops at every SENSE
INTERRUPT STATUS and at the first result byte read, and a later interrupt (a seek
ends) drops the reset reports still unread, as in Bochs and QEMU: the Bochs BIOS
senses once after its reset, recalibrates, and needs a fresh edge on IRQ 6.
Seeks and transfers take virtual time (a step per track, a little per sector)
and end with IRQ 6.  The medium of drive N is the
machine's `fda`/`fdb` Disk, the same object the BIOS's int 13h reads, so both see
one medium.  DIR bit 7 (disk change, the selected drive's DSKCHG line) is set at
power-on and when a medium is inserted, swapped or ejected (the `medium_change`
hook), and cleared only by a step pulse with a medium in the drive: a SEEK or
RECALIBRATE that moves the heads to another cylinder (82077AA datasheet, DIR;
QEMU's fd_seek).  With the drive empty it stays set, and transfers find no
medium.  The HLE BIOS reads the same line for int 13h AH=16h (`change_line`,
`step_out_and_back`), as a BIOS reads DIR.
"""

import dataclasses
from typing import Any, Dict, List, Optional

from pcmachine.clock import Event
from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.errors import ProfileError
from pcmachine.hookspecs import hookimpl

DOR, MSR_DSR, FIFO, DIR_CCR = 2, 4, 5, 7
DOR_RESET, DOR_DMA = 0x04, 0x08
MSR_RQM, MSR_DIO, MSR_NDMA, MSR_CB = 0x80, 0x40, 0x20, 0x10
ST0_SEEK_END, ST0_ABNORMAL, ST0_INVALID, ST0_READY_CHANGED = 0x20, 0x40, 0x80, 0xC0
ST0_EQUIPMENT_CHECK = 0x10
ST1_END_OF_CYLINDER, ST1_NO_DATA, ST1_NOT_WRITABLE, ST1_MISSING_ADDRESS = 0x80, 0x04, 0x02, 0x01
ST3_WRITE_PROTECT, ST3_READY, ST3_TRACK0, ST3_TWO_SIDE = 0x40, 0x20, 0x10, 0x08
DMA_CHANNEL = 2
STEP_NS = 200_000             # per track stepped (real drives: 3 ms)
SECTOR_NS = 100_000           # per sector moved (real 1.44M drives: about 11 ms)
COMMAND_NS = 20_000
#: command code (low 5 bits) -> (name, parameter bytes after the command byte)
COMMANDS = {0x06: ("read data", 8), 0x05: ("write data", 8), 0x0A: ("read id", 1),
            0x0D: ("format track", 5), 0x07: ("recalibrate", 1), 0x0F: ("seek", 2),
            0x08: ("sense interrupt status", 0), 0x04: ("sense drive status", 1),
            0x03: ("specify", 2), 0x10: ("version", 0), 0x13: ("configure", 3),
            0x0E: ("dumpreg", 0), 0x14: ("lock", 0), 0x12: ("perpendicular mode", 1)}


@dataclasses.dataclass
class FDCState:
    dor: int = 0
    data_rate: int = 0
    phase: str = "command"            # command | execution | result
    command: List[int] = dataclasses.field(default_factory=list)
    result: List[int] = dataclasses.field(default_factory=list)
    irq_pending: bool = False
    sense_queue: List[List[int]] = dataclasses.field(default_factory=list)  # ST0, PCN per interrupt
    cylinders: List[int] = dataclasses.field(default_factory=lambda: [0, 0, 0, 0])
    disk_changed: List[bool] = dataclasses.field(default_factory=lambda: [True, True, True, True])
    specify: List[int] = dataclasses.field(default_factory=lambda: [0, 0])
    configure: int = 0x20             # EIS off, FIFO on, threshold 0 (power-on value)
    precomp: int = 0
    locked: bool = False
    perpendicular: int = 0
    busy_drives: int = 0
    pending_ns: int = -1              # virtual time the running command completes
    pending: List[int] = dataclasses.field(default_factory=list)   # its bytes


class FloppyController(Component):
    """An 82077AA with up to two drives (the machine's fda and fdb media)."""

    OPTIONS = {
        "base": Option("int", 0x3F0, "first port of the controller", minimum=0, maximum=0xFFF8),
        "irq": Option("int", 6, "IRQ line", minimum=0, maximum=15),
        "dma": Option("str", "dma", "the ISA DMA component (channel 2)"),
        "drives": Option("list", ["fda", "fdb"], "media of drives 0 and 1"),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.base = options["base"]
        self.irq = options["irq"]
        self.drive_media = list(options["drives"])[:4]
        self.state = FDCState()
        self._event: Optional[Event] = None
        self._dma: Any = None
        for offset, (reader, writer) in {DOR: (self._read_dor, self._write_dor),
                                         MSR_DSR: (self._read_msr, self._write_dsr),
                                         FIFO: (self._read_fifo, self._write_fifo),
                                         DIR_CCR: (self._read_dir, self._write_ccr),
                                         0: (self._read_status_a, None),
                                         1: (self._read_status_b, None),
                                         3: (self._read_tape, self._write_tape)}.items():
            self.bus.register_io(self.base + offset, self.base + offset, reader, writer,
                                 f"{name} {['SRA', 'SRB', 'DOR', 'TDR', 'MSR/DSR', 'FIFO', '', 'DIR/CCR'][offset]}")
        self.reset()

    # ------------------------------------------------------------------ wiring
    @property
    def dma(self) -> Any:
        if self._dma is None:
            self._dma = self.machine.components.get(self.options["dma"])
            if self._dma is None:
                raise ProfileError("component", f"{self.name}.dma",
                                   f"no DMA component {self.options['dma']!r} in the machine")
        return self._dma

    def disk(self, drive: int) -> Any:
        if drive >= len(self.drive_media):
            return None
        return self.machine.media.get(self.drive_media[drive])

    @hookimpl
    def medium_change(self, drive: str) -> None:
        """A floppy was inserted, swapped or ejected: raise the drive's disk-change line."""
        if drive in self.drive_media:
            self.state.disk_changed[self.drive_media.index(drive)] = True

    def change_line(self, medium: str) -> Optional[bool]:
        """The disk-change line of the drive holding `medium` (None: not one of ours)."""
        if medium not in self.drive_media:
            return None
        return self.state.disk_changed[self.drive_media.index(medium)]

    def step_out_and_back(self, medium: str) -> bool:
        """What a BIOS does to reset the change line: a step to the next cylinder and
        back (the heads end where they were); the line stays active when the drive
        is empty.  Returns whether it is still active."""
        drive = self.drive_media.index(medium)
        if self.disk(drive) is not None:
            self.state.disk_changed[drive] = False
        return self.state.disk_changed[drive]

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Power-on: registers to defaults; every drive reports a disk change."""
        self._cancel()
        self.state = FDCState()
        self._update_irq()

    def _controller_reset(self) -> None:
        """/RESET in the DOR or DSR bit 7: registers to defaults, then an interrupt
        and four drive-ready-changed status reports (datasheet 2.2)."""
        self._cancel()
        state = self.state
        kept = {"dor": state.dor, "cylinders": state.cylinders, "disk_changed": state.disk_changed,
                "specify": state.specify, "locked": state.locked,
                "configure": state.configure if state.locked else 0x20}
        self.state = FDCState(**kept)
        self.state.sense_queue = [[ST0_READY_CHANGED | drive, self.state.cylinders[drive]] for drive in range(4)]
        self._finish_later(COMMAND_NS, [])

    def snapshot(self) -> Dict[str, Any]:
        return {"state": state_to_dict(self.state)}

    def restore(self, state: Dict[str, Any]) -> None:
        self._cancel()
        self.state = dict_to_state(FDCState, state["state"])
        if self.state.pending_ns >= 0:
            self._event = self.clock.schedule(self.state.pending_ns, self._complete)
        self._update_irq()

    def describe(self) -> str:
        s = self.state
        return (f"DOR {s.dor:02x} phase {s.phase} command {bytes(s.command).hex()} result {bytes(s.result).hex()}\n"
                f"cylinders {s.cylinders} disk-change {s.disk_changed} irq {'pending' if s.irq_pending else 'clear'}")

    # ------------------------------------------------------------------ interrupt
    def _update_irq(self) -> None:
        level = 1 if self.state.irq_pending and self.state.dor & DOR_DMA else 0
        self.bus.set_irq(self.irq, level)

    def _interrupt(self) -> None:
        self.state.irq_pending = True
        self._update_irq()

    def _clear_interrupt(self) -> None:
        self.state.irq_pending = False
        self._update_irq()

    # ------------------------------------------------------------------ registers
    def _read_status_a(self, port: int, size: int) -> int:
        return 0xFF

    def _read_status_b(self, port: int, size: int) -> int:
        return 0xFF

    def _read_tape(self, port: int, size: int) -> int:
        return 0

    def _write_tape(self, port: int, size: int, value: int) -> None:
        pass

    def _read_dor(self, port: int, size: int) -> int:
        return self.state.dor

    def _write_dor(self, port: int, size: int, value: int) -> None:
        old = self.state.dor
        self.state.dor = value & 0xFF
        if not value & DOR_RESET:
            self._cancel()
            self.state.phase = "command"
            self.state.command, self.state.result = [], []
            self._clear_interrupt()
        elif not old & DOR_RESET:
            self._controller_reset()
        self._update_irq()

    def _read_msr(self, port: int, size: int) -> int:
        state = self.state
        if not state.dor & DOR_RESET:
            return 0
        if state.phase == "execution":
            return MSR_CB | state.busy_drives
        if state.phase == "result":
            return MSR_RQM | MSR_DIO | MSR_CB
        return MSR_RQM | (MSR_CB if state.command else 0) | state.busy_drives

    def _write_dsr(self, port: int, size: int, value: int) -> None:
        self.state.data_rate = value & 3
        if value & 0x80:
            self._controller_reset()

    def _read_dir(self, port: int, size: int) -> int:
        drive = self.state.dor & 3
        return 0x80 if drive < 4 and self.state.disk_changed[drive] else 0x00

    def _write_ccr(self, port: int, size: int, value: int) -> None:
        self.state.data_rate = value & 3

    def _read_fifo(self, port: int, size: int) -> int:
        state = self.state
        if state.phase != "result" or not state.result:
            return 0xFF
        value = state.result.pop(0)
        if state.irq_pending:
            self._clear_interrupt()       # a result phase's interrupt ends with its first read
        if not state.result:
            state.phase = "command"
        return value

    def _write_fifo(self, port: int, size: int, value: int) -> None:
        state = self.state
        if state.phase != "command" or not state.dor & DOR_RESET:
            return
        state.command.append(value & 0xFF)
        code = state.command[0] & 0x1F
        needed = COMMANDS.get(code, ("invalid", 0))[1]
        if len(state.command) > needed:
            command, state.command = state.command, []
            self._execute(command)

    # ------------------------------------------------------------------ commands
    def _results(self, values: List[int]) -> None:
        self.state.result = list(values)
        self.state.phase = "result" if values else "command"

    def _execute(self, command: List[int]) -> None:
        code = command[0] & 0x1F
        state = self.state
        if code == 0x03:                                  # SPECIFY
            state.specify = command[1:3]
        elif code == 0x04:                                # SENSE DRIVE STATUS
            self._results([self._st3(command[1])])
        elif code == 0x08:                                # SENSE INTERRUPT STATUS
            if state.sense_queue:
                self._results(state.sense_queue.pop(0))
            else:
                self._results([ST0_INVALID])
            self._clear_interrupt()
        elif code in (0x07, 0x0F):                        # RECALIBRATE, SEEK
            drive = command[1] & 3
            target = 0 if code == 0x07 else command[2]
            steps = abs(target - state.cylinders[drive])
            state.busy_drives |= 1 << drive
            self._finish_later(COMMAND_NS + steps * STEP_NS, command)
        elif code in (0x05, 0x06):                        # WRITE DATA, READ DATA
            sectors = max(1, command[6] - command[4] + 1)
            self._finish_later(COMMAND_NS + sectors * SECTOR_NS, command)
        elif code in (0x0A, 0x0D):                        # READ ID, FORMAT TRACK
            self._finish_later(COMMAND_NS, command)
        elif code == 0x10:                                # VERSION: 82077AA
            self._results([0x90])
        elif code == 0x13:                                # CONFIGURE
            state.configure, state.precomp = command[2], command[3]
        elif code == 0x0E:                                # DUMPREG
            c = state.cylinders
            self._results([c[0], c[1], c[2], c[3], state.specify[0], state.specify[1], 0,
                           (0x80 if state.locked else 0) | state.perpendicular, state.configure,
                           state.precomp])
        elif code == 0x14:                                # LOCK (bit 7 of the command byte)
            state.locked = bool(command[0] & 0x80)
            self._results([0x10 if state.locked else 0x00])
        elif code == 0x12:                                # PERPENDICULAR MODE
            state.perpendicular = command[1] & 0x7F
        else:
            self._results([ST0_INVALID])

    def _st3(self, select: int) -> int:
        drive, head = select & 3, (select >> 2) & 1
        disk = self.disk(drive)
        value = select & 7 | ST3_READY
        if self.state.cylinders[drive] == 0:
            value |= ST3_TRACK0
        if disk is not None:
            value |= ST3_TWO_SIDE if disk.heads > 1 else 0
            value |= ST3_WRITE_PROTECT if disk.readonly else 0
        return value | (head << 2)

    # ------------------------------------------------------------------ execution
    def _finish_later(self, delay_ns: int, command: List[int]) -> None:
        self._cancel()
        state = self.state
        state.phase = "execution" if command else state.phase
        state.pending = list(command)
        state.pending_ns = self.clock.now() + delay_ns
        self._event = self.clock.schedule(state.pending_ns, self._complete)

    def _cancel(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self.state.pending_ns = -1

    def _complete(self) -> None:
        """The running command (or a reset) finishes now."""
        self._event = None
        state = self.state
        command, state.pending, state.pending_ns = state.pending, [], -1
        if not command:                                   # the end of a controller reset
            self._interrupt()
            return
        code = command[0] & 0x1F
        if code in (0x07, 0x0F):
            drive = command[1] & 3
            target = 0 if code == 0x07 else command[2]
            if target != state.cylinders[drive] and self.disk(drive) is not None:
                state.disk_changed[drive] = False         # the heads stepped with a disk in
            state.cylinders[drive] = target
            state.busy_drives &= ~(1 << drive)
            state.sense_queue = [entry for entry in state.sense_queue
                                 if entry[0] & 0xC0 != ST0_READY_CHANGED]   # reset reports end
            state.sense_queue.append([ST0_SEEK_END | drive, state.cylinders[drive]])
            state.phase = "command"
            self._interrupt()
            return
        if code == 0x0A:
            self._read_id(command)
        elif code == 0x0D:
            self._format(command)
        else:
            self._transfer(command)
        self._interrupt()

    def _result_chs(self, st0: int, st1: int, st2: int, c: int, h: int, r: int, n: int) -> None:
        self._results([st0, st1, st2, c & 0xFF, h & 0xFF, r & 0xFF, n & 0xFF])

    def _read_id(self, command: List[int]) -> None:
        drive, head = command[1] & 3, (command[1] >> 2) & 1
        disk = self.disk(drive)
        st0 = drive | (head << 2)
        if disk is None:
            self._result_chs(st0 | ST0_ABNORMAL, ST1_MISSING_ADDRESS, 0, 0, 0, 0, 0)
            return
        self._result_chs(st0, 0, 0, self.state.cylinders[drive], head, 1, 2)

    def _transfer(self, command: List[int]) -> None:
        """READ DATA / WRITE DATA from sector R of C/H up to EOT (and on to head 1
        with MT), through DMA channel 2 until terminal count.  A first sector the
        track does not have (R beyond its last sector: a loader asking the Bochs
        BIOS for sector 36 of an 18-sector track) is never found: No Data, as the
        datasheet's READ DATA says and QEMU does.  A transfer that runs past the
        track's last sector goes on at head 1 with MT even when EOT is larger (the
        Bochs BIOS passes EOT = R + count - 1), as in Bochs and QEMU."""
        write = (command[0] & 0x1F) == 0x05
        multi_track = bool(command[0] & 0x80)
        drive, head = command[1] & 3, (command[1] >> 2) & 1
        cylinder, head_id, sector, size_code, end_of_track = command[2], command[3], command[4], command[5], command[6]
        disk = self.disk(drive)
        st0 = drive | (head << 2)
        if disk is None or size_code != 2 or cylinder >= disk.cylinders or not 1 <= sector <= disk.spt:
            self._result_chs(st0 | ST0_ABNORMAL, ST1_NO_DATA if disk is not None else ST1_MISSING_ADDRESS,
                             0, cylinder, head_id, sector, size_code)
            return
        if write and disk.readonly:
            self._result_chs(st0 | ST0_ABNORMAL, ST1_NOT_WRITABLE, 0, cylinder, head_id, sector, size_code)
            return
        self.state.cylinders[drive] = cylinder            # implied seek onto the addressed track
        dma = self.dma
        moved = 0
        st1 = 0
        while True:
            if sector > min(end_of_track, disk.spt):
                if multi_track and head == 0 and disk.heads > 1:
                    head, head_id, sector = 1, 1, 1
                    continue
                st1 = ST1_END_OF_CYLINDER
                break
            lba = disk.chs_to_lba(cylinder, head, sector)
            if lba >= (disk.sectors if write else disk.readable_sectors):   # past the end of the image
                st1 = ST1_NO_DATA
                break
            if write:
                data = dma.from_memory(DMA_CHANNEL, 512)
                if len(data) < 512:
                    break
                try:
                    disk.write(lba, data)
                except OSError:                            # the host cannot write the image
                    st0 |= ST0_EQUIPMENT_CHECK
                    st1 = ST1_NO_DATA
                    break
                if self.machine.hooks.disk_transfer:
                    self.machine.hooks.call.disk_transfer(machine=self.machine, drive=self.drive_media[drive],
                                                  operation="write", lba=lba, count=1)
            else:
                taken = dma.to_memory(DMA_CHANNEL, disk.read(lba, 1))
                if self.machine.hooks.disk_transfer:
                    self.machine.hooks.call.disk_transfer(machine=self.machine, drive=self.drive_media[drive],
                                                  operation="read", lba=lba, count=1)
                if taken < 512:
                    break
            moved += 1
            sector += 1
            if not dma.ready(DMA_CHANNEL):                # terminal count: the normal end
                break
        if sector > min(end_of_track, disk.spt) and not st1:
            # the transfer ended exactly at the end of the track: the next sector
            # is the first of the next head or cylinder (datasheet table 5-1)
            if multi_track and head == 0 and disk.heads > 1:
                head, head_id, sector = 1, 1, 1
            else:
                cylinder, sector = cylinder + 1, 1
                if multi_track:
                    head, head_id = 0, 0
        abnormal = ST0_ABNORMAL if st1 else 0
        if moved == 0 and not st1:
            abnormal, st1 = ST0_ABNORMAL, ST1_NO_DATA
        self._result_chs(st0 | abnormal | (head << 2) & 4, st1, 0, cylinder, head_id, sector, size_code)

    def _format(self, command: List[int]) -> None:
        """FORMAT TRACK: the sector IDs come through DMA (C, H, R, N per sector);
        each sector is filled with the filler byte."""
        drive, head = command[1] & 3, (command[1] >> 2) & 1
        size_code, sectors, filler = command[2], command[3], command[5]
        disk = self.disk(drive)
        st0 = drive | (head << 2)
        if disk is None or disk.readonly:
            self._result_chs(st0 | ST0_ABNORMAL, ST1_NOT_WRITABLE if disk else ST1_MISSING_ADDRESS,
                             0, 0, head, 0, size_code)
            return
        cylinder = self.state.cylinders[drive]
        for _ in range(sectors):
            ident = self.dma.from_memory(DMA_CHANNEL, 4)
            if len(ident) < 4:
                break
            c, h, r = ident[0], ident[1], ident[2]
            if (c < disk.cylinders and h < disk.heads and 1 <= r <= disk.spt
                    and disk.chs_to_lba(c, h, r) < disk.sectors):
                disk.write(disk.chs_to_lba(c, h, r), bytes([filler]) * 512)
        self._result_chs(st0, 0, 0, cylinder, head, sectors, size_code)
