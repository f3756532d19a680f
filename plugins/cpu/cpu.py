"""The x86 CPU component: registers, run loop, interrupts, host calls, state.

Models 8086 to Pentium in real mode (part 1); protected mode builds on the same
descriptor caches (`seg_sel/seg_base/seg_limit/seg_flags`), the single translation
point `translate()` and `CPUFault`.  Instructions are decoded once into closures
(`decoder.py`) cached by physical address; a closure takes the EIP of its
instruction and returns the EIP of the next one.  Arithmetic flags are lazy
(`alu.py`).  See docs/cpu.md.
"""

import weakref
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Set, Tuple

from pcmachine.bus import Bus
from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.errors import GuestError

from . import alu, debugregs, faults, interrupts, paging, protected, tier2
from .msr import MSRFile
from .sse_float import MXCSR_RESET
from .translations import Translations
from .fpu.unit import X87, X87State
from .blockrun import (DEFAULT_WARMUP, Runner, compile_loop_runner_unpeeled, make_loop_runner,
                       make_runner)
from .decoder import decode
from .memory import build_accessors
from .state import (AC, BreakBefore, CPUFault, CodeModified, LoopExit, RestartAlone, CPUState, CR0_AM, CR0_CACHE, CR0_ET,
                    CR0_PE, CR0_PG, CS, ESP, FLAG_BITS, GP, IF, IOPL, MODELS, NMI_VECTOR, REG8,
                    REG16, REG32, RF, SEGS, SS, SS_VECTOR, TF, VM, keeps_cpu_state)

#: Longest decoded block (instructions); bounds how late an interrupt is taken.
MAX_BLOCK = 16
MAX_INSTRUCTION_LENGTH = 15
#: Decoded blocks a processor keeps.  A block costs a few kilobytes of closures.
#: The Debian kernel's boot has some 60,000 blocks' worth of code live by its
#: crypto self-tests; at 32,768 it re-decoded hot pages and took 5 % longer
#: (docs/performance.md, Memory).
DEFAULT_CODE_CACHE_BLOCKS = 65536
CODE_BUCKET_SHIFT = 6        # code writes drop the blocks of 64-byte buckets
CONTROL = {"eip", "ip", "eflags", "flags", "cr0", "cr1", "cr2", "cr3", "cr4"}


class KeptRegime(NamedTuple):
    """What a processor keeps of a regime it left (`CPU.enter_regime`)."""

    accessors: Tuple[Callable[..., Any], ...]      # rd8, rd16, rd32, wr8, wr16, wr32
    code_cache16: Dict[int, Any]
    code_cache32: Dict[int, Any]
    limited_caches: Dict[Tuple[int, int, bool], Dict[int, Any]]


class CPU(Component):
    """An x86 processor (8086 .. Pentium integer core) driven by the machine's run loop."""

    # PyPy lays an object's attributes out as fixed fields only up to 80 of them;
    # past that every `cpu.x` is a dictionary lookup and the CPU loop runs several
    # times slower.  The processor's own state is therefore declared as slots
    # (fixed fields on both runtimes); `Component`'s attributes and anything a
    # plugin adds stay in the instance dictionary (tests/test_object_layout.py).
    __slots__ = (
        "block_alive", "block_buckets", "block_pages", "break_check", "break_offsets", "check_irq", "code32",
        "code_cache", "code_cache16", "code_cache32", "code_pages", "cpl", "cr",
        "cr4_writable", "dr", "dr_hits", "eip", "fetch_cache", "fetch_local", "fetch_mask", "fetch_owner", "flags", "fpu",
        "gdtr_base", "gdtr_limit", "generation", "halted", "has_fpu", "hooks",
        "hostcalls", "idtr_base", "idtr_limit", "inhibit_icount", "intr_line", "is_bsp",
        "lapic", "ldtr", "ldtr_base", "ldtr_limit", "lf_a", "lf_b", "lf_mask", "lf_op",
        "lf_res", "limited_caches", "loading", "magic_break", "max_blocks", "mlin", "model",
        "msrs", "mxcsr", "nmi_pending", "paging", "pause_ticks", "pdpte", "peers", "rd16", "rd32", "rd8",
        "regimes", "regs", "runner_warmup", "running", "seg_base", "seg_flags", "seg_limit", "seg_rlimit",
        "seg_sel", "seg_wlimit", "ss_load_icount", "stack32", "step_loop",
        "stop_requested", "store_restart", "storing", "tier2_threshold", "tier2_translated", "tlb_local", "xmm",
        "tlb_pages", "tlb_read", "tlb_supervisor", "tlb_system", "tlb_write", "tr", "tr_base", "tr_flags",
        "tr_limit", "traced", "translations",
        "tsc_offset", "waiting_sipi", "wr16", "wr32", "wr8",
    )

    OPTIONS = {
        "model": Option("str", "80486", "CPU generation and its documented differences",
                        choices=("8086", "80186", "80286", "80386", "80486", "pentium", "pentiumpro",
                                 "pentium2", "pentium3", "pentium4")),
        "count": Option("int", 1, "processors: the first is the bootstrap processor, the others "
                        "(named cpu1, cpu2, ...) wait for INIT and start-up IPIs", minimum=1,
                        maximum=16),
        "bsp": Option("bool", True, "the bootstrap processor (false: an application processor, "
                      "halted until a start-up IPI)"),
        "code_cache_blocks": Option("int", DEFAULT_CODE_CACHE_BLOCKS,
                                    "decoded blocks kept per processor (by physical "
                                    "address); beyond it the blocks of the page decoded "
                                    "into least recently are dropped", minimum=16),
        "fpu": Option("bool", None, "an x87 FPU is present (unset: from the 80486 on; "
                      "true on an 80286/80386 adds a 287/387)"),
        "pause_ticks": Option("int", 100, "instructions' worth of virtual time and TSC ticks "
                              "a PAUSE lets pass, never beyond the next device event (a "
                              "kernel's delay loop turns that many times fewer; 0: a plain "
                              "NOP; one processor only)", minimum=0),
        "runner_warmup": Option("int", None,
                                "runs of a decoded block through the shared loop runner "
                                "before it gets its own unrolled runner (unset: 0 under "
                                "CPython, 100000 under PyPy, docs/performance.md)", minimum=0),
        "tier2": Option("bool", True, "translate hot blocks into one Python function each "
                        "(the second CPU tier, docs/performance.md)"),
        "tier2_threshold": Option("int", None,
                                  "runs of a decoded block before tier 2 translates it "
                                  "(0: at its first run; unset: 20000 under CPython, 100000 "
                                  "under PyPy)", minimum=0),
        "tier2_share": Option("bool", True, "give a block the tier-2 translation of a block "
                              "that does the same elsewhere (a fork's copy of code), instead "
                              "of translating it again"),
    }
    STATE_VERSION = 1

    @classmethod
    def instances(cls, name: str, options: Dict[str, Any],
                  entries: Dict[str, Dict[str, Any]]) -> List[Tuple[str, Dict[str, Any]]]:
        """`count: N`: this processor and N-1 application processors named name1...
        (each with count 1, so a profile lists them once)."""
        count = options["count"]
        return [(name if index == 0 else f"{name}{index}",
                 dict(options, count=1, bsp=options["bsp"] and index == 0))
                for index in range(count)]

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.is_bsp = options["bsp"]
        self.model = MODELS[options["model"]]
        self.generation = self.model.generation
        self.has_fpu = options["fpu"] if options["fpu"] is not None else self.generation >= 4
        self.fpu = X87(self) if self.has_fpu else None
        #: the local APIC component (set by it at configure time), or None
        self.lapic: Any = None
        # the processors share host calls (BIOS entry points) and watch code pages together
        self.hostcalls: Dict[int, Callable[["CPU"], None]] = {}
        if self.is_bsp:
            if self.fpu is not None:
                # FERR# acknowledge: a write to port F0h lowers IRQ 13 (PC/AT convention).
                self.bus.register_io(0xF0, 0xF0, None,
                                     lambda port, size, value: self.fpu.lower_ferr(), name + ".ferr")
            machine.cpu = self
            self.bus.intr_listener = self.set_intr
        elif machine.cpu is not None:
            self.hostcalls = machine.cpu.hostcalls
        machine.processors.add(self)
        self.peers: List["CPU"] = machine.processors.cpus
        self.bus.a20_listeners.append(self._a20_changed)
        self.bus.code_write_listeners.append(self._code_written)
        machine.hooks.listeners.append(self._hooks_changed)
        self.hooks = machine.hooks
        self.code_cache16: Dict[int, Callable[[int], int]] = {}
        self.code_cache32: Dict[int, Callable[[int], int]] = {}
        self.code_cache = self.code_cache16
        #: The memory accessors and decode caches of each regime the processor has
        #: run in since the last flush (`enter_regime`)
        self.regimes: Dict[Tuple[Any, ...], KeptRegime] = {}
        # Blocks decoded under a protected-mode CS whose limit is below the top of
        # its offset range, one cache per (base, limit, D): their bytes were checked
        # against that limit, so a CS with another limit or base never runs them.
        self.limited_caches: Dict[Tuple[int, int, bool], Dict[int, Any]] = {}
        # With paging on, the blocks of the decode cache in use (`fetch_owner`) by
        # the linear address of their first byte: a hit is one look-up instead of
        # the TLB's and the decode cache's (`paging.run_paged`).  Emptied whenever a
        # TLB entry goes (`paging.py`; a MOV CR3 drops just `fetch_local`, the
        # keys on non-global pages), a block is dropped or gets a new runner,
        # and when another decode cache comes into use.
        self.fetch_cache: Dict[int, Any] = {}
        self.fetch_local: List[int] = []
        self.fetch_owner = self.code_cache
        # Which cached blocks to drop when code bytes are written: the blocks
        # decoded from each physical page and from each 64-byte bucket of it
        # (so data written beside code drops only the blocks it overlaps).
        # `code_pages` is in order of the last decode into each page: the bound
        # (`code_cache_blocks`) drops the blocks of its first pages.
        self.code_pages: Dict[int, Set[int]] = {}
        self.max_blocks = options["code_cache_blocks"]
        threshold = options["tier2_threshold"]
        #: runs before a block is translated by tier 2, or None (tier 2 off)
        self.tier2_threshold: Optional[int] = None if not options["tier2"] else \
            threshold if threshold is not None else tier2.DEFAULT_THRESHOLD
        self.pause_ticks: int = options["pause_ticks"]
        warmup = options["runner_warmup"]
        #: runs of a block by the loop runner before its unrolled runner replaces it
        self.runner_warmup: int = warmup if warmup is not None else DEFAULT_WARMUP
        compile_loop_runner_unpeeled()
        #: blocks translated by tier 2 (for `machine bench`)
        self.tier2_translated = 0
        self.translations = Translations(options["tier2_share"])
        self.block_buckets: Dict[int, Set[int]] = {}
        self.block_pages: Dict[int, Set[int]] = {}
        # Blocks that follow a jump: physical address -> their "still valid" flags.
        self.block_alive: Dict[int, List[List[bool]]] = {}
        self.stop_requested = False
        #: the instruction closures of the block the run loop is running (None
        #: between blocks and when one instruction runs alone), for stores into it
        #: (`CodeModified`)
        self.running: Optional[List[Callable[[int], int]]] = None
        #: a store of an instruction is on the bus (not a device's or the BIOS's)
        self.storing = False
        #: a load of an instruction is on the bus (not a device's DMA)
        self.loading = False
        #: the next instruction runs alone: its store changes the block it was in
        self.store_restart = False
        self.traced = False
        #: `xchg bx, bx` decodes as Bochs' magic breakpoint (a plugin hooks it)
        self.magic_break = False
        #: page offsets of address breakpoints: the instructions decoded there
        #: ask `break_check(linear)` first (`set_address_breaks`)
        self.break_offsets: FrozenSet[int] = frozenset()
        self.break_check: Optional[Callable[[int], bool]] = None
        self._init_registers()
        self.reset()

    # ------------------------------------------------------------------ state
    def _init_registers(self) -> None:
        self.regs = [0] * 8
        self.eip = 0
        self.flags = 2
        self.lf_op = self.lf_a = self.lf_b = self.lf_res = 0
        self.lf_mask = 0xFFFF
        self.seg_sel = [0] * 6
        self.seg_base = [0] * 6
        self.seg_limit = [0xFFFF] * 6
        self.seg_flags = [0x93] * 6
        # Access-checked limits, set when a segment is loaded: writes check
        # seg_wlimit, reads through CS seg_rlimit.  A segment that may not be
        # written (read) has NO_ACCESS there, so the ordinary limit comparison sends
        # every such access to segment_write_fault (segment_read_fault).
        self.seg_wlimit = [0xFFFF] * 6
        self.seg_rlimit = [0xFFFF] * 6
        self.cr = [0] * 5
        self.dr = [0] * 8
        self.gdtr_base, self.gdtr_limit = 0, 0xFFFF
        self.idtr_base, self.idtr_limit = 0, 0x3FF
        self.ldtr = self.tr = 0
        self.ldtr_base, self.ldtr_limit = 0, 0xFFFF
        self.tr_base, self.tr_limit, self.tr_flags = 0, 0xFFFF, 0x8B
        self.cpl = 0
        #: the TLB, a slot per linear page (`paging.py`), allocated with paging on
        self.tlb_read: List[int] = []
        self.tlb_write: List[int] = []
        #: the pages with an entry in tlb_read: what a full flush resets
        self.tlb_pages: Set[int] = set()
        #: pages whose TLB entries are not global: what a MOV CR3 drops (`paging.py`)
        self.tlb_local: Set[int] = set()
        #: pages whose TLB entries only a supervisor may use (`paging.py`)
        self.tlb_supervisor: Set[int] = set()
        #: supervisor translations made at CPL 3 (`paging.supervisor_address`)
        self.tlb_system: Dict[int, int] = {}
        #: PAE: the four PDPTE registers, loaded by MOV CR0/CR3/CR4 (`paging.load_pdptes`)
        self.pdpte = [0, 0, 0, 0]
        self.halted = False
        self.waiting_sipi = False
        self.intr_line = False
        self.nmi_pending = False
        self.check_irq = False
        self.inhibit_icount = -1
        self.ss_load_icount = -1
        self.tsc_offset = 0
        self.msrs = MSRFile(self.generation)
        #: CR4 bits this model implements (others raise #GP on MOV CR4):
        #: VME PVI TSD DE PSE MCE (Pentium), PAE PGE PCE (P6), OSFXSR OSXMMEXCPT (FXSR)
        self.cr4_writable = 0x5F if self.generation == 5 else 0x1FF if self.generation >= 6 else 0
        if self.model.fxsr and self.has_fpu:
            self.cr4_writable |= 0x600
        self.paging = False
        self.code32 = False
        self.stack32 = False
        self.mlin = 0

    def reset(self) -> None:
        """Architectural reset: CS=F000 with base FFFF0000, EIP=FFF0, EDX=signature.
        A TLB already allocated is emptied and kept: allocating its 2 x 2 M slots
        again at the next paging start cost 30 ms per reset (the fuzzer resets
        for every case).  The time-stamp counter counts on through a reset, as
        in QEMU and, for the keyboard controller's reset (an INIT on P6 boards),
        in Bochs: it never goes back, whatever time idle HLTs skipped."""
        if self.tlb_read:
            paging.flush_tlb(self)
        tlb = (self.tlb_read, self.tlb_write)
        tsc_offset = self.tsc_offset
        self._init_registers()
        self.tlb_read, self.tlb_write = tlb
        self.tsc_offset = tsc_offset
        model = self.model
        self.regs[2] = model.signature
        self.seg_sel[CS] = 0xF000
        self.seg_base[CS] = 0xFFFF0000 if self.generation >= 3 else 0xF0000
        self.seg_flags[CS] = 0x9B
        self.eip = 0xFFF0 if self.generation >= 1 else 0
        if self.generation == 0:
            self.seg_base[CS] = 0xFFFF0
        self.cr[0] = (CR0_ET if self.has_fpu or self.generation == 3 else 0) | (
            0x60000010 if self.generation >= 4 else 0)
        if self.generation >= 4 and not self.has_fpu:
            self.cr[0] = 0x60000000
        if self.fpu is not None:
            self.fpu.reset()
        self.xmm = [0] * 8
        self.mxcsr = MXCSR_RESET
        if not self.is_bsp:
            self.halted = self.waiting_sipi = True
        self.rebuild()

    def apic_init(self) -> None:
        """An INIT IPI (SDM 8.4.1): the processor resets; an application processor
        then waits for a start-up IPI, the bootstrap processor runs the BIOS again.
        INIT keeps what RESET clears in SDM vol. 3 table 9-1's INIT column: the
        x87, MMX and SSE registers, MXCSR, the MSRs (the time-stamp counter, which
        `reset` keeps too, stays in step with the other processors', as Linux's
        TSC sync check expects) and CR0's CD and NW."""
        kept_fpu = self.fpu.state if self.fpu is not None else None
        xmm, mxcsr, msrs = self.xmm, self.mxcsr, self.msrs
        cache_bits = self.cr[0] & CR0_CACHE
        self.reset()
        if kept_fpu is not None:
            self.fpu.state = kept_fpu
        self.xmm, self.mxcsr, self.msrs = xmm, mxcsr, msrs
        self.cr[0] = self.cr[0] & ~CR0_CACHE | cache_bits

    def apic_startup(self, vector: int) -> None:
        """A start-up IPI: a processor waiting for one starts in real mode at
        vector * 4096 (CS = vector << 8, IP = 0); at any other time it is ignored."""
        if not self.waiting_sipi:
            return
        self.waiting_sipi = self.halted = False
        self.seg_sel[CS] = vector << 8
        self.seg_base[CS] = vector << 12
        self.eip = 0
        self.select_code_cache()

    def snapshot(self) -> Dict[str, Any]:
        state = CPUState(
            regs=list(self.regs), eip=self.eip, eflags=self.get_eflags(),
            seg_sel=list(self.seg_sel), seg_base=list(self.seg_base),
            seg_limit=list(self.seg_limit), seg_flags=list(self.seg_flags),
            seg_wlimit=list(self.seg_wlimit), seg_rlimit=list(self.seg_rlimit),
            cr=list(self.cr), dr=list(self.dr), gdtr_base=self.gdtr_base,
            gdtr_limit=self.gdtr_limit, idtr_base=self.idtr_base, idtr_limit=self.idtr_limit,
            ldtr=self.ldtr, tr=self.tr, ldtr_base=self.ldtr_base, ldtr_limit=self.ldtr_limit,
            tr_base=self.tr_base, tr_limit=self.tr_limit, tr_flags=self.tr_flags, cpl=self.cpl,
            halted=self.halted, waiting_sipi=self.waiting_sipi, intr_line=self.intr_line,
            nmi_pending=self.nmi_pending, inhibit_icount=self.inhibit_icount,
            ss_load_icount=self.ss_load_icount,
            tsc_offset=self.tsc_offset, pdpte=list(self.pdpte), msrs=self.msrs.snapshot(),
            fpu=state_to_dict(self.fpu.state) if self.fpu is not None else {},
            xmm=list(self.xmm), mxcsr=self.mxcsr)
        return state_to_dict(state)

    def restore(self, data: Dict[str, Any]) -> None:
        state = dict_to_state(CPUState, data)
        self.regs = list(state.regs)
        self.eip = state.eip
        self.set_eflags(state.eflags)
        self.seg_sel, self.seg_base = list(state.seg_sel), list(state.seg_base)
        self.seg_limit, self.seg_flags = list(state.seg_limit), list(state.seg_flags)
        self.seg_wlimit, self.seg_rlimit = list(state.seg_wlimit), list(state.seg_rlimit)
        if len(self.seg_wlimit) != 6:       # a snapshot from before access checks
            self.seg_wlimit, self.seg_rlimit = list(self.seg_limit), list(self.seg_limit)
            if self.cr[0] & CR0_PE:
                for index in range(6):
                    protected.set_access_limits(self, index)
        self.cr, self.dr = list(state.cr), list(state.dr)
        self.gdtr_base, self.gdtr_limit = state.gdtr_base, state.gdtr_limit
        self.idtr_base, self.idtr_limit = state.idtr_base, state.idtr_limit
        self.ldtr, self.tr = state.ldtr, state.tr
        self.ldtr_base, self.ldtr_limit = state.ldtr_base, state.ldtr_limit
        self.tr_base, self.tr_limit, self.tr_flags = state.tr_base, state.tr_limit, state.tr_flags
        self.cpl = state.cpl
        self.halted = state.halted
        self.waiting_sipi = state.waiting_sipi
        self.intr_line = state.intr_line
        self.nmi_pending = state.nmi_pending
        self.inhibit_icount = state.inhibit_icount
        self.ss_load_icount = state.ss_load_icount
        self.tsc_offset = state.tsc_offset
        self.pdpte = list(state.pdpte) or [0, 0, 0, 0]
        self.msrs.restore(state.msrs)
        if self.fpu is not None:
            self.fpu.state = dict_to_state(X87State, state.fpu)
        self.xmm, self.mxcsr = list(state.xmm), state.mxcsr
        self.check_irq = self.intr_line or self.nmi_pending
        self.rebuild()

    def rebuild(self) -> None:
        """Re-derive everything cached from the registers: memory accessors, code
        size, decode caches (all dropped).  Called after reset/restore, debug
        register changes and by tools that set the state directly."""
        self.flush_code_cache()
        self.regimes.clear()
        self.enter_regime()

    def regime(self) -> Optional[Tuple[Any, ...]]:
        """What decoded code and the memory accessors are built for: protected
        mode, paging, the A20 gate and alignment checking; None while DR7 enables
        breakpoints (their watches wrap the accessors: never kept)."""
        if self.dr[7] & 0xFF:
            return None
        cr0 = self.cr[0]
        return (bool(cr0 & CR0_PE), bool(cr0 & CR0_PG), bool(cr0 & CR0_AM), self.bus.a20_mask)

    def enter_regime(self) -> None:
        """After CR0.PE, PG or AM or the A20 gate changed: the memory accessors and
        decode caches the processor had when it last ran in this regime, or new
        ones.  The blocks of the other regimes stay (a store into their bytes
        drops them all the same: `_drop_block`), so code that switches to real
        mode and back for every BIOS call (GRUB, SYSLINUX's COM32 modules, DOS
        extenders) decodes each block once, not at every switch."""
        self.paging = bool(self.cr[0] & CR0_PG) and bool(self.cr[0] & CR0_PE)
        key = self.regime()
        kept = self.regimes.get(key) if key is not None else None
        if kept is not None:
            (self.rd8, self.rd16, self.rd32, self.wr8, self.wr16, self.wr32) = kept.accessors
            self.code_cache16, self.code_cache32 = kept.code_cache16, kept.code_cache32
            self.limited_caches = kept.limited_caches
            paging.flush_tlb(self)          # as the accessors built anew would
        else:
            (self.rd8, self.rd16, self.rd32,
             self.wr8, self.wr16, self.wr32) = build_accessors(self)
            debugregs.install(self)
            faults.install_alignment_check(self)
            self.code_cache16, self.code_cache32, self.limited_caches = {}, {}, {}
            if key is not None:
                self.regimes[key] = KeptRegime(
                    (self.rd8, self.rd16, self.rd32, self.wr8, self.wr16, self.wr32),
                    self.code_cache16, self.code_cache32, self.limited_caches)
        self.fetch_mask = self.bus.a20_mask
        self.step_loop = self._loop_paged if self.paging else self._loop
        self.code32 = bool(self.seg_flags[CS] & 0x4000)
        self.stack32 = bool(self.seg_flags[SS] & 0x4000)
        self.clear_fetch_cache()
        self.select_code_cache()

    def decode_caches(self) -> List[Dict[int, Any]]:
        """Every decode cache of every kept regime (and the current one)."""
        caches = [self.code_cache16, self.code_cache32, *self.limited_caches.values()]
        for kept in self.regimes.values():
            for cache in (kept.code_cache16, kept.code_cache32, *kept.limited_caches.values()):
                if not any(cache is known for known in caches):
                    caches.append(cache)
        return caches

    # ------------------------------------------------------------------ translation
    def translate(self, linear: int, write: bool = False) -> int:
        """The one linear-to-physical translation point (paging: `paging.py`)."""
        if self.paging:
            return paging.translate(self, linear, write)
        return linear & self.bus.a20_mask

    def _a20_changed(self, mask: int) -> None:
        """A write to port 92h or the 8042 moved the gate: the batch ends after
        the instruction, so the run loop looks blocks up with the new mask."""
        self.enter_regime()
        self.clock.stop_icount = min(self.clock.stop_icount, self.clock.icount)

    # ------------------------------------------------------------------ decode cache
    def clear_fetch_cache(self) -> None:
        """Empty the blocks-by-linear-address cache (`paging.run_paged`)."""
        self.fetch_cache.clear()
        del self.fetch_local[:]

    def flush_code_cache(self) -> None:
        """Drop every decoded block, of every regime."""
        self.clear_fetch_cache()
        self.translations.clear()
        for cache in self.decode_caches():
            cache.clear()
        for kept in self.regimes.values():
            kept.limited_caches.clear()
        for flags in self.block_alive.values():
            for alive in flags:
                alive[0] = False
        self.block_alive.clear()
        pages = list(self.code_pages)
        self.code_pages.clear()
        for page in pages:
            self._release_code_page(page)
        self.block_buckets.clear()
        self.block_pages.clear()
        self.limited_caches.clear()
        self.select_code_cache()

    def select_code_cache(self) -> None:
        """The decode cache for the current CS (after a CS load or a code-size
        change).  A transfer that changes it leaves the inner loop, whose cache
        look-up is bound to the old one (`protected.leave_loop`)."""
        limit = self.seg_limit[CS]
        if self.cr[0] & CR0_PE and limit < (0xFFFFFFFF if self.code32 else 0xFFFF):
            key = (self.seg_base[CS], limit, self.code32)
            cache = self.limited_caches.get(key)
            if cache is None:
                cache = self.limited_caches[key] = {}
            self.code_cache = cache
        else:
            self.code_cache = self.code_cache32 if self.code32 else self.code_cache16

    def _code_written(self, page: int, start: int, end: int) -> None:
        """Physical bytes start..end-1 of `page` holding decoded code were written:
        drop the blocks decoded from their buckets; a page left without blocks
        goes back to the bus's fast write path."""
        buckets = self.block_buckets
        # Pentium and later see a store into the instructions after it (SDM vol. 3,
        # 11.6); older parts run what they prefetched until a jump.
        running = self.running if self.storing and self.generation >= 5 else None
        modified = False
        for bucket in range(start >> CODE_BUCKET_SHIFT, ((end - 1) >> CODE_BUCKET_SHIFT) + 1):
            for address in buckets.pop(bucket, ()):
                if running is not None and not modified:
                    modified = self._cached_block(address) is running
                self._drop_block(address)
        if modified:
            self.running = None
            self.storing = False
            raise CodeModified()

    def run_access_alone(self) -> None:
        """A device or a debugger's watchpoint asks, during this processor's own
        load or store, that the processor stop right after the accessing
        instruction.  The run loop runs a block to its end, so inside one the
        instruction is abandoned before the access takes effect and runs again on
        its own (`RestartAlone`); stepping alone (an `instruction` hook, a
        debugger, that restart) it simply goes on.  A device's DMA is neither a
        load nor a store of the processor, and goes on."""
        if self.running is not None and (self.storing or self.loading):
            self.running = None
            self.storing = self.loading = False
            raise RestartAlone()

    def _cached_block(self, address: int) -> Optional[List[Callable[[int], int]]]:
        """The instruction closures of the block decoded at a physical address, in
        the cache in use (its runner may change: tier 2; the list stays)."""
        entry = self.code_cache.get(address)
        return None if entry is None else entry[1]

    def _drop_block(self, address: int) -> None:
        self.clear_fetch_cache()
        for cache in self.decode_caches():
            cache.pop(address, None)
        for alive in self.block_alive.pop(address, ()):
            alive[0] = False
        for page in self.block_pages.pop(address, ()):
            blocks = self.code_pages.get(page)
            if blocks is not None:
                blocks.discard(address)
                if not blocks:
                    del self.code_pages[page]
                    self._release_code_page(page)

    def _drop_oldest_pages(self) -> None:
        """Keep at most `max_blocks` blocks: drop every block of the page decoded
        into least recently, then the next, until under the bound.  A page whose
        code is still running is decoded again and becomes the most recent one;
        what the guest sees does not change (blocks are a cache)."""
        code_pages = self.code_pages
        while len(self.block_pages) > self.max_blocks and len(code_pages) > 1:
            # Dropping a page's last block removes the page from `code_pages`.
            for address in list(next(iter(code_pages.values()))):
                self._drop_block(address)

    def _release_code_page(self, page: int) -> None:
        """No block of this processor comes from `page` any more: writes to it may
        take the bus's fast path again, unless another processor runs code from it."""
        for cpu in self.peers:
            if page in cpu.code_pages:
                return
        self.bus.unwatch_code_page(page)

    def _remember_block(self, phys: int, pages: List[int], runs: List[Tuple[int, int]]) -> None:
        """Index a cached block by the pages and buckets its bytes came from and
        mark those bytes on the bus.  An instruction that straddles into another
        physical page (paging) has its tail watched at that page's start."""
        ranges = list(runs)
        covered = {page for start, end in runs for page in range(start >> 12, ((end - 1) >> 12) + 1)}
        ranges.extend((page << 12, (page << 12) + MAX_INSTRUCTION_LENGTH)
                      for page in pages if page not in covered)
        self.block_pages.setdefault(phys, set()).update(pages, covered)
        code_pages = self.code_pages
        for page in self.block_pages[phys]:
            blocks = code_pages.pop(page, None) or set()      # re-inserted: most recent
            blocks.add(phys)
            code_pages[page] = blocks
        buckets = self.block_buckets
        for start, end in ranges:
            for bucket in range(start >> CODE_BUCKET_SHIFT, ((end - 1) >> CODE_BUCKET_SHIFT) + 1):
                buckets.setdefault(bucket, set()).add(phys)
            self.bus.watch_code(start, end - start)

    def _decode(self, phys: int, eip: int) -> Tuple[Runner, Tuple[Callable[[int], int], ...], int]:
        """Decode the block of instructions at CS:EIP and cache it by physical
        address as (runner, closures, length).  A block follows the code through
        direct near JMP/CALL within its page, and from a RET back to where a CALL
        it followed returns (`_predicted_return`), and ends at any other control
        transfer, I/O or system instruction, a host-call address, the end of the
        page or MAX_BLOCK instructions."""
        block = []
        stepped = []        # as `block`, with the followed jumps checking `alive`
        pages: List[int] = []
        runs: List[Tuple[int, int]] = []        # the (start, end) byte ranges decoded
        cacheable = True
        ipmask = 0xFFFFFFFF if self.code32 else 0xFFFF
        address, offset = phys, eip
        run_start = phys
        alive = [True]
        returns: List[int] = []     # what the followed CALLs pushed, innermost last
        while True:
            fn, fn_pages, fn_cacheable, length, ends, target, branch, pushed, near_return = \
                decode(self, offset)
            hostcall = self.hostcalls.get(address)
            if hostcall is not None:
                if block:
                    branch = None       # that instruction starts the next block
                    break
                fn = self._wrap_hostcall(hostcall, fn)
                ends, near_return = True, False
                target = branch = None
            if self.break_offsets and address & 0xFFF in self.break_offsets:
                fn = self._wrap_break_check(fn)
            block.append(fn)
            stepped.append(fn)
            pages.extend(page for page in fn_pages if page not in pages)
            cacheable = cacheable and fn_cacheable
            address += length
            offset = (offset + length) & ipmask
            if near_return and returns:
                # A RET from a call this block followed: predicted to go back there.
                target = returns.pop()
            if target is not None and len(block) < MAX_BLOCK and cacheable and \
                    offset >= length and address >> 12 == phys >> 12:
                target_address = address + target - offset
                if target_address >> 12 == phys >> 12:
                    # The same page, linear and physical: decoding continues there.
                    if near_return:
                        block[-1] = stepped[-1] = self._predicted_return(fn, target, alive)
                    else:
                        stepped[-1] = self._follow_jump(fn, alive)
                        if pushed is not None:
                            returns.append(pushed)
                    runs.append((run_start, address))
                    address = run_start = target_address
                    offset = target
                    continue
            if ends or len(block) >= MAX_BLOCK or address >> 12 != phys >> 12 or \
                    not fn_cacheable or offset < length:
                break
        runs.append((run_start, address))
        followed = [fn is not step for fn, step in zip(block, stepped)]
        # A block whose last instruction may branch back to its first: tier 2
        # runs it as a loop (same CS, so the same offset is the same address).
        loops = branch == eip
        translated = cacheable and self.tier2_threshold is not None
        if translated and self.tier2_threshold <= self.runner_warmup:
            runner = make_loop_runner(self, block, followed, alive)     # tier 2 comes first
        elif self.runner_warmup and cacheable:
            runner = self._warming_runner(phys, block, followed, alive)
        else:
            runner = make_runner(self, block, followed, alive)
        if translated:
            runner = self._counting_runner(phys, runner, block, followed, alive, loops)
        result = (runner, tuple(stepped), len(block))
        if cacheable:
            self.code_cache[phys] = result
            self._remember_block(phys, pages, runs)
            if len(self.block_pages) > self.max_blocks:
                self._drop_oldest_pages()
            if len(runs) > 1 or loops:
                self.block_alive.setdefault(phys, []).append(alive)
        else:
            alive[0] = False    # nothing tells an uncached block of code writes: never follow
        return result

    def _replaced_runner(self, phys: int, runs: int, first: Runner,
                         replacement: Callable[[], Runner]) -> Runner:
        """A block's runner that calls `first` for `runs` runs, then the runner
        `replacement()` makes (once), which also takes its place in the cache entry
        (if the entry is still this block's; a wrapper around it, such as tier 2's
        countdown or `machine bench`'s counter, goes on calling it and reaches it)."""
        cache = self.code_cache
        clear_fetch_cache = self.clear_fetch_cache
        current = first
        itself: Callable[[], Any] = lambda: None

        # Cells, not a state list: this runs before every run of a block that
        # is not (yet) replaced, most of a DOS boot's blocks.
        def replaced_runner(eip: int, icount: int) -> int:
            nonlocal runs, current
            if runs:
                runs -= 1
                return first(eip, icount)
            if current is first:
                current = replacement()
                entry = cache.get(phys)
                if entry is not None and entry[0] is itself():
                    cache[phys] = (current,) + entry[1:]
                    clear_fetch_cache()
            return current(eip, icount)
        # A weak reference to itself: naming itself would make a reference cycle,
        # and a dropped block would wait for the cyclic garbage collector, whose
        # full passes over the decoded code cost a DOS boot a tenth of its time.
        itself = weakref.ref(replaced_runner)
        return replaced_runner

    def _warming_runner(self, phys: int, block: List[Callable[[int], int]],
                        followed: List[bool], alive: List[bool]) -> Runner:
        """The loop runner for the block's first `runner_warmup` runs, then its
        unrolled runner."""
        return self._replaced_runner(phys, self.runner_warmup,
                                     make_loop_runner(self, block, followed, alive),
                                     lambda: make_runner(self, block, followed, alive))

    def _counting_runner(self, phys: int, runner: Runner, block: List[Callable[[int], int]],
                         followed: List[bool], alive: List[bool], loops: bool) -> Runner:
        """Tier 1's runner with a countdown: at its end the block is translated
        (`Translations.translate`) and the translation replaces it.  A block that
        `loops` (branches back to its start) is translated as a loop, which
        leaves when a code write drops the block (`alive`)."""
        def translate() -> Runner:
            translation = self.translations.translate(self, block, followed, alive, loops)
            self.tier2_translated += 1
            return translation
        return self._replaced_runner(phys, self.tier2_threshold, runner, translate)

    def _follow_jump(self, jump: Callable[[int], int], alive: List[bool]) -> Callable[[int], int]:
        """A direct JMP/CALL whose block continues at its target: when a write has
        dropped the block meanwhile, the jump leaves it so the target is decoded
        afresh (a jump always sees new code, as the 486's prefetch flush).  The
        block's runner has the same check written in; this closure serves the
        instruction-at-a-time path."""
        cpu = self

        def followed_jump(eip: int) -> int:
            target = jump(eip)
            if alive[0]:
                return target
            cpu.eip = target
            raise LoopExit()
        return followed_jump

    def _predicted_return(self, ret: Callable[[int], int], expected: int,
                          alive: List[bool]) -> Callable[[int], int]:
        """A near RET whose block continues at `expected`, where the CALL the block
        followed returns to: when the stack held another address, or a write has
        dropped the block meanwhile, it leaves the block (LoopExit) and the run
        loop goes on at the address popped.  Rare in compiled code, so the cost of
        the exception buys one block instead of two for a call to a leaf."""
        cpu = self

        def predicted_return(eip: int) -> int:
            eip = ret(eip)
            if eip == expected and alive[0]:
                return expected         # the same: a constant for tier 2 to fold
            cpu.eip = eip
            raise LoopExit()
        return predicted_return

    def _wrap_hostcall(self, hostcall: Callable, fn: Callable[[int], int]) -> Callable[[int], int]:
        cpu = self

        def call_host(eip: int) -> int:
            cs = cpu.seg_sel[CS]
            cpu.eip = eip
            hostcall(cpu)
            cpu.sync_after_bus()
            if cpu.eip == eip and cpu.seg_sel[CS] == cs:
                return fn(eip)
            if cpu.stop_requested:
                raise LoopExit()
            return cpu.eip
        return call_host

    def set_address_breaks(self, offsets: FrozenSet[int], check: Optional[Callable[[int], bool]]) -> None:
        """Address breakpoints without stepping: every instruction decoded at one of
        these page offsets (of its linear and physical address alike) first calls
        `check(linear)` with `clock.icount` before it, and the machine stops there
        when `check` says so.  The rest of the code runs at full speed in its blocks
        (QEMU puts its breakpoints into the translated code the same way)."""
        self.break_offsets = offsets
        self.break_check = check
        self.flush_code_cache()

    def _wrap_break_check(self, fn: Callable[[int], int]) -> Callable[[int], int]:
        cpu = self
        clock = self.clock
        check = self.break_check

        def break_check(eip: int) -> int:
            clock.icount -= 1               # the count before this instruction
            stop = check(cpu.seg_base[CS] + eip)
            clock.icount += 1
            if stop:
                raise BreakBefore()
            return fn(eip)
        return break_check

    def register_hostcall(self, physical_address: int, function: Callable[["CPU"], None]) -> None:
        """Call `function(cpu)` whenever execution reaches `physical_address`."""
        self.hostcalls[physical_address] = function
        # Blocks decoded through the address are dropped with their bucket.
        self._code_written(physical_address >> 12, physical_address, physical_address + 1)
        self._drop_block(physical_address)

    # ------------------------------------------------------------------ bus sync
    def load_on_bus(self, address: int, size: int) -> int:
        """An instruction's load through the bus's slow path (`loading` tells it
        from a device's DMA: `run_access_alone`)."""
        self.loading = True
        try:
            value = self.bus.read(address, size)
        finally:
            self.loading = False
        self.sync_after_bus()
        return value

    def store_on_bus(self, address: int, size: int, value: int) -> None:
        """An instruction's store through the bus's slow path (`storing` tells a
        store into the running block, `CodeModified`, from a device's write)."""
        if self.bus.store_beside_code(address, size, value):
            return
        self.storing = True
        try:
            self.bus.write(address, size, value)
        finally:
            self.storing = False
        self.sync_after_bus()

    def sync_after_bus(self) -> None:
        """A device may have asked to stop; the loop re-reads `clock.stop_icount`."""
        if self.stop_requested and self.clock.stop_icount > self.clock.icount:
            self.clock.stop_icount = self.clock.icount

    def io_read(self, port: int, size: int) -> int:
        if self.cr[0] & CR0_PE:
            protected.check_io(self, port, size)
        value = self.bus.io_read(port, size)
        self.sync_after_bus()
        return value

    def io_write(self, port: int, size: int, value: int) -> None:
        if self.cr[0] & CR0_PE:
            protected.check_io(self, port, size)
        self.bus.io_write(port, size, value)
        self.sync_after_bus()

    # ------------------------------------------------------------------ run loop
    def run(self) -> int:
        """Execute until `clock.stop_icount`, HLT or a stop request; returns the
        number of instructions executed (already added to `clock.icount`)."""
        clock = self.clock
        start = clock.icount
        if self.halted:
            if self.check_irq:
                self._service_interrupts()
            if self.halted:
                return 0
        while clock.icount < clock.stop_icount and not self.halted:
            try:
                if self.traced:
                    self._run_traced()
                elif self.flags & TF or self.dr[7] & 0xFF:
                    debugregs.run_debug(self)      # TF or DR7: one step at a time
                    continue
                elif self.store_restart:
                    self.store_restart = False
                    self.step_loop(True)
                    continue
                else:
                    self.step_loop(False)
                break
            except LoopExit:
                self.running = None
                continue
            except BreakBefore:
                self.running = None
                clock.icount -= 1                   # stopped before the instruction
                clock.stop_icount = clock.icount
                break
            except RestartAlone:
                clock.icount -= 1                   # the instruction runs again, alone
                self.store_restart = True
            except CPUFault as fault:
                self.running = None
                self.raise_exception(fault)
        return clock.icount - start

    def _run_traced(self) -> None:
        clock = self.clock
        call = self.hooks.call
        while clock.icount < clock.stop_icount and not self.halted:
            eip = self.eip
            call.instruction(machine=self.machine, cs=self.seg_sel[CS], eip=eip,
                             linear=self.seg_base[CS] + eip, cpu=self)
            self.step_loop(True)

    def _loop_paged(self, single: bool) -> None:
        paging.run_paged(self, single)

    def _loop(self, single: bool) -> None:
        clock = self.clock
        seg_base = self.seg_base
        cache = self.code_cache
        get = cache.get
        mask = self.fetch_mask
        eip = self.eip
        icount = clock.icount
        # `self.eip` is written when the loop ends or an instruction faults (the
        # closures get EIP as an argument); closures that leave with LoopExit or
        # call out to devices store it themselves.
        while icount < clock.stop_icount:
            shadowed = False
            if self.check_irq:
                self.eip = eip
                self.running = None
                self._service_interrupts()
                eip = self.eip
                get = self.code_cache.get   # a protected-mode gate may change code size
                if self.halted:
                    return
                shadowed = self.check_irq and icount <= self.inhibit_icount
            phys = (seg_base[1] + eip) & mask
            entry = get(phys)
            if entry is None:
                entry = self._decode(phys, eip)
            run, block, length = entry
            if single or shadowed or icount + length > clock.stop_icount:
                # One instruction (also the one in STI's or MOV SS's interrupt shadow:
                # a pending interrupt comes right after it, as in `sti; nop; cli`),
                # or the part of the block before stop_icount.
                self.running = None if single or shadowed else block
                eip, icount = self.run_partial(block[:1] if single or shadowed
                                               else block[:clock.stop_icount - icount], eip, icount)
                if single:
                    break
            else:
                self.running = block
                eip = run(eip, icount)
                icount = clock.icount       # a block translated as a loop runs it more than once
        self.running = None
        self.eip = eip

    def run_partial(self, block: Any, eip: int, icount: int) -> Tuple[int, int]:
        """Step through some of a block's closures one by one (single-stepping, or a
        batch that ends inside the block); returns the new EIP and instruction count.
        `self.eip` is the faulting instruction's EIP when one raises."""
        clock = self.clock
        try:
            for fn in block:
                icount += 1
                clock.icount = icount
                eip = fn(eip)
        except CPUFault:
            self.eip = eip
            raise
        return eip, icount

    def _hooks_changed(self, flags: Any) -> None:
        self.traced = bool(flags.instruction)
        if self.traced:
            self.clock.stop_icount = self.clock.icount
        if bool(flags.magic_breakpoint) != self.magic_break:
            self.magic_break = bool(flags.magic_breakpoint)
            self.flush_code_cache()          # decoded `xchg bx, bx` changes meaning

    # ------------------------------------------------------------------ interrupts
    def set_intr(self, level: bool) -> None:
        """The INTR pin (bus.intr_listener)."""
        self.intr_line = bool(level)
        self.check_irq = self.intr_line or self.nmi_pending

    def nmi(self) -> None:
        self.nmi_pending = True
        self.check_irq = True

    def can_wake(self) -> bool:
        """An interrupt can end this HLT (not a wait for a start-up IPI)."""
        return (bool(self.flags & IF) or self.nmi_pending) and not self.waiting_sipi

    def runnable(self) -> bool:
        """Running, or halted with an interrupt that will wake it on its next turn."""
        return not self.halted or (self.check_irq and self.can_wake())

    def _service_interrupts(self) -> None:
        if self.clock.icount <= self.inhibit_icount or self.waiting_sipi:
            return
        if self.nmi_pending:
            self.nmi_pending = False
            self.halted = False
            self.interrupt(NMI_VECTOR, self.eip, "nmi")
        elif self.intr_line and self.flags & IF:
            lapic = self.lapic
            vector = self.bus.interrupt_acknowledge() if lapic is None else lapic.acknowledge()
            self.halted = False
            self.interrupt(vector, self.eip, "hardware")
        # A request that must wait for IF stops costing a call per block: every
        # path that sets IF (STI, POPF, IRET, task switch, set_eflags) raises
        # check_irq again.
        self.check_irq = self.nmi_pending or (self.intr_line and bool(self.flags & IF))

    def raise_exception(self, fault: CPUFault) -> None:
        """Deliver an exception raised by an instruction (the fault EIP is the
        instruction's own, still in `self.eip`)."""
        if self.hooks.cpu_exception:
            self.hooks.call.cpu_exception(machine=self.machine, vector=fault.vector,
                                          error_code=fault.error_code,
                                          cs=self.seg_sel[CS], eip=self.eip)
        return_eip = self.eip if fault.return_eip is None else fault.return_eip
        shutdown = faults.deliver(self, fault, return_eip)
        if shutdown is not None:
            self._triple_fault(shutdown)

    def _triple_fault(self, fault: CPUFault) -> None:
        """Shutdown: report, then reset or stop the machine as the profile says."""
        report = faults.report(self, fault)
        if self.hooks.triple_fault:
            self.hooks.call.triple_fault(machine=self.machine, report=report)
        if getattr(self.machine, "on_triple_fault", "reset") == "stop":
            self.machine.request_stop("triple-fault")
            raise GuestError("triple fault", report)
        else:
            self.machine.request_reset("triple-fault")
        self.stop_requested = True
        self.clock.stop_icount = self.clock.icount

    def describe(self) -> str:
        """Registers as text (for fault reports and debugging)."""
        general = " ".join(f"{name}={self.get_reg(name):08x}" for name in REG32)
        segments = " ".join(f"{name}={self.seg_sel[i]:04x}" for i, name in enumerate(SEGS))
        return (f"{general}\neip={self.eip:08x} eflags={self.get_eflags():08x} {segments}\n"
                f"cr0={self.cr[0]:08x} cr2={self.cr[2]:08x} cr3={self.cr[3]:08x}")

    def interrupt(self, vector: int, return_eip: int, kind: str,
                  error_code: Optional[int] = None) -> int:
        """Deliver `vector` through the real-mode IVT, or the IDT when CR0.PE is set
        (`interrupts.interrupt`); returns the new EIP."""
        if self.hooks.interrupt:
            self.hooks.call.interrupt(machine=self.machine, vector=vector, kind=kind,
                                      cs=self.seg_sel[CS], eip=return_eip)
        if self.cr[0] & CR0_PE:
            return interrupts.interrupt(self, vector, return_eip, kind, error_code)
        if vector * 4 + 3 > self.idtr_limit:
            raise CPUFault(GP, vector * 8 + 2)
        flags = self.read_flags16()
        self.push16(flags)
        self.push16(self.seg_sel[CS])
        self.push16(return_eip & 0xFFFF)
        entry = self.idtr_base + vector * 4
        new_ip = self.rd16(entry)
        new_cs = self.rd16(entry + 2)
        self.flags &= ~(IF | TF | AC | RF)
        self.load_segment(CS, new_cs)
        self.eip = new_ip
        return new_ip

    # ------------------------------------------------------------------ flags
    def get_eflags(self) -> int:
        return alu.get_eflags(self)

    def set_eflags(self, value: int) -> None:
        self.flags = (value & (self.model.flags_writable | VM | RF)) | 2
        self.lf_op = 0
        if self.flags & IF and self.intr_line:
            self.check_irq = True

    def read_flags16(self) -> int:
        """FLAGS as PUSHF stores it in real mode: bits 12-15 read as 1 on the
        8086/186, as 0 on the 286; a 386+ holds IOPL and NT there."""
        flags = alu.get_eflags(self) & 0xFFFF
        if self.generation >= 3:
            return flags & 0x7FFF
        return (flags & 0x0FFF) | self.model.flags_high_real

    def write_flags(self, value: int, width_mask: int) -> None:
        """POPF/IRET/SAHF: change the writable bits within `width_mask`."""
        writable = self.model.flags_writable & width_mask & ~(VM | RF)
        if self.cpl:   # protected mode: IOPL only at CPL 0, IF only at CPL <= IOPL
            writable &= ~IOPL
            if self.cpl > (self.flags >> 12) & 3:
                writable &= ~IF
        current = alu.get_eflags(self)
        self.flags = (current & ~writable) | (value & writable) | 2
        self.lf_op = 0
        if self.flags & IF and self.intr_line:
            self.check_irq = True
        if self.flags & TF:        # single-step: end the batch, `run` then steps
            self.clock.stop_icount = self.clock.icount

    def get_flag(self, name: str) -> bool:
        return bool(alu.get_eflags(self) & FLAG_BITS[name])

    def set_flag(self, name: str, value: bool) -> None:
        flags = alu.materialize(self)
        bit = FLAG_BITS[name]
        self.flags = (flags | bit) if value else (flags & ~bit)
        if name == "if" and value and self.intr_line:
            self.check_irq = True

    # ------------------------------------------------------------------ segments and stack
    def load_segment(self, index: int, selector: int) -> None:
        """Load a segment register (real-mode rule: base = selector << 4; limit and
        attributes stay, which is what "unreal mode" relies on).  In protected mode
        the descriptor is loaded with its checks (`protected.load_segment`)."""
        if self.cr[0] & CR0_PE and not self.flags & VM:
            protected.load_segment(self, index, selector)
            return
        selector &= 0xFFFF
        self.seg_sel[index] = selector
        self.seg_base[index] = selector << 4
        # A real-mode load makes the segment readable and writable (its limit stays).
        self.seg_wlimit[index] = self.seg_rlimit[index] = self.seg_limit[index]
        if index == SS:
            self.inhibit_icount = self.ss_load_icount = self.clock.icount

    def segment_fault(self, index: int, offset: Optional[int] = None, span: int = 0) -> int:
        """A limit violation: #SS for the stack segment, #GP otherwise.  A real-mode
        80286 raises #GP for every segment, SS included (SingleStepTests data).
        Protected-mode expand-down segments keep their limit encoded below zero, so
        every access through them comes here and is accepted above the limit.
        Returns the linear address of an accepted access; on the 8086/80186, which
        have no limit, one that wraps at offset FFFF (`memory.wrapping_accessors`)."""
        if offset is not None and self.generation < 2:
            base = self.seg_base[index]
            return ((base + 0xFFFF) << 32) | (base + offset)
        if offset is not None and self.seg_limit[index] < 0 and \
                protected.expand_down_allows(self, index, offset, span):
            return self.seg_base[index] + offset
        raise CPUFault(SS_VECTOR if index == SS and self.generation != 2 else GP, 0)

    def segment_write_fault(self, index: int, offset: int, span: int) -> int:
        """A write beyond the write limit: through a segment that may not be written
        (read-only data, code) #GP(0), #SS(0) for SS; otherwise a limit check."""
        if self.seg_wlimit[index] == protected.NO_ACCESS:
            raise CPUFault(SS_VECTOR if index == SS else GP, 0)
        return self.segment_fault(index, offset, span)

    def segment_read_fault(self, index: int, offset: int, span: int) -> int:
        """A read beyond the read limit: through execute-only code #GP(0)."""
        if self.seg_rlimit[index] == protected.NO_ACCESS:
            raise CPUFault(GP, 0)
        return self.segment_fault(index, offset, span)

    def stack_fault(self, sp: int, span: int) -> int:
        """A stack access at SS:sp..sp+span outside the stack segment: #SS (an 80286
        in real mode: #GP); an expand-down stack accepts offsets above its limit.  The
        8086/80186 have no limit check: a word at SP=FFFF wraps inside the segment.
        Returns the linear address to use (`segment_fault`)."""
        return self.segment_fault(SS, sp, span)

    def push16(self, value: int) -> None:
        regs = self.regs
        if self.stack32:
            sp = (regs[ESP] - 2) & 0xFFFFFFFF
        else:
            sp = (regs[ESP] - 2) & 0xFFFF
        linear = self.seg_base[SS] + sp
        if sp + 1 > self.seg_limit[SS]:
            linear = self.stack_fault(sp, 1)
        self.wr16(linear, value & 0xFFFF)
        regs[ESP] = sp if self.stack32 else (regs[ESP] & 0xFFFF0000) | sp

    def push32(self, value: int) -> None:
        regs = self.regs
        if self.stack32:
            sp = (regs[ESP] - 4) & 0xFFFFFFFF
        else:
            sp = (regs[ESP] - 4) & 0xFFFF
        if sp + 3 > self.seg_limit[SS]:
            self.stack_fault(sp, 3)
        self.wr32(self.seg_base[SS] + sp, value & 0xFFFFFFFF)
        regs[ESP] = sp if self.stack32 else (regs[ESP] & 0xFFFF0000) | sp

    def pop16(self) -> int:
        regs = self.regs
        sp = regs[ESP] if self.stack32 else regs[ESP] & 0xFFFF
        linear = self.seg_base[SS] + sp
        if sp + 1 > self.seg_limit[SS]:
            linear = self.stack_fault(sp, 1)
        value = self.rd16(linear)
        if self.stack32:
            regs[ESP] = (sp + 2) & 0xFFFFFFFF
        else:
            regs[ESP] = (regs[ESP] & 0xFFFF0000) | ((sp + 2) & 0xFFFF)
        return value

    def pop32(self) -> int:
        regs = self.regs
        sp = regs[ESP] if self.stack32 else regs[ESP] & 0xFFFF
        if sp + 3 > self.seg_limit[SS]:
            self.stack_fault(sp, 3)
        value = self.rd32(self.seg_base[SS] + sp)
        if self.stack32:
            regs[ESP] = (sp + 4) & 0xFFFFFFFF
        else:
            regs[ESP] = (regs[ESP] & 0xFFFF0000) | ((sp + 4) & 0xFFFF)
        return value

    # ------------------------------------------------------------------ control registers
    def write_cr(self, index: int, value: int) -> None:
        """MOV CRn: CR0.PE/PG changes fire `cpu_mode_change` and rebuild the caches."""
        old = self.cr[index]
        if index == 0:
            value = (value | CR0_ET) if self.generation == 3 and self.has_fpu else value
            value |= 0x10 if self.generation >= 4 else 0
        if self.generation >= 6 and paging.pdptes_reload(self, index, old, value):
            # #GP(0) for a reserved bit, before anything changes
            self.pdpte = paging.load_pdptes(self, value if index == 3 else self.cr[3])
        self.cr[index] = value & 0xFFFFFFFF
        if index == 0 and (old ^ value) & (CR0_PE | CR0_PG):
            if self.hooks.cpu_mode_change:
                for bit, what in ((CR0_PE, "pe"), (CR0_PG, "pg")):
                    if (old ^ value) & bit:
                        self.machine.hooks.call.cpu_mode_change(
                            machine=self.machine, what=what, old=int(bool(old & bit)),
                            new=int(bool(value & bit)))
            if not value & CR0_PE:
                protected.set_cpl(self, 0)
            self.enter_regime()
        else:
            paging.control_register_written(self, index, old, value)

    # ------------------------------------------------------------------ register API
    def get_reg(self, name: str) -> int:
        name = name.lower()
        regs = self.regs
        if name in REG32:
            return regs[REG32.index(name)]
        if name in REG16:
            return regs[REG16.index(name)] & 0xFFFF
        if name in REG8:
            index = REG8.index(name)
            return (regs[index & 3] >> (8 if index >= 4 else 0)) & 0xFF
        if name in SEGS:
            return self.seg_sel[SEGS.index(name)]
        if name == "eip":
            return self.eip
        if name == "ip":
            return self.eip & 0xFFFF
        if name == "eflags":
            return self.get_eflags()
        if name == "flags":
            return self.get_eflags() & 0xFFFF
        if name.startswith("cr") and name in CONTROL:
            return self.cr[int(name[2:])]
        raise KeyError(f"unknown register {name!r}")

    def set_reg(self, name: str, value: int) -> None:
        name = name.lower()
        regs = self.regs
        if name in REG32:
            regs[REG32.index(name)] = value & 0xFFFFFFFF
        elif name in REG16:
            index = REG16.index(name)
            regs[index] = (regs[index] & 0xFFFF0000) | (value & 0xFFFF)
        elif name in REG8:
            index = REG8.index(name)
            shift = 8 if index >= 4 else 0
            regs[index & 3] = (regs[index & 3] & ~(0xFF << shift)) | ((value & 0xFF) << shift)
        elif name in SEGS:
            index = SEGS.index(name)
            self.load_segment(index, value)
        elif name == "eip":
            self.eip = value & 0xFFFFFFFF
        elif name == "ip":
            self.eip = value & 0xFFFF
        elif name == "eflags":
            self.set_eflags(value)
        elif name == "flags":
            self.set_eflags((self.get_eflags() & 0xFFFF0000) | (value & 0xFFFF))
        elif name.startswith("cr") and name in CONTROL:
            self.write_cr(int(name[2:]), value)
        else:
            raise KeyError(f"unknown register {name!r}")

    def read_linear(self, address: int, size: int) -> int:
        return (self.rd8, self.rd16, None, self.rd32)[size - 1](address)

    def write_linear(self, address: int, size: int, value: int) -> None:
        (self.wr8, self.wr16, None, self.wr32)[size - 1](address, value)

    def read_mem(self, seg_name: str, offset: int, size: int) -> int:
        return self.read_linear(self.seg_base[SEGS.index(seg_name)] + offset, size)

    def write_mem(self, seg_name: str, offset: int, size: int, value: int) -> None:
        self.write_linear(self.seg_base[SEGS.index(seg_name)] + offset, size, value)


for _accessor in (CPU.load_on_bus, CPU.store_on_bus, CPU.sync_after_bus, CPU.segment_fault,
                  CPU.segment_write_fault, CPU.segment_read_fault, CPU.stack_fault, Bus.read,
                  Bus.write):
    keeps_cpu_state(_accessor)
