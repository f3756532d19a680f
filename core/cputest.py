"""`machine cputest`: run SingleStepTests JSON vectors against the CPU plugin.

Format and rules: the vector README (SingleStepTests 80286/80386 JSON).  Each test
loads registers and RAM into a 16 MiB machine, executes up to and including the
trailing HLT, and compares registers, FLAGS (with the per-opcode undefined-flag
mask from metadata.json) and RAM.
"""

import argparse
import gzip
import json
import os
import re
import sys
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .progress import StatusLine

REGS16 = ("ax", "bx", "cx", "dx", "sp", "bp", "si", "di")
SEG_NAMES = ("cs", "ss", "ds", "es")
REGS32 = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp")
MODEL_HINTS = (("80286", "80286"), ("C286", "80286"), ("80386", "80386"), ("386", "80386"),
               ("8086", "8086"), ("80186", "80186"), ("V20", "80186"))
#: POPF and IRET load FLAGS bits 12-15 differently on a 286 and a 386 (README).
FLAGS_LOW_ONLY_ON_386 = ("9D", "CF")


def find_files(paths: List[str]) -> List[str]:
    files = []
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                for name in sorted(names):
                    if re.fullmatch(r"[0-9A-Fa-f]{2,4}(\.\d)?\.json(\.gz)?", name):
                        files.append(os.path.join(root, name))
        else:
            files.append(path)
    return sorted(files)


def load_json(path: str) -> Any:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as handle:
        return json.load(handle)


def find_metadata(path: str) -> Tuple[Optional[dict], set]:
    """metadata.json and the revocation list from the file's folder or its parent."""
    folder = os.path.dirname(os.path.abspath(path))
    metadata, revoked = None, set()
    for candidate in (folder, os.path.dirname(folder)):
        meta = os.path.join(candidate, "metadata.json")
        if metadata is None and os.path.exists(meta):
            metadata = load_json(meta)
        revocations = os.path.join(candidate, "revocation_list.txt")
        if os.path.exists(revocations):
            with open(revocations) as handle:
                revoked |= {line.strip() for line in handle if line.strip()}
    return metadata, revoked


def guess_model(path: str, metadata: Optional[dict]) -> str:
    text = (metadata or {}).get("cpu", "") + " " + os.path.abspath(path)
    for hint, model in MODEL_HINTS:
        if hint in text:
            return model
    return "80386"


def opcode_entry(metadata: Optional[dict], stem: str) -> dict:
    if not metadata:
        return {}
    opcode, _, reg = stem.partition(".")
    entry = metadata.get("opcodes", {}).get(opcode.upper(), {})
    if reg and "reg" in entry:
        entry = entry["reg"].get(reg, {})
    return entry


class Runner:
    """One machine (RAM + CPU) reused for every test of a model."""

    def __init__(self, model: str) -> None:
        from pcmachine.machine import Machine
        from pcmachine.plugins.cpu import CPU
        from pcmachine.plugins.ram import RAM
        self.machine = Machine.bare()
        self.machine.add_component(RAM, "ram", {"size": 16 << 20})
        self.cpu = self.machine.add_component(CPU, "cpu", {"model": model})
        self.model = model
        self.is386 = model not in ("8086", "80186", "80286")

    def run(self, test: dict, flags_mask: int, recorded_on_286: bool = False) -> List[str]:
        """Execute one test; returns the differences (empty when it passed)."""
        cpu = self.cpu
        memory = self.machine.bus.memory
        initial, final = test["initial"], test["final"]
        touched = [address for address, _ in initial["ram"]] + [a for a, _ in final["ram"]]
        for address, value in initial["ram"]:
            memory[address] = value
        cpu.reset()
        regs = initial["regs"]
        self._load_regs(regs, recorded_on_286)
        clock = self.machine.clock
        clock.stop_icount = clock.icount + 1000
        cpu.run()
        differences = []
        if not cpu.halted:
            differences.append("did not reach HLT")
        expected_regs = dict(regs)
        expected_regs.update(final["regs"])
        for name, value in expected_regs.items():
            if name in ("cr0", "cr3", "dr6", "dr7"):
                continue
            actual = self._get(name)
            want = value
            if name in ("flags", "eflags"):
                actual &= flags_mask
                want &= flags_mask
            if actual != want:
                differences.append(f"{name}: expected {want:#x}, got {actual:#x}")
        exception = test.get("exception")
        flag_address = None
        if exception:
            # The FLAGS word sits above the pushed CS and IP; `flag_address` in the
            # data is rounded down to even when SP was odd, so derive it from SP.
            ss = expected_regs["ss"]
            flag_address = (ss << 4) + ((expected_regs["sp"] + 4) & 0xFFFF)
        for address, value in final["ram"]:
            actual = memory[address]
            if flag_address is not None and address in (flag_address, flag_address + 1):
                shift = 8 * (address - flag_address)
                byte_mask = (flags_mask >> shift) & 0xFF
                actual &= byte_mask
                value &= byte_mask
            if actual != value:
                differences.append(f"ram[{address:#x}]: expected {value:#04x}, got {actual:#04x}")
        for address in touched:
            memory[address] = 0
        return differences

    def _load_regs(self, regs: Dict[str, int], recorded_on_286: bool) -> None:
        cpu = self.cpu
        for name, value in regs.items():
            if name in ("ip", "eip"):
                cpu.set_reg(name, value)
            elif name in ("flags", "eflags"):
                if recorded_on_286:
                    value &= 0x0FFF   # README: a real-mode 286 cannot hold bits 12-15
                cpu.set_reg("eflags", value)
            elif name in ("cr0", "cr3", "dr6", "dr7"):
                if name.startswith("dr"):
                    cpu.dr[int(name[2:])] = value
            elif name in SEG_NAMES or name in ("fs", "gs"):
                cpu.set_reg(name, value)
            else:
                cpu.set_reg(name, value)
        cpu.rebuild()

    def _get(self, name: str) -> int:
        if name == "ip":
            return self.cpu.eip & 0xFFFF
        if name == "flags":
            return self.cpu.read_flags16()
        return self.cpu.get_reg(name)


def disassemble(code: bytes, bits: int = 16) -> str:
    try:
        import capstone
    except ImportError:
        return code.hex()
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16 if bits == 16 else capstone.CS_MODE_32)
    for insn in md.disasm(code, 0):
        return f"{insn.mnemonic} {insn.op_str}".strip()
    return "(not decodable by capstone) " + code.hex()


def iter_tests(path: str, revoked: set) -> Iterator[dict]:
    for test in load_json(path):
        if test.get("hash") not in revoked:
            yield test


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="machine cputest",
                                     description="Run SingleStepTests CPU test vectors.")
    parser.add_argument("paths", nargs="+", help="vector files or folders (.json or .json.gz)")
    parser.add_argument("--model", help="CPU model (default: from the metadata or folder name)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="show each failure: disassembly, expected and actual values")
    parser.add_argument("--limit", type=int, default=0, help="run at most N tests per file")
    parser.add_argument("--quiet", "-q", action="store_true", help="no status line")
    args = parser.parse_args(argv)
    files = find_files(args.paths)
    if not files:
        print("no test vector files found", file=sys.stderr)
        return 2
    runners: Dict[str, Runner] = {}
    total_passed = total_failed = 0
    status = StatusLine(quiet=args.quiet)
    for file_number, path in enumerate(files, 1):
        metadata, revoked = find_metadata(path)
        model = args.model or guess_model(path, metadata)
        runner = runners.get(model) or runners.setdefault(model, Runner(model))
        stem = os.path.basename(path).split(".json")[0]
        recorded_on_286 = guess_model(path, metadata) == "80286"
        entry = opcode_entry(metadata, stem)
        base_mask = entry.get("flags-mask", 0xFFFF if not runner.is386 else 0xFFFFFFFF)
        if runner.is386:
            # The 386 captures carry reserved EFLAGS bits 18-31 set in both the
            # initial and final state; a 386 reads them as zero.  Compare bits 0-17.
            base_mask &= 0x3FFFF
        if runner.is386 and stem.split(".")[0].upper() in FLAGS_LOW_ONLY_ON_386:
            base_mask &= 0x0FFF
        passed = failed = 0
        for number, test in enumerate(iter_tests(path, revoked)):
            if args.limit and number >= args.limit:
                break
            status.tick(lambda: f"file {file_number}/{len(files)} {stem}: test {number + 1} | "
                                f"{total_passed + passed:,} passed, {total_failed + failed:,} failed")
            try:
                differences = runner.run(test, base_mask, recorded_on_286)
            except Exception as error:  # a crash is a failure of this vector, not of the run
                differences = [f"emulator error: {type(error).__name__}: {error}"]
                runner.cpu.reset()
            if differences:
                failed += 1
                if args.verbose:
                    status.clear()
                    code = bytes(test["bytes"])
                    print(f"  FAIL {stem} #{test.get('idx')} {test.get('name', '')} "
                          f"[{disassemble(code)}] bytes {code.hex()}")
                    for line in differences:
                        print(f"      {line}")
            else:
                passed += 1
        status.clear()
        print(f"{stem}: {passed} passed, {failed} failed")
        total_passed += passed
        total_failed += failed
    print(f"{total_passed} passed, {total_failed} failed")
    return 0 if total_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
