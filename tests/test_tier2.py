"""Tier 2 (plugins/cpu/tier2.py): the translated block functions against tier 1.

Tier 2 inlines tier 1's own closures, so the reference is tier 1: the same
guest run with tier 2 off and with every block translated at its first run
(threshold 0) must show the same events at the same instruction counts (every
port access, IRQ line change, interrupt, exception and mode change) and end in
the same machine state.  The guests are our protected-mode kernel (paging, page faults, ring
changes, the PIC and PIT), the self-modifying-code and string guests, and the
bench loops.  The translator's transformations are also checked one by one on
small functions, and snapshots cross between the tiers.
"""

import ast
import os
import platform
import re
from typing import Any, Dict, List, Tuple

import pytest

from pcmachine import Machine, hookimpl
from pcmachine.plugins.cpu import tier2
from pcmachine.record import load_snapshot, machine_digest, save_snapshot

from cpu_support import assemble, load_code, make_machine, run_until_stopped
from runtimes import default_run_on, slow_except_on
from test_cpu_protected import FIXED_RTC, MODEL, kernel_floppy
from test_snapshot_behaviour import GuestView

OFF = ["cpu.tier2=false"]
FORCED = ["cpu.tier2=true", "cpu.tier2_threshold=0"]
GUESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests")
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins", "data")


class EventLog(GuestView):
    """What a guest can observe (port accesses, IRQ lines, interrupts, with
    instruction count and virtual time), plus exceptions and mode changes."""

    @hookimpl
    def cpu_exception(self, machine: Any, vector: int, error_code: Any, cs: int, eip: int) -> None:
        self._add(machine, "exc", vector, error_code, cs, eip)

    @hookimpl
    def cpu_mode_change(self, machine: Any, what: str, old: int, new: int) -> None:
        self._add(machine, "mode", what, old, new)


class SteppedEventLog(EventLog):
    """An EventLog whose instruction hook makes the CPU run one instruction at a
    time: a reference that takes no decoded block's guess about control flow."""

    @hookimpl
    def instruction(self, machine: Any, cs: int, eip: int, linear: int, cpu: Any) -> None:
        pass


def boot(sets: List[str], media: Dict[str, str], instructions: int,
         stepped: bool = False) -> Tuple[Machine, EventLog, str]:
    log = SteppedEventLog() if stepped else EventLog()
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC] + sets, media,
                                   setup=lambda m: m.add_plugin(log))
    try:
        reason = machine.run_headless(instructions)
    finally:
        machine.close()
    return machine, log, reason


def boot_sector(tmp_path: Any, relative: str) -> str:
    """A floppy with this boot sector (a path under tests/guests, or under
    plugins/data for the bench loops, which run from 7C00h too)."""
    with open(os.path.join(GUESTS if "/" in relative else DATA, relative), "rb") as handle:
        code = handle.read()
    return floppy(tmp_path, os.path.basename(relative).replace(".bin", ".img"), code)


def floppy(tmp_path: Any, name: str, code: bytes) -> str:
    """A 1.44 MB floppy image whose first sector holds `code`."""
    path = str(tmp_path / name)
    with open(path, "wb") as handle:
        handle.write(code.ljust(1474560, b"\0"))
    return path


def assert_same_run(reference: Tuple[Machine, EventLog, str], other: Tuple[Machine, EventLog, str]) -> None:
    """Two `boot` results: the same stop reason, count, events and final state."""
    (reference_machine, reference_log, reference_reason), (machine, log, reason) = reference, other
    assert reason == reference_reason
    assert machine.clock.icount == reference_machine.clock.icount
    assert len(log.events) == len(reference_log.events)
    for ours, theirs in zip(log.events, reference_log.events):
        assert ours == theirs
    assert machine_digest(machine) == machine_digest(reference_machine)


def compare_runs(reference_sets: List[str], other_sets: List[str], media: Dict[str, str],
                 instructions: int) -> Tuple[Machine, Machine]:
    """Run the guest with each set of options; the two runs must not differ."""
    reference = boot(reference_sets, media, instructions)
    other = boot(other_sets, media, instructions)
    assert_same_run(reference, other)
    return reference[0], other[0]


def compare_tiers(sets: List[str], media: Dict[str, str], instructions: int) -> Machine:
    """Run with tier 2 off and forced; the two runs must not differ."""
    reference, translated = compare_runs(OFF + sets, FORCED + sets, media, instructions)
    assert reference.cpu.tier2_translated == 0
    assert translated.cpu.tier2_translated > 0
    return translated


#: Both ways tier 2 builds a block that does not loop: with every pass (CPython's
#: default) and without the passes after constant propagation (PyPy's).  The
#: default run takes each way on the runtime whose default it is (the generated
#: code is the same on both); the other runtime takes it under `-m slow`.
OPTIMISED = pytest.mark.parametrize("optimise_every_block", [
    pytest.param(True, id="every-block-optimised", marks=slow_except_on("CPython")),
    pytest.param(False, id="loops-optimised", marks=slow_except_on("PyPy"))])


@OPTIMISED
@pytest.mark.heavy(30)
def test_protected_mode_kernel_runs_identically_translated(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, optimise_every_block: bool) -> None:
    monkeypatch.setattr(tier2, "OPTIMISE_EVERY_BLOCK", optimise_every_block)
    machine = compare_tiers([MODEL], {"fda": kernel_floppy(tmp_path)}, 5_000_000)
    lines = machine.components["debugcon"].text.splitlines()
    assert lines[-1] == "kernel: all stages passed"
    assert any("#PF" in line for line in lines)


@pytest.mark.parametrize("guest", ["devices/rep_irq.bin", "devices/timer.bin", "bench_realmode_loop.bin",
                                   "bench_protected_loop.bin"])
@OPTIMISED
def test_boot_sector_guests_run_identically_translated(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, guest: str, optimise_every_block: bool) -> None:
    monkeypatch.setattr(tier2, "OPTIMISE_EVERY_BLOCK", optimise_every_block)
    compare_tiers([], {"fda": boot_sector(tmp_path, guest)}, 3_000_000)


@pytest.mark.parametrize("warmup", [10 ** 9, 1], ids=["loop", "promoted"])
def test_the_loop_runner_runs_the_kernel_as_the_unrolled_runners(tmp_path: Any, warmup: int) -> None:
    """Tier 1's two runners (blockrun.py): the loop runner alone, or replaced by
    the unrolled runner after one run, against the unrolled runners from the start."""
    media = {"fda": kernel_floppy(tmp_path)}
    _, machine = compare_runs(OFF + [MODEL, "cpu.runner_warmup=0"],
                              OFF + [MODEL, "cpu.runner_warmup=%d" % warmup], media, 5_000_000)
    assert machine.components["debugcon"].text.splitlines()[-1] == "kernel: all stages passed"


#: A boot sector whose inner loop is one block that branches back to itself
#: (tier 2 runs it as a `while` loop), under a fast PIT tick whose handler
#: writes the loop counter to the debug port: every interrupt and port write
#: must come at the same instruction count as with the block run once per turn.
SELF_LOOP_UNDER_TICKS = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [8 * 4], tick
    mov word [8 * 4 + 2], 0
    mov al, 0x34
    out 0x43, al
    mov al, 150
    out 0x40, al
    xor al, al
    out 0x40, al
    in al, 0x21
    and al, 0xFE
    out 0x21, al
    xor bx, bx
    xor dx, dx
    sti
again:
    mov ecx, 20000
spin:
    add bx, cx
    dec ecx
    jnz spin
    inc dx
    cmp dx, 40
    jb again
    cli
    hlt
tick:
    push ax
    mov ax, cx
    out 0xE9, al
    mov al, 0x20
    out 0x20, al
    pop ax
    iret
"""


def test_a_block_that_branches_to_itself_runs_identically_as_a_loop(tmp_path: Any) -> None:
    path = floppy(tmp_path, "spin.img", assemble(SELF_LOOP_UNDER_TICKS))
    translated = compare_tiers([], {"fda": path}, 2_000_000)
    assert len(translated.components["debugcon"].data) > 20        # ticks came in the loop


SPIN_LOOP = """
    mov cx, 100
    xor bx, bx
spin:
    add bx, cx
    dec cx
    jnz spin
    hlt
"""
#: The same loop through a call: the block follows the CALL and the RET back.
CALL_LOOP = SPIN_LOOP.replace("add bx, cx", "add bx, cx\n    call leaf") + """
leaf:
    shl bx, 1
    ret
"""


@pytest.mark.parametrize("code, turn", [(SPIN_LOOP, 3), (CALL_LOOP, 6)], ids=["spin", "call"])
def test_a_block_that_branches_to_itself_is_translated_as_a_loop(code: str, turn: int) -> None:
    sources, _ = translated_sources(code)
    loops = [source for source in sources if "while True" in source]
    assert len(loops) == 1
    assert re.search(r"icount \+ %d > \w*clock\.stop_icount" % (2 * turn), loops[0])


#: A loop whose block runs through a CALL, the callee's RET and back (one block,
#: a `while` loop in tier 2), under a fast PIT tick whose handler flips the
#: distance the callee adds to its return address: then the RET goes elsewhere
#: than the block guessed, and leaves the translated loop.
CALL_LOOP_UNDER_TICKS = SELF_LOOP_UNDER_TICKS.replace("""
spin:
    add bx, cx
    dec ecx
    jnz spin""", """
    xor di, di
spin:
    add bx, cx
    call leaf
    inc bx                  ; skipped when the handler made DI 1
    dec ecx
    jnz spin""", 1).replace("""
tick:
    push ax""", """
leaf:
    pop si
    add si, di
    push si
    rol bx, 3
    ret
tick:
    xor di, 1
    push ax""")


def test_a_loop_through_a_call_runs_identically_as_a_loop(tmp_path: Any) -> None:
    media = {"fda": floppy(tmp_path, "calls.img", assemble(CALL_LOOP_UNDER_TICKS))}
    translated = boot(FORCED, media, 600_000)
    assert translated[0].cpu.tier2_translated > 0
    assert len(translated[0].components["debugcon"].data) > 20     # ticks came in the loop
    assert_same_run(boot(OFF, media, 600_000), translated)
    # Tier 1's blocks make the same guess: one instruction at a time is the reference.
    assert_same_run(boot(OFF, media, 600_000, stepped=True), translated)


@pytest.mark.parametrize("model, expected", [("pentium", 6), ("80486", 5)])
@pytest.mark.parametrize("threshold", [None, 0], ids=["tier2-off", "forced"])
def test_a_loop_that_patches_itself(model: str, expected: int, threshold: Any) -> None:
    """A block that branches back to itself and stores into its own next
    instruction: a Pentium runs the new byte at once (3 + 2 + 1); a 486 runs
    what it prefetched until the jump back, which decodes the block again
    (0, then the bytes the turn before wrote: 3 + 2).  As a tier-2 loop the
    block must leave its loop when the store drops it."""
    machine = make_machine(model, **({"tier2": False} if threshold is None else
                                     {"tier2_threshold": threshold}))
    load_code(machine, assemble("""
        xor ax, ax
        mov ds, ax
        mov cx, 3
        xor dx, dx
    again:
        mov [cs:patched + 1], cl
    patched:
        mov al, 0
        add dl, al
        dec cx
        jnz again
        hlt
    """))
    assert run_until_stopped(machine) == "halted"
    assert machine.cpu.get_reg("dl") == expected


@default_run_on("CPython")    # 43 s on CPython, 31 s on PyPy: translating every block
def test_snapshots_cross_between_the_tiers(tmp_path: Any) -> None:
    """A snapshot taken with tier 2 forced restores with tier 2 off (and the other
    way round) and ends where a straight run ends."""
    media = {"fda": kernel_floppy(tmp_path)}
    straight, _, _ = boot(OFF + [MODEL], media, 5_000_000)
    for taken, restored_with in ((FORCED, OFF), (OFF, FORCED)):
        snap = str(tmp_path / "mid.snap")
        first = Machine.from_profile("pc.yaml", [FIXED_RTC, MODEL] + taken, media)
        first.at_icount(6_000, lambda: save_snapshot(first, snap))
        first.run_headless(10_000)
        first.close()
        _, state, _ = load_snapshot(snap)
        second = Machine.from_profile("pc.yaml", [FIXED_RTC, MODEL] + restored_with, media)
        second.restore(state)
        second.run_headless(5_000_000)
        second.close()
        assert machine_digest(second) == machine_digest(straight)


#: One routine copied to two pages (a fork's copy of code): a block that runs
#: once per call and one that branches back to itself, with a memory operand and
#: an immediate.  Copy B is called, its immediate patched, and called again.
COPIED_ROUTINE = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov di, 0x2000
    call copy
    mov di, 0x3000
    call copy
    xor bx, bx
    mov ax, 0x2000
    call ax
    mov ax, 0x3000
    call ax
    mov byte [0x3000 + step - routine], 5
    mov ax, 0x3000
    call ax
    mov ax, 0x2000
    call ax
    hlt
copy:
    mov si, routine
    mov cx, routine_end - routine
    rep movsb
    ret
routine:
    mov dx, 100
    add bx, 1
.again:
    add bx, dx
    add [0x500], bx
    add bx, 3
step equ $ - 1
    dec dx
    jnz .again
    ret
routine_end:
"""


def copied_routine_results(steps: List[int]) -> Tuple[int, int]:
    """BX and the word at 500h after calls of the routine with these immediates."""
    bx = total = 0
    for step in steps:
        bx = (bx + 1) & 0xFFFF
        for dx in range(100, 0, -1):
            bx = (bx + dx) & 0xFFFF
            total = (total + bx) & 0xFFFF
            bx = (bx + step) & 0xFFFF
    return bx, total


@pytest.mark.parametrize("share", [True, False], ids=["shared", "each-translated"])
def test_copies_of_a_block_share_one_translation(share: bool) -> None:
    """Copy B's blocks get copy A's translations (`plugins/cpu/translations.py`);
    once its immediate is patched, B's blocks are new ones with their own, and A
    keeps its 3.  Sharing changes nothing but the count of translations made."""
    results = []
    for options in ({"tier2": False}, {"tier2_threshold": 0, "tier2_share": share}):
        machine = make_machine("pentium", **options)
        load_code(machine, assemble(COPIED_ROUTINE))
        assert run_until_stopped(machine) == "halted"
        memory = machine.bus.memory
        results.append((machine.clock.icount, machine.cpu.get_reg("bx"), memory[0x500] | memory[0x501] << 8))
        translations = machine.cpu.translations
    assert results[0] == results[1]
    assert results[1][1:] == copied_routine_results([3, 3, 5, 3])
    # Copy B's three blocks (the entry, the loop, the RET) at its first call, and
    # its RET again after the patch dropped the routine's blocks (one 64-byte
    # bucket): the patched entry and loop are translated anew.
    assert translations.shared == (4 if share else 0)


def test_a_translation_that_holds_its_blocks_flag_is_not_shared() -> None:
    """A helper that tier 2 leaves as a call and that reads the block's `alive`
    flag would be another block's helper in a shared translation: such a
    translation is not kept for sharing, so each block reads its own flag."""
    cpu = make_machine("pentium").cpu

    def block_for(alive: List[bool]) -> List[Any]:
        def helper(eip: int) -> int:
            def flag() -> bool:         # a nested definition: tier 2 keeps the call
                return alive[0]
            return eip + 1 if flag() else eip + 2

        def instruction(eip: int) -> int:
            return helper(eip)
        return [instruction]
    first_alive, second_alive = [True], [True]
    first = cpu.translations.translate(cpu, block_for(first_alive), [False], first_alive, False)
    second = cpu.translations.translate(cpu, block_for(second_alive), [False], second_alive, False)
    first_alive[0] = False
    assert (first(0x100, 0), second(0x100, 0)) == (0x102, 0x101)
    assert cpu.translations.shared == 0


# ---------------------------------------------------------------- the translator


def translated_source(fn: Any, namespace: Dict[str, Any] = None) -> str:
    translator = tier2.Translator(dict(namespace or {}))
    return ast.unparse(tier2._locate(ast.Module(body=translator.instruction(fn), type_ignores=[])))


def run_translated(fn: Any, eip: int, namespace: Dict[str, Any] = None) -> int:
    """Execute the translation of an instruction-like function `fn(eip) -> eip`."""
    translator = tier2.Translator(dict(namespace or {}))
    body = translator.instruction(fn)
    function = ast.parse("def run(eip):\n    pass\n    return eip").body[0]
    function.body[0:1] = body
    module = tier2._locate(ast.Module(body=[function], type_ignores=[]))
    exec(compile(module, "<test>", "exec"), translator.namespace)
    return translator.namespace["run"](eip)


def make_early_return(state: List[int]):
    def helper(value: int) -> int:
        if value & 1:
            state.append(value)
            return value * 3
        if value > 10:
            return value - 10
        return value

    def instruction(eip: int) -> int:
        return eip + helper(state[0])
    return instruction


@pytest.mark.parametrize("value,expected", [(5, 15), (12, 2), (4, 4)])
def test_early_returns_are_lowered_into_branches(value: int, expected: int) -> None:
    state = [value]
    fn = make_early_return(state)
    assert run_translated(fn, 100) == fn(100) == 100 + expected
    assert "return" not in translated_source(fn)


def make_ordered(log: List[str]):
    def first() -> int:
        log.append("first")
        return 1

    def second() -> int:
        log.append("second")
        return 2

    def instruction(eip: int) -> int:
        value = log.pop and len(log) + first() * 10 + second()
        return eip + value
    return instruction


def test_inlined_calls_keep_the_order_of_evaluation() -> None:
    """`len(log)` is read before `first()` and `second()` append to it."""
    expected_log: List[str] = []
    expected = make_ordered(expected_log)(0)
    log: List[str] = []
    assert run_translated(make_ordered(log), 0) == expected == 12
    assert log == expected_log == ["first", "second"]


def make_short_circuit(calls: List[int]):
    def check(value: int) -> bool:
        calls.append(value)
        return value > 2

    def instruction(eip: int) -> int:
        taken = calls[0] == 0 or check(eip)
        return eip + (1 if taken else 2)
    return instruction


@pytest.mark.parametrize("first,eip", [(0, 5), (1, 5), (1, 1)])
def test_and_or_keep_short_circuiting(first: int, eip: int) -> None:
    reference_calls = [first]
    reference = make_short_circuit(reference_calls)(eip)
    calls = [first]
    assert run_translated(make_short_circuit(calls), eip) == reference
    assert calls == reference_calls


def test_constant_tests_fold_away() -> None:
    """The decoder's run-time specialisation (here: the ALU kind) becomes straight code."""
    from pcmachine.plugins.cpu import ops_basic

    class FakeCPU:
        regs = [0] * 8
    cpu = FakeCPU()
    fn = ops_basic.inline_alu32(cpu, 6, 3, 0, 0, 2, 0xFFFFFFFF)     # xor ebx, eax
    source = translated_source(fn)
    assert "if" not in source and "^" in source
    cpu.regs[:] = [0x0F0F, 0, 0, 0xFFFF, 0, 0, 0, 0]
    cpu.lf_op = cpu.lf_res = cpu.lf_mask = 0
    assert run_translated(fn, 0x1000) == 0x1002
    assert cpu.regs[3] == 0xF0F0 and cpu.lf_res == 0xF0F0


@pytest.mark.parametrize("before, after", [
    ("(a & 0xFFFFFFFF) + 1 & 0xFFFFFFFF", "a + 1 & 4294967295"),      # 32-bit INC
    ("t + 1 * b & 0xFFFF", "t + b & 65535"),                          # ADD as a + sign * b
    ("a + 0 + c & 0xFFFFFFFF", "a + c & 4294967295"),                 # ADC without carry in
    ("eip + 5 + 13 & 0xFFFFFFFF", "eip + 18 & 4294967295"),           # CALL's target
    ("((a & 0xFFFFFFFF) ^ (b - 0)) & 0xFFFF", "(a ^ b) & 65535"),
    ("(a & 0xFF) + 1 & 0xFFFF", "(a & 255) + 1 & 65535"),             # a narrower mask stays
    ("(a & 0xFFFFFFFF) >> 1 & 0xFFFF", "(a & 4294967295) >> 1 & 65535"),  # shifted in from above
    ("(a & 0xFFFF0000) + 1 & 0xFFFF", "(a & 4294901760) + 1 & 65535"),    # not a low mask
    ("1 * a", "1 * a"),                                             # no mask: a bool stays a bool
    ("(a + 0) * f & 0xFF", "a * f & 255"),
])
def test_the_operand_of_a_mask_loses_what_the_mask_ignores(before: str, after: str) -> None:
    """The operand of `& (2**k - 1)` loses an inner mask at least as wide, `1 * x`,
    `x + 0`, and adds its constants once (`tier2._simplify_mask`; `_fold` applies
    it on CPython)."""
    assert ast.unparse(tier2._simplify_mask(tier2._fold(ast.parse(before, mode="eval").body))) == after


def test_simplified_masked_expressions_keep_their_values() -> None:
    """Random expressions of ints and bools under a mask give the same value,
    and the same type, before and after `tier2._fold`."""
    import random
    rng = random.Random(17)
    masks = [0xFF, 0xFFFF, 0xFFFFFFFF]
    operators = ["+", "-", "*", "&", "|", "^", ">>", "<<"]

    def expression(depth: int) -> str:
        pick = rng.random()
        if depth == 0 or pick < 0.25:
            return rng.choice(["a", "b", "c", "0", "1", "13", "4294967295", "65535"])
        if pick < 0.45:
            return "(%s & %d)" % (expression(depth - 1), rng.choice(masks))
        op = rng.choice(operators)
        right = str(rng.randrange(1, 5)) if op in (">>", "<<") else expression(depth - 1)
        return "(%s %s %s)" % (expression(depth - 1), op, right)

    changed = 0
    for _ in range(3000):
        text = "(%s) & %d" % (expression(4), rng.choice(masks))
        simplified = ast.unparse(tier2._simplify_mask(tier2._fold(ast.parse(text, mode="eval").body)))
        changed += simplified != ast.unparse(ast.parse(text, mode="eval").body)
        for values in ({"a": rng.randrange(1 << 32), "b": rng.randrange(1 << 32), "c": True},
                       {"a": False, "b": True, "c": rng.randrange(1 << 32)}):
            want, got = eval(text, {}, values), eval(simplified, {}, values)
            assert (got, type(got)) == (want, type(want)), (text, simplified, values)
    assert changed > 500


def test_block_functions_keep_registers_and_flags_in_locals(tmp_path: Any) -> None:
    """The bench loop's hot block works on locals loaded at its start and stored at
    its end, and knows the lazy-flag record one instruction leaves to the next."""
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC] + FORCED,
                                   {"fda": boot_sector(tmp_path, "bench_protected_loop.bin")})
    sources = []
    translations = machine.cpu.translations
    original = translations.translate

    def keep(*args: Any) -> Any:
        sources.append(tier2.source(*args))
        return original(*args)
    translations.translate = keep
    try:
        machine.run_headless(300_000)
    finally:
        machine.close()
    # The inner loop is one block (through `call mix` and its RET), a `while` loop.
    hot = [source for source in sources if "while True" in source and "lf_op = 7" in source]
    assert hot, "the loop's block was not translated"
    body = hot[0].split("except fault_type")[0]
    before, turn = body.split("while True")
    after = turn.split("icount += 14")[1]
    assert re.search(r"reg3 = (L_)?regs\[3\]", before)           # loaded once
    assert re.search(r"(L_)?regs\[3\] = reg3", after)             # stored after the loop
    # `cmp ebp, ebx; adc ebp, 0; inc ebx; dec ecx; jnz inner`: after MIX's RET.
    tail = turn.split("LoopExit()")[-1]
    # INC EBX on a local: EBX's, or the temporary of MIX's SHL that EBX holds
    # (the memory accesses' slow paths leave the registers alone: no reload).
    ebx = r"(reg3|i\d+_result)"
    inc = r"\(%s & 4294967295\) \+ 1" % ebx if not tier2.SIMPLIFY_MASKS else r"%s \+ 1" % ebx
    assert re.search(r"= %s & 4294967295" % inc, tail)
    assert not re.search(r"reg3 & 0\b", tail)                     # no upper half to keep
    # DEC ECX follows INC: its test of the lazy record (which CF?) is folded away.
    assert re.search(r"lf_b = i\d+_carry", tail)
    # INC follows ADC, whose lf_op is 1 or 2 (carry in or not): INC's test of
    # the lazy record keeps those two cases, without the general path (a call
    # to lazy_flags, a sync point).
    assert "lazy_flags" not in tail and "synced = True" not in tail
    assert "lf_op == 1" in tail and "lf_op == 3" not in tail
    # Dead values are gone: CMP's lazy record (ADC reads its operands), INC's
    # lf_op that DEC overwrites.  After the predicted RET, EIP is the return
    # address, a constant: CMP, ADC and INC step nothing and JNZ assigns one
    # of two constants.
    assert "lf_op = 3" not in tail and "lf_op = 6" not in tail
    assert not re.search(r"^\s*eip = eip", tail, re.M)
    assert len(re.findall(r"\beip = \d+\n", tail)) == 2


def make_self_reading(values: List[int]):
    def check(value: int) -> bool:
        return value > 3

    def helper(value: int) -> int:
        return value == 0 or check(value) and value

    def instruction(eip: int) -> int:
        value = values[0]
        value = helper(value)
        return eip + int(value)
    return instruction


@pytest.mark.parametrize("value", [0, 2, 7])
def test_a_result_assigned_to_an_argument_reads_the_argument_first(value: int) -> None:
    """`value = helper(value)` where helper returns `value == 0 or ...`: the second
    operand must still see the argument, not the first operand's result."""
    fn = make_self_reading([value])
    assert run_translated(fn, 10) == fn(10)


COPIES = """
a = s[0]
b = a
c = b + 1
a = 7
d = b + 1
f = c
for i in range(2):
    g = f + i
    c = c + 1
if d:
    h = b
    n = h + 1
    b = 0
    k = h + a
else:
    k = n = 0
m = h
"""


def test_a_copys_readers_read_its_source_until_either_is_assigned_again() -> None:
    """`_forward`: `c = b + 1` reads `a`; after `a = 7`, `b` itself; inside a
    loop that assigns `c`, `f` stays `f`; `h` is read as `b` until `b` changes
    (so `h + 1` is `b + 1`, which `d` holds), and after the `if` (the copy was
    made on one path only) as `h`."""
    module = ast.parse(COPIES)
    tier2._forward(module.body, tier2._Available(), tier2._Forwarding(module.body, set(), {}))
    lines = ast.unparse(module).splitlines()
    assert "c = a + 1" in lines and "d = b + 1" in lines and "    g = f + i" in lines
    assert "    n = d" in lines and "    k = h + a" in lines and "m = h" in lines
    expected: Dict[str, Any] = {"s": [5]}
    exec(COPIES, expected)
    got: Dict[str, Any] = {"s": [5]}
    exec(compile(tier2._locate(module), "<copies>", "exec"), got)
    names = "abcdfgikmn"
    assert [got[name] for name in names] == [expected[name] for name in names]


def translated_sources(code: str, model: str = "80486") -> Tuple[List[str], List[Any]]:
    """Run real-mode `code` to its HLT with every block translated at its first
    run: the sources and the functions of the translations."""
    machine = make_machine(model)
    machine.cpu.tier2_threshold = 0
    load_code(machine, assemble(code))
    sources, functions = [], []
    translations = machine.cpu.translations
    original = translations.translate

    def keep(*args: Any) -> Any:
        sources.append(tier2.source(*args))
        functions.append(original(*args))
        return functions[-1]
    translations.translate = keep
    assert run_until_stopped(machine) == "halted"
    return sources, functions


def test_ram_accesses_through_struct_are_not_sync_points() -> None:
    """A dword load on the RAM fast path calls the `struct` method directly, on
    both runtimes (on PyPy the method is no builtin: it was taken for an unknown
    call, with every register stored before it and loaded again after it)."""
    sources, _ = translated_sources("""
        mov ebx, 0x1000
        mov dword [0x1004], 0x12345678
        mov eax, [ebx+4]
        add eax, 1
        hlt
    """)
    lines = "\n".join(sources).splitlines()
    loads = [index for index, line in enumerate(lines) if "UNPACK32(" in line]
    assert loads
    for index in loads:        # right under the fast path's test: no sync stores before it
        assert "read_fast[" in lines[index - 1], lines[index - 3:index + 1]


@pytest.mark.skipif(platform.python_implementation() != "PyPy", reason="a PyPy dictionary strategy")
def test_block_functions_read_their_globals_from_a_module_dictionary() -> None:
    """PyPy's JIT reads a module's globals as constants and a plain dictionary's
    with a lookup per access (tier 2 ran the bench loops 6x slower so)."""
    import __pypy__
    _, functions = translated_sources("mov ax, 1\nadd ax, bx\nhlt")
    assert functions
    assert {__pypy__.strategy(function.__globals__) for function in functions} == {"ModuleDictStrategy"}


def test_cmov_and_setcc_conditions_are_inlined() -> None:
    """CMOVcc and SETcc test their condition inside the block function, against the
    flags the CMP before them left in locals: no call, so no sync point (the
    Linux RSA self-test's inner loop has both)."""
    code = """
        mov eax, 5
        mov ebx, 7
        mov edx, 1
        cmp eax, ebx
        cmovb edx, ebx
        setb cl
        setae ch
        cmovae eax, ebx
        jc $+2
        hlt
    """
    sources, _ = translated_sources(code, "pentiumpro")
    body = "\n".join(source for source in sources if "halted" not in source)
    assert "condition" not in body and "synced = True" not in body.split("except fault_type")[0]
    machine = make_machine("pentiumpro")
    machine.cpu.tier2_threshold = 0
    load_code(machine, assemble(code))
    assert run_until_stopped(machine) == "halted"
    assert [machine.cpu.get_reg(r) for r in ("eax", "edx", "cl", "ch")] == [5, 7, 1, 0]


@pytest.mark.parametrize("threshold", [None, 0])
def test_a_fault_sees_the_flags_and_eip_of_the_instructions_before_it(threshold: Any) -> None:
    """Tier 2 drops values nothing reads and merges EIP steps, but not where an
    instruction may fault: the handler sees CMP's flags (CF from 5 < 7) and the
    faulting MOV's own IP, after the two instructions before it."""
    machine = make_machine("80486")
    machine.cpu.tier2_threshold = threshold
    load_code(machine, assemble("""
        xor ax, ax
        mov ds, ax
        mov word [13 * 4], handler
        mov word [13 * 4 + 2], 0
        mov cx, 3
    again:
        mov ax, 5
        cmp ax, 7
        inc si                  ; keeps CF: the handler sees CMP's
        mov bx, [0xFFFF]        ; a word at offset FFFF: #GP in real mode
        loop again
        hlt
    handler:
        pushf
        pop dx
        pop di                  ; the faulting IP
        add di, 4               ; past the 4-byte MOV
        push di
        iret
    """))
    assert run_until_stopped(machine) == "halted"
    cpu = machine.cpu
    assert cpu.get_reg("si") == 3
    assert cpu.get_reg("dx") & 1 == 1                       # CF set by CMP 5, 7
    assert cpu.get_reg("di") == 0x7C00 + 0x1A + 4          # the MOV's IP, then past it


CARRIED_STEPS = """
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7000
        mov word [13 * 4], handler
        mov word [13 * 4 + 2], 0
        mov cx, 3
    again:
        mov ax, [data]          ; fast load: its slow path would step EIP itself
        add [data + 2], ax      ; a store into the code's page: the slow path, which goes on
        call leaf               ; pushes the return address from the carried steps
        mov bx, [0xFFFF]        ; a word at offset FFFF: #GP in real mode
        loop again
        hlt
    leaf:
        pop dx                  ; the return address
        push dx
        ret
    handler:
        pop di                  ; the faulting IP
        add di, 4               ; past the 4-byte MOV
        push di
        iret
    data:
        dw 5, 0
"""


@pytest.mark.parametrize("threshold", [None, 0])
def test_eip_steps_carried_past_slow_paths_give_faults_and_calls_their_ip(
        threshold: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tier 2 steps EIP once for several instructions on the fast path, moving
    the steps past the `if`s of memory accesses into the paths that need them
    (`_carry`): a store that takes its slow path steps and steps back, a CALL's
    return address is computed from the carried steps, and a fault after both
    sees its own IP.  (Every block gets the pass here, as on CPython; under
    PyPy only looping blocks do by default.)"""
    monkeypatch.setattr(tier2, "OPTIMISE_EVERY_BLOCK", True)
    if threshold == 0:
        sources, _ = translated_sources(CARRIED_STEPS)
        loop = next(source for source in sources if "mov" not in source and "leaf" not in source
                    and "4294901760 | i" in source and "+ -" in source)
        assert "eip + -" in loop                               # a step back on a slow path
    machine = make_machine("80486")
    machine.cpu.tier2_threshold = threshold
    code = assemble(CARRIED_STEPS)
    load_code(machine, code)
    assert run_until_stopped(machine, limit=20_000) == "halted"
    cpu = machine.cpu
    fault = 0x7C00 + code.index(b"\x8b\x1e\xff\xff")        # `mov bx, [0xFFFF]`
    assert cpu.get_reg("di") == fault + 4
    assert cpu.get_reg("dx") == fault                       # CALL's return address
    assert machine.bus.memory[0x7C00 + len(code) - 2] == 15  # three turns added 5


def test_a_local_accumulated_in_an_inlined_loop_keeps_its_first_value() -> None:
    """MMX's 64-bit load is inlined with a `for` loop that ORs dword chunks into a
    local assigned before it: dead-value elimination must read `value |= chunk`
    as a use of `value` (it dropped `value = 0`: UnboundLocalError)."""
    code = """
        mov dword [0x1000], 0x11223344
        mov dword [0x1004], 0x55667788
        movq mm0, [0x1000]
        movd eax, mm0
        psrlq mm0, 32
        movd ebx, mm0
        hlt
    """
    machine = make_machine("pentium2", fpu=True)
    machine.cpu.tier2_threshold = 0
    load_code(machine, assemble(code))
    assert run_until_stopped(machine) == "halted"
    assert machine.cpu.tier2_translated > 0
    assert [machine.cpu.get_reg(r) for r in ("eax", "ebx")] == [0x11223344, 0x55667788]


#: A loop with a port write among register and memory instructions and a
#: segment load inside it: DS alternates between 100h and 200h, whose words at
#: offset 10h differ, so a translation that kept DS's base from an earlier turn
#: adds the wrong word.
PORTS_AND_SEGMENTS = """
    cli
    xor ax, ax
    mov ds, ax
    mov word [0x1010], 3
    mov word [0x2010], 5
    mov cx, 3000
    xor bx, bx
    xor si, si
    mov ax, 0x100
    mov dx, 0x80
spin:
    add bx, cx
    out dx, al
    inc bx
    mov ds, ax
    add si, [0x10]
    xor ax, 0x300
    dec cx
    jnz spin
    hlt
"""


def test_port_writes_and_segment_loads_in_a_translated_loop(tmp_path: Any) -> None:
    """Tier 2 stores the instruction count only where something can observe it
    (the port write's sync point) and keeps segment bases in locals between sync
    points: the port sees the counts tier 1 gives, and the loads go through the
    segment of their turn."""
    media = {"fda": floppy(tmp_path, "ports.img", assemble(PORTS_AND_SEGMENTS))}
    translated = compare_tiers([], media, 200_000)
    assert translated.cpu.halted
    assert translated.cpu.get_reg("si") == (1500 * 3 + 1500 * 5) & 0xFFFF
    sources, _ = translated_sources(PORTS_AND_SEGMENTS)
    for source in sources:
        # The count is stored before a sync point's stores (of the promoted
        # locals, or the call itself when none) and the final stores, not
        # between ordinary statements.
        lines = source.split("except fault_type")[0].rstrip().splitlines()
        stores = [index for index, line in enumerate(lines) if "clock.icount = " in line]
        for index in stores:
            assert index + 1 == len(lines) or re.match(
                r"\s*((cpu\.\w+|regs\[\d\]) = \w+$|synced = True|.*\()", lines[index + 1]), \
                lines[index - 2:index + 3]
    assert any(re.search(r"\bseg_base3 = seg_base\[3\]", source) for source in sources)


SINKING = """
a = x + 1
b = 2
if p:
    y = b
else:
    s.append(a)
a = 5
c = x * 2
d = c
if p:
    q = 1
else:
    s.append(c)
c = 0
e = x - 1
x = 9
if p:
    r = 1
else:
    s.append(e)
e = 0
"""


def test_stores_that_only_a_slow_branch_reads_move_into_it() -> None:
    """`_Sinker`: `a = x + 1` is read only by the `else` (and assigned again
    after the `if`): it moves there; `c` is read between (by `d = c`) and stays;
    `e` cannot pass `x = 9`, which changes its operand."""
    module = ast.parse(SINKING)
    tier2._Sinker({"a", "c", "e"}, set(), {}, {}, set()).sink(module.body, {"a", "c", "e", "x", "s"})
    text = ast.unparse(tier2._locate(module))
    assert text.splitlines()[0] == "b = 2"
    assert "else:\n    a = x + 1\n    s.append(a)" in text
    assert "c = x * 2\nd = c" in text and "e = x - 1\nx = 9" in text
    for p in (True, False):
        expected: Dict[str, Any] = {"s": [], "x": 4, "p": p}
        exec(SINKING, expected)
        got: Dict[str, Any] = {"s": [], "x": 4, "p": p}
        exec(compile(tier2._locate(module), "<sinking>", "exec"), got)
        assert got["s"] == expected["s"]


THROUGH = """
a = x + 1
if p:
    synced = True
    call(a)
    a = a_again
b = 2
if q:
    synced = True
    call(a)
a = 7
call(a)
"""


@pytest.mark.parametrize("keeps_state", [True, False])
def test_a_store_moves_past_slow_paths_that_leave_the_state_alone(keeps_state: bool) -> None:
    """`_Sinker`: `a = x + 1`, read after the first `if` too, moves past it when
    only its slow path reads it and its call leaves the CPU's state alone (the
    load after the sync point then gives `a` back): a copy in each slow path,
    none on the fast path, as `a = 7` overwrites it.  A call that may change the
    state keeps the store where it is."""
    from pcmachine.plugins.cpu import state
    seen: List[int] = []

    def call(value: int) -> None:
        seen.append(value)
    if keeps_state:
        state.keeps_cpu_state(call)
    module = ast.parse(THROUGH)
    reload = module.body[1].body[2]
    try:
        tier2._Sinker({"a"}, {"a"}, {}, {"call": call}, {id(reload)}).sink(module.body, {"a"})
    finally:
        state.KEEPS_CPU_STATE.discard(call.__code__)
    text = ast.unparse(tier2._locate(module))
    assert (text.splitlines()[0] == "if p:") == keeps_state
    assert text.count("a = x + 1") == (2 if keeps_state else 1)
    for p in (True, False):
        for q in (True, False):
            values = {"x": 4, "p": p, "q": q, "a_again": 5}
            seen.clear()
            exec(THROUGH, {"call": call, **values})
            expected = list(seen)
            seen.clear()
            exec(compile(tier2._locate(module), "<through>", "exec"), {"call": call, **values})
            assert seen == expected


FORWARDING = """
i1_v = w & 65535
reg0 = reg0 & 4294901760 | i1_v
i2_a = reg0 & 65535
i3_o = reg6 + 4 & 65535
if p:
    i4_x = 1
else:
    reg6 = s[0]
i5_o = reg6 + 4 & 65535
i6_a = reg0 & 65535
reg0 = reg0 & 4294901760 | w
i7_a = reg0 & 65535
"""


def test_values_computed_again_read_the_local_that_holds_them() -> None:
    """`_forward`: the low half of a 16-bit register write is read from what was
    written; an expression computed again reads its first local, also after a
    slow path (a branch with a sync point) that reloaded its operand: that
    branch computes the local again; `w` may be wider than 16 bits, so the
    last read stays."""
    module = ast.parse(FORWARDING)
    reload = module.body[4].orelse[0]
    tier2._forward(module.body, tier2._Available(), tier2._Forwarding(module.body, {id(reload)}, {}))
    text = ast.unparse(tier2._locate(module))
    assert "i2_a = i1_v" in text and "i6_a = i1_v" in text
    assert "    reg6 = s[0]\n    i3_o = reg6 + 4 & 65535" in text
    assert "i5_o = i3_o" in text and "i7_a = reg0 & 65535" in text
    for p in (True, False):
        for w in (0x1234, 0x51234):
            values = {"reg0": 0xABCD0000, "reg6": 0xFFFE, "w": w, "p": p, "s": [0x7777]}
            expected: Dict[str, Any] = dict(values)
            exec(FORWARDING, expected)
            got: Dict[str, Any] = dict(values)
            exec(compile(tier2._locate(module), "<forwarding>", "exec"), got)
            # (i3_o is computed again on the slow path, where nothing reads it after)
            names = ("i2_a", "i5_o", "i6_a", "i7_a", "reg0", "reg6")
            assert [got[name] for name in names] == [expected[name] for name in names]
