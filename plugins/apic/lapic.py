"""The local APIC of a P6-family processor: one component per CPU.

Followed: the Intel SDM vol. 3A chapter 10 ("Advanced Programmable Interrupt
Controller": 10.4 local APIC registers and the IA32_APIC_BASE MSR, 10.5 the local
vector table, the APIC timer and the ESR, 10.6 the ICR and IPIs, 10.8 IRR/ISR/TMR,
TPR/PPR/APR, EOI and the spurious vector), QEMU `hw/intc/apic.c` (timer divide
decoding, the order PIC/APIC vectors are taken in) and Bochs `cpu/apic.cc`.

Implemented: ID, version, TPR, APR, PPR, EOI, LDR, DFR (flat and cluster
models), the spurious-interrupt vector register with software enable and focus
bit, ISR/TMR/IRR, ESR (write-before-read, send/receive illegal vector), the ICR
(fixed, lowest priority, NMI, INIT, INIT level de-assert, start-up; no shorthand,
self, all including self, all excluding self; physical and logical destinations),
LVT timer / performance counter / LINT0 / LINT1 / error, and the timer (one-shot,
periodic, divide 1..128) counting at `bus_hz` on the machine's virtual clock.

The board (`docs/devices.md`, "Local APIC"): the 8259A's INT output reaches LINT0 of
the processor whose APIC has `bsp: true`.  While that APIC is disabled
(IA32_APIC_BASE bit 11 clear) or software-disabled (SVR bit 8 clear) LINT0 is the
plain INTR pin, so a guest that never touches the APIC sees the PC/AT as before;
once enabled, the LINT0 entry decides (ExtINT: the 8259A supplies the vector;
fixed: the LVT vector; NMI; masked: nothing).  The bootstrap processor's LINT0
entry resets to ExtINT, unmasked, as QEMU's does (the SDM's reset value is masked;
a BIOS sets virtual-wire mode), so enabling the APIC keeps the 8259A's interrupts.

Modelling choices and open questions:

* The timer counts down from the initial count at bus_hz / divide; the current
  count is worked out from virtual time when read, and one clock event is
  scheduled for the next expiry only while the LVT timer entry is unmasked.
  Expiries that pass while it is masked are lost (the SDM's masked timer
  "continues counting" but delivers nothing).
* A divide-configuration write while counting keeps the current count and goes
  on at the new rate.
* Relocating the registers through IA32_APIC_BASE is not modelled: the base field
  is stored, the registers stay at the profile's `base`.  Clearing bit 11
  disables the APIC until the next reset (P6: it cannot be re-enabled).
* An INIT IPI resets the processor (`apic_init()`): an application processor then
  waits for a start-up IPI (`apic_startup(vector)`), the bootstrap processor runs
  from the reset vector.  SMI is ignored.
* Each processor's APIC answers at the same address: the first APIC built maps
  the page and passes every access to the APIC of the processor running now.
* Writes narrower than 32 bits store the bytes into the register they hit;
  reads of unimplemented offsets return 0.
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from pcmachine.clock import NS_PER_SECOND
from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.hookspecs import hookimpl

DEFAULT_BASE = 0xFEE00000
MSR_BSP = 1 << 8
MSR_ENABLE = 1 << 11
MSR_BASE_MASK = 0xFFFFFF000          # 36-bit physical addresses (P6)
VERSION = 0x00040014                 # version 14h, max LVT entry 4 (timer, perf, LINT0/1, error)

# Register offsets (bits 4-11 of the address)
ID, VER, TPR, APR, PPR, EOI, RRD, LDR, DFR, SVR = (0x020, 0x030, 0x080, 0x090, 0x0A0, 0x0B0,
                                                   0x0C0, 0x0D0, 0x0E0, 0x0F0)
ISR_BASE, TMR_BASE, IRR_BASE, ESR = 0x100, 0x180, 0x200, 0x280
ICR_LOW, ICR_HIGH = 0x300, 0x310
LVT_TIMER, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR = 0x320, 0x340, 0x350, 0x360, 0x370
TIMER_INITIAL, TIMER_CURRENT, TIMER_DIVIDE = 0x380, 0x390, 0x3E0

#: Register map: offset -> name (reads of other offsets return 0).
REGISTERS = {
    ID: "ID", VER: "version", TPR: "TPR", APR: "APR", PPR: "PPR", EOI: "EOI", RRD: "RRD",
    LDR: "LDR", DFR: "DFR", SVR: "SVR", ESR: "ESR", ICR_LOW: "ICR low", ICR_HIGH: "ICR high",
    LVT_TIMER: "LVT timer", LVT_PERF: "LVT performance counter", LVT_LINT0: "LVT LINT0",
    LVT_LINT1: "LVT LINT1", LVT_ERROR: "LVT error", TIMER_INITIAL: "timer initial count",
    TIMER_CURRENT: "timer current count", TIMER_DIVIDE: "timer divide configuration",
}
REGISTERS.update({ISR_BASE + 16 * i: f"ISR{i}" for i in range(8)})
REGISTERS.update({TMR_BASE + 16 * i: f"TMR{i}" for i in range(8)})
REGISTERS.update({IRR_BASE + 16 * i: f"IRR{i}" for i in range(8)})

#: LVT entries in the order of `LAPICState.lvt`, with their writable bits
LVT_OFFSETS = (LVT_TIMER, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR)
LVT_WRITABLE = {LVT_TIMER: 0x300FF, LVT_PERF: 0x107FF, LVT_LINT0: 0x1A7FF,
                LVT_LINT1: 0x1A7FF, LVT_ERROR: 0x100FF}
LVT_MASKED = 1 << 16
LVT_PERIODIC = 1 << 17
LVT_LEVEL = 1 << 15

SVR_ENABLE = 1 << 8
SVR_WRITABLE = 0x3FF
SVR_HARDWIRED = 0x0F                 # P6: vector bits 0-3 read as 1
ICR_WRITABLE = 0xCCFFF
ICR_LOGICAL = 1 << 11
ICR_ASSERT = 1 << 14
ICR_LEVEL = 1 << 15

# Delivery modes (ICR, LVT, I/O APIC redirection entries)
FIXED, LOWEST, SMI, NMI, INIT, STARTUP, EXTINT = 0, 1, 2, 4, 5, 6, 7
SHORTHAND_NONE, SHORTHAND_SELF, SHORTHAND_ALL, SHORTHAND_OTHERS = 0, 1, 2, 3

ESR_SEND_ILLEGAL = 1 << 5
ESR_RECEIVE_ILLEGAL = 1 << 6


def timer_divisor(divide: int) -> int:
    """The divide configuration register (bits 0, 1, 3) as a divisor: 2..128, 1."""
    value = (divide & 3) | ((divide >> 1) & 4)
    return 1 << ((value + 1) & 7)


@dataclass
class LAPICState:
    """Guest-visible registers; the 256-bit ISR/TMR/IRR are ints (bit n = vector n)."""

    apic_base: int = DEFAULT_BASE | MSR_ENABLE
    apic_id: int = 0
    tpr: int = 0
    ldr: int = 0
    dfr: int = 0xFFFFFFFF
    svr: int = 0xFF
    isr: int = 0
    tmr: int = 0
    irr: int = 0
    esr: int = 0
    esr_pending: int = 0
    icr_low: int = 0
    icr_high: int = 0
    lvt: List[int] = field(default_factory=lambda: [LVT_MASKED] * len(LVT_OFFSETS))
    timer_initial: int = 0
    timer_divide: int = 0
    timer_start_ns: int = 0           # when the count was (re)loaded
    timer_fired: int = 0              # expiries handled since then
    timer_deadline_ns: int = -1       # the scheduled expiry (-1: none)
    lint0_level: bool = False         # the 8259A's INT as it reaches LINT0
    extint_level: bool = False        # an ExtINT request from an I/O APIC
    intr_output: bool = False         # what this APIC drives on the CPU's INTR


class LocalAPIC(Component):
    """One processor's local APIC: registers at `base`, interrupts into `cpu`."""

    OPTIONS = {
        "base": Option("int", DEFAULT_BASE, "physical address of the registers (4 KiB)",
                       minimum=0, maximum=0xFFFFF000),
        "id": Option("int", 0, "initial APIC ID", minimum=0, maximum=254),
        "bsp": Option("bool", True, "this is the bootstrap processor's APIC (the 8259A "
                                    "reaches its LINT0; IA32_APIC_BASE bit 8)"),
        "bus_hz": Option("int", 1_000_000_000, "APIC timer input clock (before the divider), Hz",
                         minimum=1),
        "cpu": Option("str", "cpu", "the CPU component this APIC belongs to"),
    }

    @classmethod
    def instances(cls, name: str, options: Dict[str, Any],
                  entries: Dict[str, Dict[str, Any]]) -> List[Tuple[str, Dict[str, Any]]]:
        """One APIC per processor of the CPU entry (`cpu: {count: N}`): name1... for
        cpu1..., with consecutive IDs."""
        cpu_entry = entries.get(options["cpu"]) or {}
        count = (cpu_entry.get("options") or {}).get("count", 1)
        return [(name, options)] + [
            (f"{name}{index}", dict(options, id=options["id"] + index, bsp=False,
                                    cpu=f"{options['cpu']}{index}"))
            for index in range(1, count)]

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.base = options["base"]
        self.bus_hz = options["bus_hz"]
        self.is_bsp = options["bsp"]
        self.cpu: Any = None
        self.pic: Any = None                 # the 8259A answering ExtINT acknowledges
        self.peers: List["LocalAPIC"] = [self]
        self.ioapics: List[Any] = []         # told of EOIs of level-triggered vectors
        #: set by an I/O APIC whose IMCR takes the 8259A off LINT0 (symmetric I/O mode)
        self.pic_sink: Optional[Callable[[bool], None]] = None
        self._timer_event = None
        self.state = LAPICState()
        # Every processor sees its own APIC at the same address: the first APIC maps
        # the page and hands each access to the APIC of the processor running now.
        if not any(isinstance(c, LocalAPIC) and c.base == self.base
                   for c in machine.components.values()):
            self.bus.map_mmio(self.base, 0x1000, name, self._current_read, self._current_write)

    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        """Sit between the 8259A and the CPU, and find the other APICs."""
        self.cpu = machine.components.get(self.options["cpu"]) or machine.cpu
        self.cpu.lapic = self
        self.peers = [c for c in machine.components.values() if isinstance(c, LocalAPIC)]
        if self.is_bsp:
            self.pic = self.bus.interrupt_controller
            self.bus.interrupt_controller = self
            self.bus.intr_listener = self.pic_intr
        self._update()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Power-on: ID from the profile, enabled in IA32_APIC_BASE, software-disabled,
        every LVT entry masked but the bootstrap processor's LINT0 (`_virtual_wire`);
        the LINT0 pin level is kept (the 8259A drives it)."""
        old = self.state
        self.state = LAPICState(apic_id=self.options["id"], lint0_level=old.lint0_level,
                                intr_output=old.intr_output,
                                apic_base=self.base | MSR_ENABLE | (MSR_BSP if self.is_bsp else 0))
        self._virtual_wire()
        self._schedule_timer()
        self._update()

    def init_reset(self) -> None:
        """An INIT: everything as at power-on except the ID and IA32_APIC_BASE."""
        old = self.state
        self.state = LAPICState(apic_id=old.apic_id, apic_base=old.apic_base,
                                lint0_level=old.lint0_level, intr_output=old.intr_output)
        self._virtual_wire()
        self._schedule_timer()
        self._update()

    def _virtual_wire(self) -> None:
        """The bootstrap processor's LINT0 starts as ExtINT, unmasked, as QEMU resets
        it ("set by BIOS typically"): a guest that sets SVR's enable bit without
        programming LINT0 (the Bochs BIOS's rombios32, many hobby kernels) keeps the
        8259A's interrupts, as under QEMU and Bochs (whose 8259A bypasses LINT0)."""
        if self.is_bsp:
            self.state.lvt[2] = EXTINT << 8

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        """Load the registers, re-schedule the timer expiry and re-drive INTR."""
        if self._timer_event is not None:
            self._timer_event.cancel()
            self._timer_event = None
        self.state = dict_to_state(LAPICState, state)
        if self.state.timer_deadline_ns >= 0:
            self._timer_event = self.clock.schedule(self.state.timer_deadline_ns, self._timer_expired)
        if self.cpu is not None:
            self.cpu.set_intr(self.state.intr_output)

    # ------------------------------------------------------------------ status
    @property
    def hw_enabled(self) -> bool:
        return bool(self.state.apic_base & MSR_ENABLE)

    @property
    def enabled(self) -> bool:
        """Globally and software enabled: only then are interrupts accepted."""
        return bool(self.state.apic_base & MSR_ENABLE) and bool(self.state.svr & SVR_ENABLE)

    @property
    def apic_id(self) -> int:
        return self.state.apic_id

    # ------------------------------------------------------------------ IA32_APIC_BASE
    def read_base_msr(self) -> int:
        return self.state.apic_base

    def write_base_msr(self, value: int) -> bool:
        """WRMSR 1Bh; False when reserved bits are set (the CPU raises #GP)."""
        if value & ~(MSR_BASE_MASK | MSR_ENABLE | MSR_BSP):
            return False
        state = self.state
        enable = value & MSR_ENABLE and state.apic_base & MSR_ENABLE
        state.apic_base = (value & MSR_BASE_MASK) | (state.apic_base & MSR_BSP) | (
            MSR_ENABLE if enable else 0)
        if not enable:
            self.init_reset()
            self.state.apic_base &= ~MSR_ENABLE
            self._update()
        return True

    # ------------------------------------------------------------------ priorities
    def _ppr(self) -> int:
        """Processor priority: TPR, or the in-service class when that is higher."""
        state = self.state
        isrv = state.isr.bit_length() - 1 if state.isr else 0
        if (state.tpr >> 4) >= (isrv >> 4):
            return state.tpr
        return isrv & 0xF0

    def _apr(self) -> int:
        state = self.state
        isrv = state.isr.bit_length() - 1 if state.isr else 0
        irrv = state.irr.bit_length() - 1 if state.irr else 0
        tpr = state.tpr
        if (tpr >> 4) >= (irrv >> 4) and (tpr >> 4) > (isrv >> 4):
            return tpr
        return max(tpr & 0xF0, isrv & 0xF0, irrv & 0xF0)

    def _deliverable(self) -> int:
        """The IRR vector the CPU would take now, or -1."""
        irr = self.state.irr
        if not irr or not self.enabled:
            return -1
        vector = irr.bit_length() - 1
        return vector if (vector & 0xF0) > (self._ppr() & 0xF0) else -1

    def _pic_passes(self) -> bool:
        """The 8259A's INT reaches INTR: APIC disabled, or LINT0 unmasked ExtINT."""
        if not self.is_bsp or self.pic_sink is not None:
            return False
        if not self.enabled:
            return True
        lint0 = self.state.lvt[2]
        return not lint0 & LVT_MASKED and (lint0 >> 8) & 7 == EXTINT

    def _update(self) -> None:
        """Drive the CPU's INTR; every change of the APIC's output goes through here."""
        state = self.state
        level = self._deliverable() >= 0 or (state.lint0_level and self._pic_passes()) or (
            state.extint_level and self.enabled)
        state.intr_output = level
        if self.cpu is not None and getattr(self.cpu, "intr_line", None) != level:
            self.cpu.set_intr(level)

    # ------------------------------------------------------------------ the CPU side
    def acknowledge(self) -> int:
        """The INTA cycle: the highest deliverable APIC vector goes in service; else
        the 8259A answers (ExtINT, or LINT0 as INTR); else the spurious vector."""
        state = self.state
        vector = self._deliverable()
        if vector >= 0:
            bit = 1 << vector
            state.irr &= ~bit
            state.isr |= bit
            self._update()
            return vector
        if self.pic is not None and ((state.lint0_level and self._pic_passes())
                                     or (state.extint_level and self.enabled)):
            vector = self.pic.acknowledge()
            self._update()
            return vector
        self._update()
        return state.svr & 0xFF

    def pic_intr(self, level: bool) -> None:
        """The 8259A's INT output (bus.intr_listener on the bootstrap processor)."""
        level = bool(level)
        if self.pic_sink is not None:
            self.pic_sink(level)
            return
        self.lint_input(0, level)

    def lint_input(self, pin: int, level: bool) -> None:
        """LINT0/LINT1 pin `pin` driven to `level`: edges go through the LVT entry."""
        state = self.state
        rising = False
        if pin == 0:
            rising = level and not state.lint0_level
            state.lint0_level = level
        else:
            rising = level
        entry = state.lvt[2 + pin]
        if rising and self.enabled and not entry & LVT_MASKED:
            mode = (entry >> 8) & 7
            if mode == FIXED:
                self.accept(entry & 0xFF, bool(entry & LVT_LEVEL))
            elif mode == NMI:
                self.cpu.nmi()
        if pin == 0:
            self._update()

    # ------------------------------------------------------------------ accepting interrupts
    def accept(self, vector: int, level: bool = False) -> None:
        """A fixed interrupt arrives (LVT, IPI, I/O APIC message): into the IRR."""
        if not self.enabled:
            return
        if vector < 16:
            self._error(ESR_RECEIVE_ILLEGAL)
            return
        state = self.state
        bit = 1 << vector
        state.irr |= bit
        if level:
            state.tmr |= bit
        else:
            state.tmr &= ~bit
        self._update()

    def deliver(self, mode: int, vector: int, level: bool = False) -> None:
        """A message for this APIC in delivery mode `mode` (ICR or I/O APIC)."""
        if mode in (FIXED, LOWEST):
            self.accept(vector, level)
        elif mode == NMI:
            self.cpu.nmi()
        elif mode == INIT:
            self.init_reset()
            if hasattr(self.cpu, "apic_init"):
                self.cpu.apic_init()
        elif mode == STARTUP:
            if hasattr(self.cpu, "apic_startup"):
                self.cpu.apic_startup(vector)
        elif mode == EXTINT:
            self.state.extint_level = level
            self._update()

    def matches(self, destination: int, logical: bool) -> bool:
        """Whether a message for `destination` is for this APIC (SDM 10.6.2)."""
        state = self.state
        if not logical:
            return destination == 0xFF or destination == state.apic_id
        if destination == 0xFF:
            return True
        ldr = state.ldr >> 24
        if (state.dfr >> 28) == 0xF:                      # flat model
            return bool(ldr & destination)
        return (ldr >> 4) == (destination >> 4) and bool(ldr & destination & 0x0F)  # cluster

    def _error(self, bit: int) -> None:
        """Record an ESR error and interrupt through the LVT error entry; an
        illegal vector there is itself a receive-illegal-vector error (SDM 10.5.3),
        delivered to nobody."""
        state = self.state
        state.esr_pending |= bit
        entry = state.lvt[4]
        if not entry & LVT_MASKED:
            if (entry & 0xFF) >= 16:
                self.accept(entry & 0xFF)
            else:
                state.esr_pending |= ESR_RECEIVE_ILLEGAL

    def _eoi(self) -> None:
        """Clear the highest in-service vector; a level-triggered one is broadcast to
        the I/O APICs so that they clear remote IRR."""
        state = self.state
        if not state.isr:
            return
        vector = state.isr.bit_length() - 1
        bit = 1 << vector
        state.isr &= ~bit
        if state.tmr & bit:
            state.tmr &= ~bit
            for ioapic in self.ioapics:
                ioapic.eoi(vector)
        self._update()

    # ------------------------------------------------------------------ IPIs
    def _send_ipi(self) -> None:
        state = self.state
        low = state.icr_low
        mode = (low >> 8) & 7
        vector = low & 0xFF
        shorthand = (low >> 18) & 3
        if mode == INIT and low & ICR_LEVEL and not low & ICR_ASSERT:
            return                   # INIT level de-assert: arbitration IDs only
        if shorthand == SHORTHAND_SELF:
            targets = [self]
        elif shorthand == SHORTHAND_ALL:
            targets = list(self.peers)
        elif shorthand == SHORTHAND_OTHERS:
            targets = [apic for apic in self.peers if apic is not self]
        else:
            logical = bool(low & ICR_LOGICAL)
            targets = [apic for apic in self.peers
                       if apic.matches(state.icr_high >> 24, logical)]
        if mode == LOWEST and targets:
            targets = [lowest_priority(targets)]
        if any(apic is not self for apic in targets):
            self.machine.processors.yield_turn(self.clock, self.cpu)   # may restart the store
        if mode in (FIXED, LOWEST) and vector < 16:
            self._error(ESR_SEND_ILLEGAL)  # still sent: each receiver flags it (SDM 10.5.3)
        for apic in targets:
            apic.deliver(mode, vector, bool(low & ICR_LEVEL) and mode == FIXED)

    # ------------------------------------------------------------------ timer
    def _timer_ticks_ns(self, ticks: int) -> int:
        """Virtual nanoseconds for `ticks` counts at the current divide (rounded up)."""
        return -(-ticks * timer_divisor(self.state.timer_divide) * NS_PER_SECOND // self.bus_hz)

    def _timer_elapsed(self) -> int:
        state = self.state
        return (self.clock.now() - state.timer_start_ns) * self.bus_hz // (
            NS_PER_SECOND * timer_divisor(state.timer_divide))

    def timer_current(self) -> int:
        state = self.state
        initial = state.timer_initial
        if not initial:
            return 0
        elapsed = self._timer_elapsed()
        if state.lvt[0] & LVT_PERIODIC:
            return initial - elapsed % initial
        return max(0, initial - elapsed)

    def _cancel_timer(self) -> None:
        if self._timer_event is not None:
            self._timer_event.cancel()
            self._timer_event = None
        self.state.timer_deadline_ns = -1

    def _schedule_timer(self) -> None:
        """One clock event for the next expiry that would interrupt, if any."""
        self._cancel_timer()
        state = self.state
        initial = state.timer_initial
        if not initial or state.lvt[0] & LVT_MASKED:
            return
        if state.lvt[0] & LVT_PERIODIC:
            expiry = max(state.timer_fired, self._timer_elapsed() // initial) + 1
        elif state.timer_fired or self._timer_elapsed() >= initial:
            return
        else:
            expiry = 1
        state.timer_deadline_ns = state.timer_start_ns + self._timer_ticks_ns(expiry * initial)
        self._timer_event = self.clock.schedule(state.timer_deadline_ns, self._timer_expired)

    def _timer_expired(self) -> None:
        """The count reached zero: interrupt through the LVT timer entry; a
        periodic timer goes on from the initial count."""
        state = self.state
        self._timer_event = None
        state.timer_deadline_ns = -1
        initial = state.timer_initial
        if not initial:
            return
        state.timer_fired = max(state.timer_fired + 1, self._timer_elapsed() // initial)
        entry = state.lvt[0]
        if not entry & LVT_MASKED:
            self.accept(entry & 0xFF)
        if entry & LVT_PERIODIC:
            self._schedule_timer()

    def _write_timer_divide(self, value: int) -> None:
        state = self.state
        current = self.timer_current()
        state.timer_divide = value & 0xB
        if state.timer_initial:
            done = state.timer_initial - current     # counts already gone in this period
            state.timer_start_ns = self.clock.now() - self._timer_ticks_ns(done)
            state.timer_fired = 0
            self._schedule_timer()

    # ------------------------------------------------------------------ registers
    def _running_apic(self) -> "LocalAPIC":
        apic = getattr(self.machine.cpu, "lapic", None)
        return apic if apic is not None else self

    def _current_read(self, address: int, size: int) -> int:
        return self._running_apic().mmio_read(address, size)

    def _current_write(self, address: int, size: int, value: int) -> None:
        self._running_apic().mmio_write(address, size, value)

    def mmio_read(self, address: int, size: int) -> int:
        offset = address - self.base
        value = self.read_register(offset & 0xFF0)
        shift = (offset & 3) * 8
        return (value >> shift) & ((1 << (8 * size)) - 1)

    def mmio_write(self, address: int, size: int, value: int) -> None:
        offset = address - self.base
        register = offset & 0xFF0
        shift = (offset & 3) * 8
        if size < 4 or shift:
            mask = ((1 << (8 * size)) - 1) << shift
            value = (self.read_register(register) & ~mask) | ((value << shift) & mask)
        self.write_register(register, value & 0xFFFFFFFF)

    def read_register(self, offset: int) -> int:
        """The 32-bit register at `offset` (16-byte aligned) as the guest reads it."""
        state = self.state
        if ISR_BASE <= offset < IRR_BASE + 0x80:
            bank, index = divmod(offset - ISR_BASE, 0x80)
            bits = (state.isr, state.tmr, state.irr)[bank]
            return (bits >> (32 * (index >> 4))) & 0xFFFFFFFF
        if offset in LVT_OFFSETS:
            return state.lvt[LVT_OFFSETS.index(offset)]
        simple = {
            ID: state.apic_id << 24, VER: VERSION, TPR: state.tpr, LDR: state.ldr,
            DFR: state.dfr, SVR: state.svr, ESR: state.esr, ICR_LOW: state.icr_low,
            ICR_HIGH: state.icr_high, TIMER_INITIAL: state.timer_initial,
            TIMER_DIVIDE: state.timer_divide,
        }
        if offset in simple:
            return simple[offset]
        if offset == PPR:
            return self._ppr()
        if offset == APR:
            return self._apr()
        if offset == TIMER_CURRENT:
            return self.timer_current()
        return 0

    def write_register(self, offset: int, value: int) -> None:
        """A guest write of the 32-bit register at `offset`."""
        state = self.state
        if offset in LVT_OFFSETS:
            self._write_lvt(offset, value)
        elif offset == ID:
            state.apic_id = value >> 24
        elif offset == TPR:
            state.tpr = value & 0xFF
            self._update()
        elif offset == EOI:
            self._eoi()
        elif offset == LDR:
            state.ldr = value & 0xFF000000
        elif offset == DFR:
            state.dfr = value | 0x0FFFFFFF
        elif offset == SVR:
            self._write_svr(value)
        elif offset == ESR:
            state.esr, state.esr_pending = state.esr_pending, 0
        elif offset == ICR_HIGH:
            state.icr_high = value & 0xFF000000
        elif offset == ICR_LOW:
            state.icr_low = value & ICR_WRITABLE
            self._send_ipi()
        elif offset == TIMER_INITIAL:
            state.timer_initial = value
            state.timer_start_ns = self.clock.now()
            state.timer_fired = 0
            self._schedule_timer()
        elif offset == TIMER_DIVIDE:
            self._write_timer_divide(value)

    def _write_lvt(self, offset: int, value: int) -> None:
        """An LVT entry: a software-disabled APIC keeps every entry masked."""
        index = LVT_OFFSETS.index(offset)
        value &= LVT_WRITABLE[offset]
        if not self.state.svr & SVR_ENABLE:
            value |= LVT_MASKED
        self.state.lvt[index] = value
        if offset == LVT_TIMER:
            self._schedule_timer()
        elif offset == LVT_LINT0:
            self._update()

    def _write_svr(self, value: int) -> None:
        state = self.state
        state.svr = (value & SVR_WRITABLE) | SVR_HARDWIRED
        if not value & SVR_ENABLE:
            state.lvt = [entry | LVT_MASKED for entry in state.lvt]
            self._schedule_timer()
        self._update()


def lowest_priority(targets: List[LocalAPIC]) -> LocalAPIC:
    """Lowest-priority arbitration, deterministic: the lowest TPR, then the lowest ID."""
    return min(targets, key=lambda apic: (apic.state.tpr & 0xF0, apic.state.apic_id))
