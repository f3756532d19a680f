"""`machine compat`: boot the public guests of the corpus manifest
(`shared/guests/manifest.yaml`) through the same engine as the pytest plugin, and
write docs/compatibility.md.

`machine compat run` boots every guest on this runtime and stores, per marker, the
virtual and host seconds (host seconds from the launch of the machine, start-up
included, as the manifest measures QEMU and Bochs; without the pytest plugin's
recent-events log, whose hooks `machine run` does not have) in
`docs/compat/<runtime>.json`.  `machine compat write` renders docs/compatibility.md
from those result files, the manifest's QEMU/Bochs seconds and the hand-checked
guests in docs/compat/manual.md; tests/test_guests.py checks that the page is what
`write` makes (no drift).  A guest that fails stays in the table with the cause.

A guest with a `build` script and no image (linux-busybox) is built into a cache
folder first ($PCMACHINE_GUEST_CACHE/<name>, default ~/.cache/pcmachine/guests),
then booted the way its manifest's QEMU command line says (`-kernel`, `-initrd`,
`-append`, `-m`); a `display: serial` guest is driven on COM1.  Besides `wait` and
`type`, a guest's steps may swap floppies: `{change_floppy: "A:disk2.img"}` (an
image in the guest's folder) and `{eject_floppy: A}`.
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional

import yaml

from .errors import UserError
from .removable import drive_and_path

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPOSITORY, "docs", "compat")
PAGE = os.path.join(REPOSITORY, "docs", "compatibility.md")
#: manifest key names -> our key names where they differ
KEY_NAMES = {"{bs}": "{backspace}"}
#: hardware a guest needs that is not built yet: the cause shown while it fails
MISSING: Dict[str, str] = {}
#: QEMU flags of a manifest command line -> our BIOS kernel options
KERNEL_FLAGS = {"-kernel": "kernel", "-initrd": "initrd", "-append": "append"}


def shared_root() -> str:
    """The shared folder (guest corpus, CPU vectors, test386 reference):
    $PCMACHINE_SHARED, else ../shared beside the repository; it may not exist."""
    return os.environ.get("PCMACHINE_SHARED") or os.path.join(os.path.dirname(REPOSITORY), "shared")


def shared_folder() -> str:
    """The guest corpus in the shared folder; a one-line error when it is missing."""
    folder = shared_root()
    if not os.path.exists(os.path.join(folder, "guests", "manifest.yaml")):
        raise UserError(f"no guest corpus at {folder}/guests/manifest.yaml (set PCMACHINE_SHARED)")
    return folder


def load_manifest(shared: str) -> List[Dict[str, Any]]:
    with open(os.path.join(shared, "guests", "manifest.yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["guests"]


def runtime_name() -> str:
    return "pypy" if platform.python_implementation() == "PyPy" else "cpython"


def guest_keys(keys: str) -> str:
    for theirs, ours in KEY_NAMES.items():
        keys = keys.replace(theirs, ours)
    return keys


def boot_guest(pc: Any, entry: Dict[str, Any], shared: str, timeout: float) -> Dict[str, Any]:
    """Boot one guest through its steps with a `pcmachine.testing.PC`; returns
    {"status", "markers": {marker: {"virtual", "host"}}, "cause"}."""
    from .testing import GuestTimeout
    launched = time.monotonic()
    markers: Dict[str, Dict[str, float]] = {}
    result: Dict[str, Any] = {"status": "pass", "markers": markers}
    media = entry.get("media") or {}
    folder = os.path.join(shared, "guests", entry["name"])
    drives = {drive: os.path.join(folder, name) for drive, name in media.items() if drive in ("fda", "hda")}
    overrides = [f"ram.size={'128M' if entry['name'] == 'kolibri' else '32M'}"]
    try:
        if not drives:
            if "build" not in entry:
                result.update(status="fail", cause=MISSING.get(entry["name"], "no bootable medium in the manifest"))
                return result
            overrides = kernel_overrides(entry, build_guest(entry, shared))
        # No recent-events log: its mode-change hook would cost every switch into
        # and out of a V86 monitor (0.2 s of FreeDOS's boot), and only the first
        # line of a failure is kept here.
        m = pc.boot("pc.yaml", overrides=overrides, copy_media=bool(drives), events=False, **drives)
        serial = entry.get("display") == "serial"
        typed = False
        for step in entry["steps"]:
            kind, value = next(iter(step.items()))
            if kind in ("change_floppy", "eject_floppy"):
                # {change_floppy: "A:disk2.img"} (an image in the guest's folder), {eject_floppy: A}
                if kind == "change_floppy":
                    drive, name = drive_and_path(str(value))
                    m.change_floppy(drive, os.path.join(folder, name))
                else:
                    m.eject_floppy(str(value))
                continue
            if kind == "type":
                if serial:
                    m.serial.type(guest_keys(value))
                else:
                    m.type(guest_keys(value))
                typed = True
                continue
            if kind == "wait":
                (m.serial.wait if serial else m.wait_text)(value, timeout=timeout, after_input=typed)
            elif kind == "screen_mode":
                width, height = (int(part) for part in value.split("x"))
                m.run_until(lambda: _mode_is(m, width, height), timeout, False, f"a {value} screen mode")
            elif kind == "screen":
                m.run_until(lambda: _taskbar_drawn(m), timeout, False, value)
            markers[str(value)] = {"virtual": round(m.machine.clock.now() / 1e9, 2),
                                   "host": round(time.monotonic() - launched, 2)}
    except GuestTimeout as failure:
        first = str(failure).splitlines()[0]
        cause = MISSING.get(entry["name"])
        result.update(status="fail", cause=f"{first}" + (f"; {cause}" if cause else ""))
    except UserError as error:
        result.update(status="fail", cause=str(error))
    return result


def guest_cache(name: str) -> str:
    """The cache folder of a guest built or fetched on this machine:
    $PCMACHINE_GUEST_CACHE/<name>, default ~/.cache/pcmachine/guests/<name>."""
    return os.path.join(os.environ.get("PCMACHINE_GUEST_CACHE")
                        or os.path.join(os.path.expanduser("~"), ".cache", "pcmachine", "guests"), name)


def build_guest(entry: Dict[str, Any], shared: str) -> str:
    """Run the guest's build script into its cache folder (it does nothing when
    the cache is up to date); returns the folder."""
    cache = guest_cache(entry["name"])
    script = os.path.join(shared, "guests", entry["name"], "build.sh")
    done = subprocess.run(["sh", script, cache], capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise UserError(f"{script} failed: {lines[-1]}")
    return cache


def kernel_overrides(entry: Dict[str, Any], cache: str) -> List[str]:
    """Profile overrides from the manifest's QEMU command line (`-kernel`,
    `-initrd`, `-append`, `-m`), CACHE_DIR being the built cache folder."""
    words = shlex.split(entry["qemu"].replace("CACHE_DIR", cache))
    overrides = []
    for flag, value in zip(words, words[1:]):
        if flag in KERNEL_FLAGS:
            overrides.append(f"bios.{KERNEL_FLAGS[flag]}={value}")
            if flag == "-initrd":
                overrides.append(f"bios.initrd_name={value}")
        elif flag == "-m":
            overrides.append(f"ram.size={value}M")
    return overrides


def _mode_is(m: Any, width: int, height: int) -> bool:
    info = m.screen.mode_info() if m.screen is not None else {}
    return info.get("kind") != "text" and (info.get("width"), info.get("height")) == (width, height)


def _taskbar_drawn(m: Any) -> bool:
    """KolibriOS's marker (manifest notes): at least four colours on pixel row 586."""
    width, height, rgb = m.screen.framebuffer_rgb()
    if height <= 586:
        return False
    row = rgb[586 * width * 3:587 * width * 3]
    return len({row[i:i + 3] for i in range(0, len(row), 3)}) >= 4


def run_all(names: Optional[List[str]], timeout: float) -> Dict[str, Any]:
    from .testing import PC
    shared = shared_folder()
    results: Dict[str, Any] = {}
    for entry in load_manifest(shared):
        if names and entry["name"] not in names:
            continue
        with tempfile.TemporaryDirectory() as folder:
            pc = PC(folder)
            try:
                results[entry["name"]] = boot_guest(pc, entry, shared, timeout)
            finally:
                pc.close()
        print(f"{entry['name']}: {results[entry['name']]['status']}", flush=True)
    return results


def render(shared: str) -> str:
    """docs/compatibility.md from the manifest, the stored results and manual.md."""
    runs = {}
    for runtime in ("cpython", "pypy"):
        path = os.path.join(RESULTS, f"{runtime}.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                runs[runtime] = json.load(handle)
    lines = ["# Compatibility", "",
             "Generated by `machine compat write` from the guest corpus manifest "
             "(`shared/guests/manifest.yaml`), the results of `machine compat run` on each runtime "
             "(`docs/compat/*.json`) and the hand-checked guests (`docs/compat/manual.md`).  Host seconds "
             "count from the launch of the machine, as the manifest's QEMU and Bochs figures do; virtual "
             "seconds are guest time.  A `guests`-marked test boots the same guests "
             "(`pytest -m guests`).", "",
             "| guest | class | exercises | status (CPython / PyPy) |", "| --- | --- | --- | --- |"]
    entries = load_manifest(shared)
    for entry in entries:
        statuses = []
        for runtime in ("cpython", "pypy"):
            result = runs.get(runtime, {}).get(entry["name"])
            statuses.append("not run" if result is None else result["status"] if result["status"] == "pass"
                            else f"fail: {result.get('cause', '')}")
        exercises = " ".join(entry.get("exercises", "").split())
        lines.append(f"| {entry['name']} | {entry.get('class', '')} | {exercises} | {' / '.join(statuses)} |")
    lines += ["", "## Seconds to each marker", "",
              "| guest | marker | virtual s | CPython host s | PyPy host s | QEMU s | Bochs s |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for entry in entries:
        seconds = entry.get("seconds") or {}
        steps = [str(next(iter(step.values()))) for step in entry["steps"]
                 if next(iter(step)) in ("wait", "screen_mode", "screen")]
        for marker in steps:
            found = {runtime: runs.get(runtime, {}).get(entry["name"], {}).get("markers", {}).get(marker)
                     for runtime in ("cpython", "pypy")}
            virtual = next((f["virtual"] for f in found.values() if f), None)

            def reference(tool: str) -> str:
                table = seconds.get(tool) or {}
                value = table.get(marker)
                if value is None and tool == "qemu" and entry["name"] == "kolibri":
                    value = table.get({"800x600": "800x600 mode set"}.get(marker, "desktop taskbar drawn"))
                return "-" if value is None else f"{value:g}"
            cells = [entry["name"], f"`{marker}`", "-" if virtual is None else f"{virtual:g}"]
            cells += ["-" if not found[r] else f"{found[r]['host']:g}" for r in ("cpython", "pypy")]
            cells += [reference("qemu"), reference("bochs")]
            lines.append("| " + " | ".join(cells) + " |")
    manual = os.path.join(RESULTS, "manual.md")
    if os.path.exists(manual):
        with open(manual, encoding="utf-8") as handle:
            lines += ["", handle.read().rstrip()]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="machine compat", description="boot the public guest corpus")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="boot the guests on this runtime; store docs/compat/RUNTIME.json")
    run.add_argument("names", nargs="*", help="guests to boot (default: all)")
    run.add_argument("--timeout", type=float, default=600.0, help="host seconds per wait (default 600)")
    commands.add_parser("write", help="write docs/compatibility.md from the stored results")
    args = parser.parse_args(argv)
    if args.command == "run":
        results = run_all(args.names, args.timeout)
        path = os.path.join(RESULTS, f"{runtime_name()}.json")
        old: Dict[str, Any] = {}
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                old = json.load(handle)
        old.update(results)
        os.makedirs(RESULTS, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(old, handle, indent=1, sort_keys=True)
            handle.write("\n")
        return 0
    page = render(shared_folder())      # first: an error must leave the page as it was
    with open(PAGE, "w", encoding="utf-8") as handle:
        handle.write(page)
    print(f"wrote {PAGE}")
    return 0
