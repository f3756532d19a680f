"""A tiny test device for the record/replay machinery: host inputs of kind "poke"
write bytes into guest RAM, and a clock event counts ticks, so machine state depends
on inputs and on virtual time."""

from typing import Any, Dict

from pcmachine import Component, Option


class Poker(Component):
    OPTIONS = {"period_ns": Option("int", 1_000_000, "tick period")}

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.ticks = 0
        self.event = None
        machine.register_input("poke", self.apply_poke)

    def reset(self) -> None:
        self.ticks = 0
        self._schedule(self.clock.now() + self.options["period_ns"])

    def _schedule(self, deadline: int) -> None:
        if self.event is not None:
            self.event.cancel()
        self.next_tick = deadline
        self.event = self.clock.schedule(deadline, self.tick)

    def tick(self) -> None:
        self.ticks += 1
        self._schedule(self.next_tick + self.options["period_ns"])

    def apply_poke(self, data: Dict[str, int]) -> bool:
        self.bus.write_bytes(data["address"], bytes([data["value"] & 0xFF]))
        return True

    def snapshot(self) -> Dict[str, Any]:
        return {"ticks": self.ticks, "next_tick": self.next_tick}

    def restore(self, state: Dict[str, Any]) -> None:
        self.ticks = state["ticks"]
        self._schedule(state["next_tick"])
