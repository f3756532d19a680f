"""The Machine: components built from a profile, the bus, the clock and the run loop.

The run loop is a sequence of *slices*.  Each slice applies queued host inputs, lets
the CPU run until the next clock event (or a budget), then fires the due events.  A
halted CPU with interrupts enabled makes virtual time skip to the next event.
`run_slice()` is synchronous; `run()` is the trio task that calls it and yields to
the host-side tasks (display, input readers) every few milliseconds.
"""

import collections
import heapq
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import trio

from .bus import Bus
from .clock import FAR_FUTURE, Clock
from .component import Component
from .errors import ProfileError, UserError
from .hookflags import HookFlags
from .media import Disk
from .pluginmanager import PluginManager, resolve_plugin
from .profile import Profile
from .removable import RemovableDrives
from .smp import Processors

#: Instructions a slice may run before the loop looks at inputs and host time.
SLICE_INSTRUCTIONS = 200_000
#: Host seconds between yields to trio.
YIELD_INTERVAL = 0.02

InputHandler = Callable[[Any], bool]


class RealtimePacer:
    """Keeps a guest's idle time in step with host time (interactive runs): a guest
    waiting in HLT, or in a polling loop the machine recognises, for its timer takes
    host time as a real PC would, instead of racing through virtual seconds.  A busy
    guest is never slowed down: the virtual time its instructions stand for may run
    ahead of the host's (as in Bochs without clock sync), so a debugger or a screen
    costs a CPU-bound guest nothing.  Only the host's pace changes; the machine's
    behaviour stays a function of the instruction count and inputs."""

    #: a lag larger than this is forgiven rather than caught up with
    MAX_LAG = 0.1

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._anchor()

    def _anchor(self) -> None:
        self.virtual_start = self.clock.now()
        self.idle_start = self.clock.offset_ns
        self.host_start = time.monotonic()
        self.slept = 0.0

    def ahead(self) -> float:
        """Host seconds to sleep: the idle virtual time not yet waited out, as far as
        virtual time is ahead of host time."""
        virtual = (self.clock.now() - self.virtual_start) / 1e9
        host = time.monotonic() - self.host_start
        idle = (self.clock.offset_ns - self.idle_start) / 1e9
        if host - virtual > self.MAX_LAG or idle < 0:   # a slow host, or a restored state
            self._anchor()
            return 0.0
        owed = min(idle - self.slept, virtual - host)
        if owed <= 0.002:
            return 0.0
        seconds = min(owed, 0.5)
        self.slept += seconds
        return seconds


class Machine:
    """A PC assembled from components.

    Build one with `Machine.from_profile(path_or_name, overrides, media)` or, for
    device tests, `Machine.bare()` plus `add_component()`."""

    def __init__(self, profile: Optional[Profile] = None) -> None:
        self.profile = profile
        settings = profile.machine_settings() if profile is not None else {}
        self.hooks = HookFlags()
        self.plugin_manager = PluginManager(self.hooks)
        self.bus = Bus(self.hooks)
        self.bus.machine = self
        self.clock = Clock(settings.get("ips", 20_000_000))
        self.on_triple_fault = settings.get("on_triple_fault", "reset")
        #: pace virtual time to host time (set for interactive runs)
        self.realtime = False
        self.components: Dict[str, Component] = {}
        self.media: Dict[str, Disk] = {}
        #: the processor running now (the bootstrap processor between runs)
        self.cpu: Any = None
        #: every processor, in turn order (core/smp.py)
        self.processors = Processors()
        self.keyboard: Any = None
        self.screen: Any = None
        self._input_handlers: Dict[str, InputHandler] = {}
        # one queue per input kind: a device that cannot take its next input blocks
        # only its own kind, and costs one look per slice however long its queue
        self._inputs: Dict[str, Deque[Any]] = {}
        self._scheduled_inputs: Deque[Tuple[int, int, str, Any]] = collections.deque()
        self._icount_watches: List[Tuple[int, int, Callable[[], None]]] = []
        self._watch_seq = 0
        self.stop_at: Optional[Tuple[int, int]] = None
        self._reset_cause: Optional[str] = None
        self._stop_reason: Optional[str] = None
        #: the debugger front end (pcmachine.debugger.control.Debugger) holding stops
        self.debugger: Any = None
        self._held_reset: Optional[str] = None
        self.stop_reason: Optional[str] = None
        #: the exit status a guest asked for (plugins/debug/debugexit.py), else None
        self.exit_status: Optional[int] = None
        self._configured = False
        #: the floppy drives and their medium changes (core/removable.py)
        self.drives = RemovableDrives(self)

    # ------------------------------------------------------------------ building
    @classmethod
    def bare(cls, ips: int = 20_000_000) -> "Machine":
        """A machine with a bus and a clock and no components (for device tests)."""
        machine = cls()
        machine.clock.ips = ips
        return machine

    @classmethod
    def from_profile(cls, profile: Any, overrides: Optional[List[str]] = None,
                     media: Optional[Dict[str, str]] = None,
                     extra_plugins: Optional[List[str]] = None,
                     setup: Optional[Callable[["Machine"], None]] = None) -> "Machine":
        """Load and validate a profile (path or bundled name), open its media and
        build every component; raises UserError subclasses on bad input.

        `setup(machine)` runs after the components are built and before power-on, so
        a plugin it adds (a recorder) sees the power-on events too."""
        if not isinstance(profile, Profile):
            profile = Profile.load(profile, overrides or [], media or {})
        machine = cls(profile)
        try:
            machine._open_media()
            entries = profile.components()
            for name, entry in entries.items():
                for part, options in entry["class"].instances(name, entry["options"], entries):
                    machine.add_component(entry["class"], part, options)
            for reference in list(profile.plugins()) + list(extra_plugins or []):
                machine.add_plugin(reference)
            if setup is not None:
                setup(machine)
            machine.configure()
        except ProfileError as error:
            machine.close()
            if error.source in ("component", "profile") and error.key:
                # A component rejected its options: name the file that set them.
                raise ProfileError(profile.where(error.key), error.key, error.problem) from None
            raise
        except BaseException:
            machine.close()
            raise
        return machine

    def _open_media(self) -> None:
        for name, spec in self.profile.media().items():
            self.media[name] = Disk(name, spec["image"], spec["kind"],
                                    readonly=spec["readonly"], overlay=spec["overlay"])
        for name in self.profile.empty_floppies():
            self.drives.add_empty(name)

    def add_component(self, cls: Any, name: str, options: Optional[Dict[str, Any]] = None) -> Component:
        """Build one component (options are converted against its OPTIONS) and register
        it as a plugin."""
        given = dict(options or {})
        converted = {}
        for key, option in getattr(cls, "OPTIONS", {}).items():
            value = given.pop(key, option.default)
            try:
                converted[key] = option.convert(value)
            except ValueError as error:
                raise ProfileError("component", f"{name}.{key}", str(error)) from None
        if given:
            raise ProfileError("component", f"{name}.{sorted(given)[0]}", "unknown option")
        self.bus.claimant = name
        try:
            component = cls(self, name, converted)
        except (ValueError, IndexError, KeyError, TypeError, MemoryError) as error:
            # A component that cannot be built from these options: one line, not a traceback.
            raise ProfileError("component", name, f"cannot be built: {type(error).__name__}: "
                               f"{error or 'out of memory'}") from None
        finally:
            self.bus.claimant = ""
        self.components[name] = component
        self.plugin_manager.register(component, name=name)
        return component

    def add_plugin(self, reference: Any, name: Optional[str] = None) -> Any:
        """Register an extra plugin: a reference string, a class or an instance.
        Classes are instantiated with no arguments, or with the machine if they
        accept it."""
        plugin = resolve_plugin(reference) if isinstance(reference, str) else reference
        if isinstance(reference, str) and not isinstance(plugin, type):
            raise UserError(f"plugin {reference!r} is not a class")
        if isinstance(plugin, type):
            if issubclass(plugin, Component):
                return self.add_component(plugin, name or plugin.__name__.lower(), {})
            try:
                plugin = plugin()
            except TypeError:
                plugin = plugin(self)
        # machine_configure is historic, so a plugin added late still receives it.
        self.plugin_manager.register(plugin, name=name)
        return plugin

    def remove_plugin(self, plugin: Any) -> None:
        self.plugin_manager.unregister(plugin)

    def configure(self) -> None:
        """Tell everyone the machine is assembled, then power on."""
        self.plugin_manager.hook.machine_configure.call_historic(kwargs={"machine": self})
        self._configured = True
        self.reset("power-on")

    def component(self, name: str) -> Component:
        return self.components[name]

    def find(self, cls: type) -> Optional[Any]:
        """The first component that is an instance of `cls`."""
        for component in self.components.values():
            if isinstance(component, cls):
                return component
        return None

    # ------------------------------------------------------------------ control
    def reset(self, cause: str = "power-on") -> None:
        if self.processors.cpus:
            self.processors.reset()
            self.cpu = self.processors.current
        for component in self.components.values():
            component.reset()
        self.plugin_manager.hook.machine_reset(machine=self, cause=cause)

    def request_reset(self, cause: str) -> None:
        """Reset at the next slice boundary (devices call this from port writes).
        With a debugger attached the machine first stops there, and resets when it
        is told to go on."""
        if self.debugger is not None:
            self._held_reset = cause
            self.request_stop(f"reset ({cause})")
            return
        self._reset_cause = cause
        self._end_batch()

    def stop_pending(self) -> bool:
        """A stop or reset was asked for; the slice must end."""
        return self._stop_reason is not None or self._reset_cause is not None

    def request_stop(self, reason: str = "stopped", exit_status: Optional[int] = None) -> None:
        """End the run at the next instruction boundary; `exit_status` is the status a
        guest asked the host to exit with (QEMU's isa-debug-exit), kept as
        `exit_status`."""
        self._stop_reason = reason
        if exit_status is not None:
            self.exit_status = exit_status
        self._end_batch()

    def _end_batch(self) -> None:
        self.clock.stop_icount = self.clock.icount
        if self.cpu is not None:
            self.cpu.stop_requested = True

    # ------------------------------------------------------------------ inputs
    def register_input(self, kind: str, handler: InputHandler) -> None:
        self._input_handlers[kind] = handler

    def post_input(self, kind: str, data: Any) -> None:
        """Queue a host input; it takes effect at the next slice boundary."""
        if kind not in self._input_handlers:
            raise UserError(f"this machine has no device that accepts {kind!r} input")
        self._inputs.setdefault(kind, collections.deque()).append(data)

    def schedule_input(self, icount: int, time_ns: int, kind: str, data: Any) -> None:
        """Replay: apply an input exactly at (icount, virtual time)."""
        self._scheduled_inputs.append((icount, time_ns, kind, data))

    def at_icount(self, icount: int, callback: Callable[[], None]) -> None:
        """Call `callback()` at the first slice boundary where `clock.icount >= icount`;
        slices are cut so that the boundary falls exactly on `icount` (checkpoints,
        snapshots), also when it is asked for by a hook in the middle of a slice."""
        self._watch_seq += 1
        heapq.heappush(self._icount_watches, (icount, self._watch_seq, callback))
        if icount < self.clock.stop_icount:       # asked for from inside a running slice
            self.clock.stop_icount = max(icount, self.clock.icount)

    def _run_icount_watches(self) -> None:
        while self._icount_watches and self._icount_watches[0][0] <= self.clock.icount:
            _, _, callback = heapq.heappop(self._icount_watches)
            callback()

    def accepts_input(self, kind: str) -> bool:
        """Some device takes host inputs of `kind` ("key", "mouse", "serial")."""
        return kind in self._input_handlers

    def replace_scheduled_inputs(self, entries: List[Tuple[int, int, str, Any]]) -> None:
        """Debugger rewind: the inputs to apply from now on are exactly `entries`
        ((icount, time_ns, kind, data), in order)."""
        self._scheduled_inputs = collections.deque(entries)

    def inputs_pending_for(self, kind: str) -> bool:
        """Inputs of `kind` posted or scheduled but not yet taken by their device."""
        return bool(self._inputs.get(kind)) or any(item[2] == kind for item in self._scheduled_inputs)

    @property
    def inputs_pending(self) -> bool:
        return bool(self._scheduled_inputs) or any(self._inputs.values())

    def _apply_input(self, kind: str, data: Any) -> bool:
        if not self._input_handlers[kind](data):
            return False
        if self.hooks.machine_input:
            self.hooks.call.machine_input(machine=self, kind=kind, data=data,
                                          icount=self.clock.icount, time_ns=self.clock.now())
        return True

    def _apply_inputs(self) -> None:
        clock = self.clock
        while self._scheduled_inputs:
            icount, time_ns, kind, data = self._scheduled_inputs[0]
            if icount > clock.icount or time_ns > clock.now():
                break
            self._scheduled_inputs.popleft()
            self._input_handlers[kind](data)
            if self.hooks.machine_input:
                self.hooks.call.machine_input(machine=self, kind=kind, data=data,
                                              icount=clock.icount, time_ns=clock.now())
        for kind, queue in self._inputs.items():
            while queue and self._apply_input(kind, queue[0]):
                queue.popleft()

    # ------------------------------------------------------------------ the loop
    def run_slice(self, instruction_limit: int = FAR_FUTURE) -> Optional[str]:
        """Run one slice; returns a stop reason or None to go on.

        `instruction_limit` is an absolute instruction count the run must not pass."""
        clock = self.clock
        cpu = self.cpu
        self._run_icount_watches()
        if self.stop_at is not None:
            end_icount, end_time = self.stop_at
            if clock.icount > end_icount or (clock.icount == end_icount and clock.now() >= end_time):
                return "replay-end"
        if self._reset_cause is not None:
            cause, self._reset_cause = self._reset_cause, None
            self.reset(cause)
        self._apply_inputs()
        if self._stop_reason is not None:
            reason, self._stop_reason = self._stop_reason, None
            return reason
        if clock.icount >= instruction_limit:
            return "instruction-limit"
        limit = min(instruction_limit, clock.icount + SLICE_INSTRUCTIONS)
        if self._scheduled_inputs:
            limit = min(limit, max(self._scheduled_inputs[0][0], clock.icount))
        if self._icount_watches:
            limit = min(limit, self._icount_watches[0][0])
        if self.stop_at is not None:
            limit = min(limit, self.stop_at[0])
        clock.plan_stop(limit)
        if len(self.processors.cpus) > 1:
            self.processors.run(self, limit)
            if self.processors.all_halted():
                reason = self._idle_halted()
                if reason:
                    return reason
        elif cpu is not None:
            cpu.stop_requested = False
            cpu.run()
            if cpu.halted and not (cpu.check_irq and cpu.can_wake()):   # STI; HLT with an IRQ pending runs on
                reason = self._idle_halted()
                if reason:
                    return reason
        else:
            clock.icount = clock.stop_icount
        clock.run_due()
        return None

    def _idle_halted(self) -> Optional[str]:
        """Every CPU is in HLT: skip virtual time to the next event or input."""
        if not any(cpu.can_wake() for cpu in self.all_cpus()):
            return "halted"
        self._skip_to_next_wake()
        return None

    def _skip_to_next_wake(self) -> bool:
        """Let virtual time pass to the next clock event, scheduled input or stop
        time without running instructions; False when nothing is ahead."""
        clock = self.clock
        deadline = clock.next_deadline()
        if self._scheduled_inputs:
            icount, time_ns, _, _ = self._scheduled_inputs[0]
            if icount <= clock.icount and (deadline is None or time_ns < deadline):
                deadline = time_ns
        if self.stop_at is not None and self.stop_at[0] == clock.icount:
            if deadline is None or self.stop_at[1] < deadline:
                deadline = self.stop_at[1]
        if deadline is None:
            return False
        before = clock.offset_ns
        clock.skip_to(deadline)
        # The time-stamp counter keeps counting while the processor waits in HLT
        # (SDM vol. 3, 17.17: it counts processor clocks; HLT stops execution, not
        # the clock), so every TSC moves on with the skipped time, as PAUSE's does.
        ticks = clock.ticks_since(before)
        if ticks:
            for cpu in self.all_cpus():
                if hasattr(cpu, "tsc_offset"):
                    cpu.tsc_offset += ticks
        return True

    def idle_poll(self) -> None:
        """A guest is polling for something only an event can bring (the BIOS
        sees a tight int 16h / int 1Ah loop): skip virtual time to the next event,
        as HLT does, and end the CPU batch so that the event fires at once.  The
        skip depends only on the machine's state, so runs and replays agree."""
        if self._skip_to_next_wake():
            self.clock.stop_icount = self.clock.icount

    def waiting_for_host(self) -> bool:
        """Halted with interrupts enabled and nothing scheduled: only a host input can
        wake the CPU, so the loop may sleep."""
        cpus = self.all_cpus()
        return (bool(cpus) and all(cpu.halted and not cpu.check_irq for cpu in cpus)
                and any(cpu.can_wake() for cpu in cpus)
                and self.clock.next_deadline() is None and not self.inputs_pending)

    def all_cpus(self) -> List[Any]:
        """The processors (a test's stand-in CPU set as `machine.cpu` counts too)."""
        if self.processors.cpus:
            return self.processors.cpus
        return [self.cpu] if self.cpu is not None else []

    async def run(self, max_instructions: Optional[int] = None,
                  on_slice: Optional[Callable[[], Optional[str]]] = None) -> str:
        """Run until a stop reason arises; returns it.  `on_slice` is called after each
        slice (scripted steps, display) and may return a stop reason."""
        limit = FAR_FUTURE if max_instructions is None else max_instructions
        self.plugin_manager.hook.machine_start(machine=self)
        reason = None
        pace = RealtimePacer(self.clock) if self.realtime else None
        try:
            next_yield = time.monotonic() + YIELD_INTERVAL
            while reason is None:
                reason = self.run_slice(limit)
                if reason is None and on_slice is not None:
                    reason = on_slice()
                if reason is not None and self.debugger is not None:
                    reason = await self.debugger.stopped(reason)
                    if reason is None and self._held_reset is not None:
                        self._reset_cause, self._held_reset = self._held_reset, None
                if reason is not None:
                    break
                ahead = pace.ahead() if pace is not None else 0.0
                if ahead > 0:
                    await trio.sleep(ahead)
                    next_yield = time.monotonic() + YIELD_INTERVAL
                elif self.waiting_for_host():
                    await trio.sleep(0.005)
                    next_yield = time.monotonic() + YIELD_INTERVAL
                elif time.monotonic() >= next_yield:
                    await trio.sleep(0)
                    next_yield = time.monotonic() + YIELD_INTERVAL
        except (KeyboardInterrupt, trio.Cancelled):
            reason = "interrupted"
            raise
        finally:
            self.stop_reason = reason or "interrupted"
            self.plugin_manager.hook.machine_stop(machine=self, reason=self.stop_reason)
            self.flush_media()
        return reason

    def run_headless(self, max_instructions: Optional[int] = None) -> str:
        """Synchronous convenience for tests and tools: run until a stop reason."""
        return trio.run(self.run, max_instructions)

    # ------------------------------------------------------------------ state
    def snapshot(self, ram_copy: bool = True) -> Dict[str, Any]:
        """The whole machine as plain data: clock, RAM, every component.  With
        `ram_copy` false, "ram" is the live RAM array (for a digest taken at once:
        the copy of a 128 MiB RAM costs more than the rest of the state)."""
        return {
            "version": 1,
            "clock": self.clock.snapshot(),
            "ram": bytes(self.bus.memory) if ram_copy else self.bus.memory,
            "a20": dict(self.bus.a20_sources),
            "irq_levels": list(self.bus.irq_levels),
            "cpu_turn": self.processors.turn,
            "cpu_spin_turn": self.processors.spin_turn,
            "components": {name: {"version": getattr(c, "STATE_VERSION", 1), "state": c.snapshot()}
                           for name, c in self.components.items()},
            "drives": self.drives.snapshot(),
            "drive_types": self.drives.type_snapshot(),
            "overlays": {name: disk.overlay_state() for name, disk in self.media.items() if disk.overlay},
        }

    def machine_profile(self) -> Dict[str, Any]:
        """The resolved profile without observer components (tracers): the machine a
        recording or snapshot describes."""
        data = self.profile.resolved() if self.profile is not None else {}
        for name, component in self.components.items():
            if getattr(component, "OBSERVER", False):
                data.pop(name, None)
        return data

    def restore(self, state: Dict[str, Any]) -> None:
        """Load a `snapshot()`.  Components must match: a snapshot of another machine
        is refused (observers, which hold no machine state, may differ)."""
        missing = [name for name, entry in state["components"].items()
                   if name not in self.components and entry["state"]]
        if missing:
            raise UserError(f"the snapshot holds state for component {missing[0]!r}, "
                            "which this machine does not have")
        for name, entry in state["components"].items():
            component = self.components.get(name)
            version = getattr(component, "STATE_VERSION", 1)
            if component is not None and entry.get("version") != version:
                raise UserError(f"the snapshot holds state version {entry.get('version')} of component "
                                f"{name!r}; this pcmachine has version {version}")
        if len(state["ram"]) != len(self.bus.memory):
            raise UserError(f"the snapshot holds {len(state['ram'])} bytes of RAM; this machine has "
                            f"{len(self.bus.memory)}")
        where = "clock"
        try:
            self.clock.restore(state["clock"])
            self.bus.memory[:] = state["ram"]
            for source, enabled in state["a20"].items():
                self.bus.set_a20(source, enabled)
            self.bus.irq_levels = list(state["irq_levels"])
            if self.processors.cpus:
                self.processors.turn = state.get("cpu_turn", 0)
                self.processors.spin_turn = state.get("cpu_spin_turn", False)
                self.cpu = self.processors.current
            for name, entry in state["components"].items():
                if name in self.components:
                    where = f"component {name!r}"
                    self.components[name].restore(entry["state"])
            where = "drives"
            self.drives.restore(state.get("drives", {}), state.get("drive_types", {}))
            where = "overlays"
            for name, sectors in state.get("overlays", {}).items():
                self.media[name].load_overlay_state(sectors)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            # a state of another shape (written by another build of a component)
            raise UserError(f"the snapshot's {where} state does not fit this machine "
                            f"({type(error).__name__}: {error})") from None

    # ------------------------------------------------------------------ teardown
    def flush_media(self) -> None:
        for disk in self.media.values():
            disk.flush()

    def close(self) -> None:
        for component in self.components.values():
            component.close()
        for disk in self.media.values():
            disk.close()
