"""CMOS RAM and real-time clock: Motorola MC146818A (ports 0x70/0x71, IRQ 8).

Follows the MC146818A datasheet (register map, status registers A-D, update cycle,
periodic/alarm/update-ended interrupts) and Bochs' `iodev/cmos.cc` for what a PC
BIOS expects: the CMOS layout filled at power-on (floppy and hard-disk types,
equipment byte, memory sizes, century, boot order, checksum of 0x10-0x2D).

Port 0x70 selects the register (bits 0-6) and holds the NMI mask (bit 7, kept as
`nmi_masked`); port 0x71 reads or writes the selected register.

Time is virtual: the RTC shows `start + virtual time`.  Nothing ticks every second:
the clock is a model `(origin_ns, origin_seconds)`, where `origin_ns` is a virtual
time at which the divider chain completed a second, and the time registers are
computed from it when the guest reads them.  Clock events exist only while an
interrupt source that needs one is enabled (PIE, UIE, AIE), and are re-computed
from the model on restore.

* Update-in-progress (status A bit 7) reads 1 for the 244 us before each second's
  update, as QEMU models it; the registers change at the second boundary.
* SET (status B bit 7) freezes the guest-visible copy of the time registers and
  clears UIE; the clock keeps counting underneath (Bochs).  Time written while SET
  is 1 takes effect when SET goes back to 0; time written while SET is 0 takes
  effect at once.  Both keep the phase of the divider chain.
* The divider chain in reset (status A DV = 11x) or with the oscillator off
  (DV = 00x) stops the clock; leaving reset starts the first update 500 ms later
  (datasheet).  Periodic interrupts run only while the divider runs.
* Changing the data mode (binary/BCD) or 12/24 h re-encodes the time registers.

Open questions / deviations:
* PF, AF and UF are set only while the matching enable bit is set, as Bochs does;
  the datasheet sets them regardless and only gates IRQF.  Guests that poll
  register C with the interrupt disabled see no flag.
* The day-of-week register follows the date (as Bochs); a guest write to it is
  overwritten at the next read.  Daylight saving (DSE) is stored but not applied.
* Extended memory at 0x17/0x30 is capped at 0xFC00 KiB and memory above 16 MiB at
  0x34 at 0xBF00 64-KiB units, Bochs' limits.
"""

import dataclasses
import datetime
from typing import Any, Dict, Optional

from pcmachine.clock import NS_PER_SECOND, Event
from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.errors import ProfileError

START_INPUT = "rtc-start"
INDEX_PORT = 0x70
DATA_PORT = 0x71
RTC_IRQ = 8
CMOS_SIZE = 128
NMI_MASK_BIT = 0x80
INDEX_MASK = 0x7F

# Register map (datasheet names; 0x10 and up are the PC/AT BIOS layout)
REG_SECONDS = 0x00
REG_SECONDS_ALARM = 0x01
REG_MINUTES = 0x02
REG_MINUTES_ALARM = 0x03
REG_HOURS = 0x04
REG_HOURS_ALARM = 0x05
REG_DAY_OF_WEEK = 0x06
REG_DAY_OF_MONTH = 0x07
REG_MONTH = 0x08
REG_YEAR = 0x09
REG_A = 0x0A
REG_B = 0x0B
REG_C = 0x0C
REG_D = 0x0D
REG_SHUTDOWN_STATUS = 0x0F
REG_FLOPPY_TYPES = 0x10
REG_HARD_DISK_TYPES = 0x12
REG_EQUIPMENT = 0x14
REG_BASE_MEMORY = 0x15          # word, KiB
REG_EXTENDED_MEMORY = 0x17      # word, KiB above 1 MiB
REG_HD0_EXTENDED_TYPE = 0x19
REG_HD1_EXTENDED_TYPE = 0x1A
REG_HD0_PARAMETERS = 0x1B       # 9 bytes
REG_HD1_PARAMETERS = 0x24       # 9 bytes
REG_BOOT_FLAGS = 0x2D
REG_CHECKSUM_HIGH = 0x2E
REG_CHECKSUM_LOW = 0x2F
REG_EXTENDED_MEMORY_2 = 0x30    # word, copy of 0x17
REG_CENTURY = 0x32
REG_MEMORY_ABOVE_16M = 0x34     # word, 64 KiB units
REG_PS2_CENTURY = 0x37
REG_BOOT_ORDER_3 = 0x38
REG_BOOT_ORDER_1_2 = 0x3D

CHECKSUM_FIRST = 0x10
CHECKSUM_LAST = 0x2D
TIME_REGISTERS = frozenset((REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY_OF_WEEK,
                            REG_DAY_OF_MONTH, REG_MONTH, REG_YEAR, REG_CENTURY,
                            REG_PS2_CENTURY))
ALARM_REGISTERS = ((REG_SECONDS_ALARM, REG_SECONDS), (REG_MINUTES_ALARM, REG_MINUTES),
                   (REG_HOURS_ALARM, REG_HOURS))
ALARM_DONT_CARE = 0xC0

# Status register A
A_UIP = 0x80
A_DIVIDER = 0x70
A_RATE = 0x0F
DIVIDER_SHIFT = 4
# Status register B
B_SET = 0x80
B_PIE = 0x40
B_AIE = 0x20
B_UIE = 0x10
B_SQWE = 0x08
B_DM_BINARY = 0x04
B_24_HOUR = 0x02
B_DSE = 0x01
B_CLEARED_BY_RESET = B_PIE | B_AIE | B_UIE
# Status register C
C_IRQF = 0x80
C_PF = 0x40
C_AF = 0x20
C_UF = 0x10
# Status register D
D_VRT = 0x80
HOUR_PM = 0x80

DEFAULT_A = 0x26        # 32.768 kHz time base, 1024 Hz periodic rate
DEFAULT_B = B_24_HOUR   # 24 h, BCD
INPUT_FREQUENCY = 32768
UIP_NS = 8 * NS_PER_SECOND // INPUT_FREQUENCY      # 244.14 us before the update
RESTART_DELAY_NS = NS_PER_SECOND // 2              # first update after divider reset
BASE_MEMORY_KIB = 640
EXTENDED_MEMORY_LIMIT_KIB = 0xFC00
ABOVE_16M_LIMIT = 0xBF00
HARD_DISK_USER_TYPE = 47
BOOT_DEVICE_CODES = {"floppy": 1, "fd": 1, "a": 1, "hdd": 2, "hd": 2, "disk": 2, "c": 2,
                     "cdrom": 3, "cd": 3}
FPU_CPU_MODELS = ("80486", "486", "pentium")

EPOCH = datetime.datetime(1970, 1, 1)
EPOCH_ORDINAL = EPOCH.toordinal()
MIN_SECONDS = int((datetime.datetime(1, 1, 1) - EPOCH).total_seconds())
MAX_SECONDS = int((datetime.datetime(9999, 12, 31, 23, 59, 59) - EPOCH).total_seconds())


def parse_start_time(text: str) -> int:
    """An ISO date-time ("2026-01-01T00:00:00") as seconds since 1970 (wall-clock
    fields, no time zone: the PC RTC holds local time)."""
    value = datetime.datetime.fromisoformat(text.strip().rstrip("Zz"))
    return int((value.replace(tzinfo=None, microsecond=0) - EPOCH).total_seconds())


def format_time(seconds: int) -> str:
    return (EPOCH + datetime.timedelta(seconds=seconds)).isoformat()


def to_bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


def from_bcd(value: int) -> int:
    return (value >> 4) * 10 + (value & 0x0F)


def calendar_fields(seconds: int) -> Dict[str, int]:
    """Calendar fields of an RTC time; day of week 1-7 with Sunday = 1 (PC BIOS)."""
    moment = EPOCH + datetime.timedelta(seconds=max(MIN_SECONDS, min(MAX_SECONDS, seconds)))
    return {"second": moment.second, "minute": moment.minute, "hour": moment.hour,
            "weekday": (moment.weekday() + 1) % 7 + 1, "day": moment.day,
            "month": moment.month, "year": moment.year}


def seconds_from_fields(year: int, month: int, day: int, hour: int, minute: int,
                        second: int) -> int:
    """Fields as a guest wrote them, normalised the way C's mktime does (month 13 is
    January of the next year, day 0 the last day of the previous month), so garbage
    in the registers gives some time rather than an error."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    year = max(1, min(9999, year))
    days = datetime.date(year, month, 1).toordinal() - EPOCH_ORDINAL + day - 1
    total = days * 86400 + hour * 3600 + minute * 60 + second
    return max(MIN_SECONDS, min(MAX_SECONDS, total))


@dataclasses.dataclass
class CMOSState:
    """The 128 bytes plus the model of the running clock."""

    ram: bytearray = dataclasses.field(default_factory=lambda: bytearray(CMOS_SIZE))
    index: int = 0
    nmi_masked: bool = False
    origin_ns: int = 0          # a second boundary of the divider chain (virtual ns)
    origin_seconds: int = 0     # the RTC time at origin_ns; the frozen time when stopped
    time_written: bool = False  # time registers written while SET: load them when SET clears
    start_applied: bool = False  # an "rtc-start" input set the clock since power-on


class CMOS(Component):
    """MC146818A RTC with the 114 bytes of battery-backed RAM of a PC/AT."""

    OPTIONS = {
        "start": Option("str", "host", 'RTC time at power-on: "host" (host local time, taken '
                        'once) or an ISO time such as "2026-01-01T00:00:00" (reproducible)'),
        "irq": Option("int", RTC_IRQ, "IRQ line", minimum=0, maximum=15),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.irq = options["irq"]
        self.from_host = options["start"] == "host"
        if self.from_host:
            # The one read of host time; posted as an "rtc-start" input at power-on.
            self.start_time = datetime.datetime.now().replace(microsecond=0).isoformat()
        else:
            self.start_time = options["start"]
        try:
            self.start_seconds = parse_start_time(self.start_time)
        except ValueError:
            raise ProfileError("component", f"{name}.start",
                               f'expected "host" or an ISO time such as 2026-01-01T00:00:00, '
                               f"got {self.start_time!r}") from None
        self.state = CMOSState()
        self._powered = False       # the CMOS battery: only the first reset is a power-on
        self._periodic_event: Optional[Event] = None
        self._update_event: Optional[Event] = None
        self.bus.register_io(INDEX_PORT, DATA_PORT, self._read_port, self._write_port, name)
        machine.register_input(START_INPUT, self._apply_start_input)

    # ------------------------------------------------------------------ reset
    def reset(self) -> None:
        """Power-on builds the CMOS contents; a later reset only does what the RESET
        pin does (clear PIE/AIE/UIE and the flags): the RAM is battery-backed."""
        if not self._powered:
            self._power_on()
            self._powered = True
        else:
            state = self.state
            state.index = 0
            state.nmi_masked = False
            state.ram[REG_B] &= ~B_CLEARED_BY_RESET & 0xFF
            state.ram[REG_C] = 0
        self._update_irq()
        self._reschedule()

    def _power_on(self) -> None:
        state = self.state = CMOSState()
        ram = state.ram
        ram[REG_A] = DEFAULT_A
        ram[REG_B] = DEFAULT_B
        ram[REG_D] = D_VRT
        state.origin_ns = 0
        state.origin_seconds = self.start_seconds
        self._fill_bios_fields()
        self._sync_time_registers()
        self.update_checksum()
        if self.from_host:
            # Applied before the first instruction; a recording captures it from there.
            self.machine.post_input(START_INPUT, {"time": self.start_time})

    def _apply_start_input(self, data: Any) -> bool:
        """Set the start time: the RTC shows start + virtual time.  Only the first
        "rtc-start" after power-on counts, so in a replay the recorded start (applied
        first, at instruction 0) wins over the one the replaying host posts."""
        if self.state.start_applied:
            return True
        self.state.start_applied = True
        self.start_time = str(data["time"])
        self.start_seconds = parse_start_time(self.start_time)
        state = self.state
        if self._running():
            state.origin_ns = 0
            state.origin_seconds = self.start_seconds
        else:
            state.origin_seconds = self.start_seconds + self.clock.now() // NS_PER_SECOND
        self._sync_time_registers()
        self._reschedule()
        return True

    def _fill_bios_fields(self) -> None:
        """The fields a PC BIOS and operating systems read, as Bochs fills them."""
        ram = self.state.ram
        media = self.machine.media
        # a drive keeps its type while it is empty or holds another format (core/removable.py)
        floppy_types = [self.machine.drives.drive_type(name) for name in ("fda", "fdb")]
        floppies = sum(1 for floppy_type in floppy_types if floppy_type)
        ram[REG_FLOPPY_TYPES] = (floppy_types[0] << 4) | floppy_types[1]
        equipment = 0
        if floppies:
            equipment |= 0x01 | ((floppies - 1) << 6)
        if self._has_fpu():
            equipment |= 0x02
        ram[REG_EQUIPMENT] = equipment      # bits 5-4 = 00: EGA/VGA display
        for position, (drive, type_register, parameters) in enumerate(
                (("hda", REG_HD0_EXTENDED_TYPE, REG_HD0_PARAMETERS),
                 ("hdb", REG_HD1_EXTENDED_TYPE, REG_HD1_PARAMETERS))):
            disk = media.get(drive)
            if disk is None or disk.kind != "hdd":
                continue
            ram[REG_HARD_DISK_TYPES] |= 0xF0 >> (4 * position)
            ram[type_register] = HARD_DISK_USER_TYPE
            self._write_disk_parameters(parameters, disk.cylinders, disk.heads, disk.spt)
        self._write_word(REG_BASE_MEMORY, BASE_MEMORY_KIB)
        ram_kib = self.bus.ram_size // 1024
        extended = min(max(ram_kib - 1024, 0), EXTENDED_MEMORY_LIMIT_KIB)
        self._write_word(REG_EXTENDED_MEMORY, extended)
        self._write_word(REG_EXTENDED_MEMORY_2, extended)
        self._write_word(REG_MEMORY_ABOVE_16M, min(max(ram_kib - 16384, 0) // 64, ABOVE_16M_LIMIT))
        self._fill_boot_order()

    def _write_disk_parameters(self, base: int, cylinders: int, heads: int, spt: int) -> None:
        """User-defined drive type 47 block: cylinders, heads, write precompensation
        (none), control byte, landing zone, sectors per track."""
        cylinders = min(cylinders, 0xFFFF)
        ram = self.state.ram
        self._write_word(base, cylinders)
        ram[base + 2] = heads & 0xFF
        self._write_word(base + 3, 0xFFFF)
        ram[base + 5] = 0xC0 | (0x08 if heads > 8 else 0)
        self._write_word(base + 6, cylinders)
        ram[base + 8] = spt & 0xFF

    def _fill_boot_order(self) -> None:
        bios = self.machine.components.get("bios")
        order = list(getattr(bios, "options", {}).get("boot") or []) if bios is not None else []
        codes = [BOOT_DEVICE_CODES.get(str(item).lower(), 0) for item in order][:3]
        codes += [0] * (3 - len(codes))
        ram = self.state.ram
        ram[REG_BOOT_ORDER_1_2] = codes[0] | (codes[1] << 4)
        ram[REG_BOOT_ORDER_3] = codes[2] << 4
        ram[REG_BOOT_FLAGS] = 0x20 if codes[0] == BOOT_DEVICE_CODES["floppy"] else 0x00

    def _has_fpu(self) -> bool:
        cpu = self.machine.components.get("cpu")
        model = str(getattr(cpu, "options", {}).get("model", "")) if cpu is not None else ""
        return model.lower() in FPU_CPU_MODELS

    def _write_word(self, register: int, value: int) -> None:
        self.state.ram[register] = value & 0xFF
        self.state.ram[register + 1] = (value >> 8) & 0xFF

    def update_checksum(self) -> None:
        """The AT BIOS checksum: the 16-bit sum of 0x10-0x2D, high byte first."""
        ram = self.state.ram
        total = sum(ram[CHECKSUM_FIRST:CHECKSUM_LAST + 1])
        ram[REG_CHECKSUM_HIGH] = (total >> 8) & 0xFF
        ram[REG_CHECKSUM_LOW] = total & 0xFF

    # ------------------------------------------------------------------ clock model
    def _running(self) -> bool:
        """The divider chain counts: DV = 010 (or one of the test modes 011-101)."""
        divider = (self.state.ram[REG_A] & A_DIVIDER) >> DIVIDER_SHIFT
        return 2 <= divider <= 5

    def current_seconds(self) -> int:
        """The RTC time now, as seconds since 1970."""
        state = self.state
        if not self._running():
            return state.origin_seconds
        return state.origin_seconds + (self.clock.now() - state.origin_ns) // NS_PER_SECOND

    def _set_current_seconds(self, seconds: int) -> None:
        """Set the time, keeping the divider phase (the next update still comes at the
        next second boundary, as when a guest writes the registers)."""
        state = self.state
        if self._running():
            elapsed = (self.clock.now() - state.origin_ns) // NS_PER_SECOND
            state.origin_seconds = seconds - elapsed
        else:
            state.origin_seconds = seconds

    def _next_boundary(self) -> int:
        """Virtual time of the next second update after now."""
        origin = self.state.origin_ns
        return origin + ((self.clock.now() - origin) // NS_PER_SECOND + 1) * NS_PER_SECOND

    def update_in_progress(self) -> bool:
        state = self.state
        if not self._running() or state.ram[REG_B] & B_SET:
            return False
        return (self.clock.now() - state.origin_ns) % NS_PER_SECOND >= NS_PER_SECOND - UIP_NS

    # ------------------------------------------------------------------ register encoding
    def _encode(self, value: int) -> int:
        return value if self.state.ram[REG_B] & B_DM_BINARY else to_bcd(value)

    def _decode(self, value: int) -> int:
        return value if self.state.ram[REG_B] & B_DM_BINARY else from_bcd(value)

    def _encode_time(self, seconds: int) -> None:
        fields = calendar_fields(seconds)
        ram = self.state.ram
        encode = self._encode
        ram[REG_SECONDS] = encode(fields["second"])
        ram[REG_MINUTES] = encode(fields["minute"])
        hour = fields["hour"]
        if ram[REG_B] & B_24_HOUR:
            ram[REG_HOURS] = encode(hour)
        else:
            ram[REG_HOURS] = encode(hour % 12 or 12) | (HOUR_PM if hour >= 12 else 0)
        ram[REG_DAY_OF_WEEK] = encode(fields["weekday"])
        ram[REG_DAY_OF_MONTH] = encode(fields["day"])
        ram[REG_MONTH] = encode(fields["month"])
        ram[REG_YEAR] = encode(fields["year"] % 100)
        ram[REG_CENTURY] = ram[REG_PS2_CENTURY] = encode(fields["year"] // 100)

    def _decode_time(self) -> int:
        ram = self.state.ram
        decode = self._decode
        hour_register = ram[REG_HOURS]
        if ram[REG_B] & B_24_HOUR:
            hour = decode(hour_register)
        else:
            hour = decode(hour_register & ~HOUR_PM & 0xFF) % 12
            if hour_register & HOUR_PM:
                hour += 12
        year = decode(ram[REG_CENTURY]) * 100 + decode(ram[REG_YEAR])
        return seconds_from_fields(year, decode(ram[REG_MONTH]), decode(ram[REG_DAY_OF_MONTH]),
                                   hour, decode(ram[REG_MINUTES]), decode(ram[REG_SECONDS]))

    def _sync_time_registers(self) -> None:
        """Bring the guest-visible time registers up to now, unless SET froze them."""
        if not self.state.ram[REG_B] & B_SET:
            self._encode_time(self.current_seconds())

    # ------------------------------------------------------------------ ports
    def _read_port(self, port: int, size: int) -> int:
        if port == INDEX_PORT:
            return 0xFF         # the index register is write-only on AT boards
        return self.read_register(self.state.index)

    def _write_port(self, port: int, size: int, value: int) -> None:
        if port == INDEX_PORT:
            self.state.index = value & INDEX_MASK
            self.state.nmi_masked = bool(value & NMI_MASK_BIT)
        else:
            self.write_register(self.state.index, value)

    @property
    def nmi_masked(self) -> bool:
        return self.state.nmi_masked

    def read_register(self, register: int) -> int:
        """What the guest reads from a register (with its side effects)."""
        ram = self.state.ram
        if register in TIME_REGISTERS:
            self._sync_time_registers()
            return ram[register]
        if register == REG_A:
            return (ram[REG_A] & ~A_UIP & 0xFF) | (A_UIP if self.update_in_progress() else 0)
        if register == REG_C:
            value = ram[REG_C]
            ram[REG_C] = 0
            self._update_irq()
            return value
        return ram[register]

    def write_register(self, register: int, value: int) -> None:
        ram = self.state.ram
        if register in TIME_REGISTERS:
            self._sync_time_registers()
            ram[register] = value
            if register == REG_PS2_CENTURY:
                ram[REG_CENTURY] = value
            if ram[REG_B] & B_SET:
                self.state.time_written = True
            else:
                self._set_current_seconds(self._decode_time())
                self._sync_time_registers()
                self._reschedule()
        elif register == REG_A:
            self._write_status_a(value)
        elif register == REG_B:
            self._write_status_b(value)
        elif register in (REG_C, REG_D):
            return      # read-only
        else:
            ram[register] = value

    def _write_status_a(self, value: int) -> None:
        was_running = self._running()
        seconds = self.current_seconds()
        state = self.state
        state.ram[REG_A] = value & ~A_UIP & 0xFF
        running = self._running()
        if was_running and not running:
            state.origin_seconds = seconds
        elif running and not was_running:
            state.origin_ns = self.clock.now() + RESTART_DELAY_NS - NS_PER_SECOND
        self._reschedule()

    def _write_status_b(self, value: int) -> None:
        state = self.state
        ram = state.ram
        old = ram[REG_B]
        if value & B_SET:
            value &= ~B_UIE & 0xFF      # datasheet: SET clears UIE
        self._sync_time_registers()
        shown = self._decode_time()     # the registers' time in the old format
        ram[REG_B] = value
        if (old ^ value) & (B_DM_BINARY | B_24_HOUR):
            self._encode_time(shown)
        if old & B_SET and not value & B_SET and state.time_written:
            self._set_current_seconds(shown)
            state.time_written = False
        self._sync_time_registers()
        self._update_irq()
        self._reschedule()

    # ------------------------------------------------------------------ interrupts
    def _update_irq(self) -> None:
        """IRQF follows the enabled flags; IRQ 8 is high while IRQF is set."""
        ram = self.state.ram
        flags = ram[REG_C] & (C_PF | C_AF | C_UF)
        enables = ram[REG_B] & (B_PIE | B_AIE | B_UIE)
        if flags & enables:     # the C flag bits line up with the B enable bits
            ram[REG_C] = flags | C_IRQF
        else:
            ram[REG_C] = flags
        self.bus.set_irq(self.irq, 1 if ram[REG_C] & C_IRQF else 0)

    def _periodic_ticks(self) -> Optional[int]:
        """Input-clock cycles per periodic interrupt for the rate in status A, or None
        when off (rate 0, or the divider is not running).  Rates 1 and 2 act as 8 and 9."""
        rate = self.state.ram[REG_A] & A_RATE
        if rate == 0 or not self._running():
            return None
        if rate <= 2:
            rate += 7
        return 1 << (rate - 1)

    def periodic_frequency(self) -> Optional[float]:
        """Periodic interrupts per second at the current rate (None when off)."""
        ticks = self._periodic_ticks()
        return None if ticks is None else INPUT_FREQUENCY / ticks

    def _next_periodic_edge(self) -> Optional[int]:
        """The first periodic edge after now.  Edge k is at origin + k * ticks / 32768 s
        (rounded up to a whole ns): aligned to the divider chain, so a run restored
        from a snapshot sees the same edges."""
        ticks = self._periodic_ticks()
        if ticks is None:
            return None
        origin = self.state.origin_ns
        period_scale = ticks * NS_PER_SECOND
        index = (self.clock.now() - origin) * INPUT_FREQUENCY // period_scale + 1
        return origin - (-index * period_scale // INPUT_FREQUENCY)

    def _reschedule(self) -> None:
        """(Re)plan the periodic and update events from the registers and the model."""
        for event in (self._periodic_event, self._update_event):
            if event is not None:
                event.cancel()
        self._periodic_event = self._update_event = None
        self._schedule_periodic()
        self._schedule_update()

    def _schedule_periodic(self) -> None:
        if self.state.ram[REG_B] & B_PIE:
            edge = self._next_periodic_edge()
            if edge is not None:
                self._periodic_event = self.clock.schedule(edge, self._periodic_tick)

    def _schedule_update(self) -> None:
        status_b = self.state.ram[REG_B]
        if status_b & (B_UIE | B_AIE) and not status_b & B_SET and self._running():
            self._update_event = self.clock.schedule(self._next_boundary(), self._update_tick)

    def _periodic_tick(self) -> None:
        self._periodic_event = None
        self.state.ram[REG_C] |= C_PF
        self._update_irq()
        self._schedule_periodic()

    def _update_tick(self) -> None:
        """End of an update cycle: the registers show the new second."""
        self._update_event = None
        ram = self.state.ram
        self._sync_time_registers()
        if ram[REG_B] & B_UIE:
            ram[REG_C] |= C_UF
        if ram[REG_B] & B_AIE and self._alarm_matches():
            ram[REG_C] |= C_AF
        self._update_irq()
        self._schedule_update()

    def _alarm_matches(self) -> bool:
        ram = self.state.ram
        for alarm, current in ALARM_REGISTERS:
            if ram[alarm] & ALARM_DONT_CARE != ALARM_DONT_CARE and ram[alarm] != ram[current]:
                return False
        return True

    # ------------------------------------------------------------------ state
    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(CMOSState, state)
        self._powered = True
        self._periodic_event = self._update_event = None
        self._update_irq()
        self._reschedule()

