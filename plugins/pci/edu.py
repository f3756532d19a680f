"""QEMU's `edu` device (1234:11e8): the educational PCI device that OS courses give
students to write a driver for, with MMIO registers, an interrupt and DMA
(QEMU docs/specs/edu.rst).

BAR0 is 1 MiB of memory-mapped registers, decoded while the command register's
memory space bit is set (the BIOS leaves it set).  Registers below 0x80 answer
dword accesses only (other sizes read all ones and write nothing); the DMA
registers at 0x80-0x9F are 64-bit, read and written as two dwords.

| offset | register |
| --- | --- |
| 00h | identification 010000EDh (version 1.0), read-only |
| 04h | liveness check: reads back the inverse of what was written |
| 08h | factorial: a write (ignored while busy) starts n! (32 bits, wrapping); reads give the result |
| 20h | status: bit 0 computing (read-only), bit 7 raise interrupt 1 when a factorial is done |
| 24h | interrupt status, read-only |
| 60h | interrupt raise: ORs the value into the interrupt status |
| 64h | interrupt acknowledge: clears the value's bits; INTA# drops when none is left |
| 80h, 88h, 90h | DMA source, destination, count |
| 98h | DMA command: bit 0 start (ignored while a transfer runs), bit 1 direction (0: RAM to the device's 4 KiB buffer at 40000h, 1: buffer to RAM), bit 2 raise interrupt 100h when done |

INTA# is asserted while the interrupt status is not zero.  A factorial takes
FACTORIAL_NS and a transfer DMA_NS of virtual time (QEMU: a worker thread and a
100 ms timer), so both are deterministic and survive snapshots.  DMA addresses
are masked with `dma_mask` (28 bits, as QEMU's default) and reach RAM only while
the command register's bus master bit is set; a transfer outside the buffer is
dropped with a logged error (QEMU aborts the emulator).  No MSI capability:
drivers use INTA#.
"""

import dataclasses
import logging
from typing import Any, Dict, List, Optional

from pcmachine.clock import Event
from pcmachine.component import Option, dict_to_state, state_to_dict

from .function import COMMAND, COMMAND_MASTER, COMMAND_MEMORY, Bar, PCIFunction, function_options

log = logging.getLogger("pcmachine.edu")

IDENTIFICATION = 0x010000ED
BAR_SIZE = 1 << 20
LIVENESS, FACTORIAL, STATUS, INTERRUPT_STATUS = 0x04, 0x08, 0x20, 0x24
INTERRUPT_RAISE, INTERRUPT_ACKNOWLEDGE = 0x60, 0x64
DMA_SOURCE, DMA_DESTINATION, DMA_COUNT, DMA_COMMAND = 0x80, 0x88, 0x90, 0x98
DMA_REGISTERS = {DMA_SOURCE: "dma_source", DMA_DESTINATION: "dma_destination",
                 DMA_COUNT: "dma_count", DMA_COMMAND: "dma_command"}
STATUS_COMPUTING, STATUS_IRQ_FACTORIAL = 0x01, 0x80
DMA_RUN, DMA_TO_RAM, DMA_IRQ = 0x01, 0x02, 0x04
FACTORIAL_IRQ, DMA_DONE_IRQ = 0x001, 0x100
BUFFER_BASE, BUFFER_SIZE = 0x40000, 4096
FACTORIAL_NS = 1_000
DMA_NS = 100_000_000
ALL_ONES = 0xFFFFFFFF


@dataclasses.dataclass
class EduState:
    liveness: int = 0
    factorial: int = 0
    status: int = 0
    interrupt_status: int = 0
    dma_source: int = 0
    dma_destination: int = 0
    dma_count: int = 0
    dma_command: int = 0
    buffer: bytearray = dataclasses.field(default_factory=lambda: bytearray(BUFFER_SIZE))
    #: virtual times at which the factorial and the transfer complete (None: idle)
    factorial_done_ns: Optional[int] = None
    dma_done_ns: Optional[int] = None


class EduDevice(PCIFunction):
    """The edu device as a PCI function with INTA#."""

    OPTIONS: Dict[str, Option] = dict(
        function_options(device=3),
        address=Option("int", 0xFEB00000, "where the firmware placed BAR0 (1 MiB aligned, in "
                       "the PCI memory window)", minimum=0, maximum=0xFFF00000),
        dma_mask=Option("int", (1 << 28) - 1, "the DMA address bits the device drives"))
    VENDOR, DEVICE, REVISION = 0x1234, 0x11E8, 0x10
    CLASS_CODE = 0x00FF00          # unclassified device, other
    COMMAND_RESET = COMMAND_MEMORY
    INTERRUPT_PIN = 1              # INTA#

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.edu = EduState()
        self._factorial_event: Optional[Event] = None
        self._dma_event: Optional[Event] = None
        self.bus.map_mmio(options["address"], BAR_SIZE, name, self._mmio_read, self._mmio_write)

    def bars(self) -> List[Optional[Bar]]:
        return [Bar(BAR_SIZE, address=self.options["address"])]

    def config_write(self, offset: int, size: int, value: int) -> None:
        """BAR0 stays where the firmware put it (sizing still works, as on the VGA)."""
        super().config_write(offset, size, value)
        self.keep_bar0_in_place(offset, size)

    # ------------------------------------------------------------ registers
    def _decoding(self) -> bool:
        return bool(self.config_read(COMMAND, 2) & COMMAND_MEMORY)

    def _mmio_read(self, address: int, size: int) -> int:
        offset = address - self.options["address"]
        if not self._decoding() or size != 4:
            return (1 << (8 * size)) - 1
        edu = self.edu
        if offset >= DMA_SOURCE and offset & ~7 in DMA_REGISTERS:
            value = getattr(edu, DMA_REGISTERS[offset & ~7])
            return (value >> 32 if offset & 4 else value) & ALL_ONES
        return {0: IDENTIFICATION, LIVENESS: edu.liveness, FACTORIAL: edu.factorial,
                STATUS: edu.status, INTERRUPT_STATUS: edu.interrupt_status}.get(offset, ALL_ONES)

    def _mmio_write(self, address: int, size: int, value: int) -> None:
        offset = address - self.options["address"]
        if not self._decoding() or size != 4:
            return
        edu = self.edu
        if offset >= DMA_SOURCE and offset & ~7 in DMA_REGISTERS:
            self._write_dma_register(offset, value)
        elif offset == LIVENESS:
            edu.liveness = ~value & ALL_ONES
        elif offset == FACTORIAL and not edu.status & STATUS_COMPUTING:
            edu.factorial = value
            edu.status |= STATUS_COMPUTING
            edu.factorial_done_ns = self.clock.now() + FACTORIAL_NS
            self._schedule()
        elif offset == STATUS:
            edu.status = (edu.status & STATUS_COMPUTING) | (value & STATUS_IRQ_FACTORIAL)
        elif offset == INTERRUPT_RAISE:
            self._raise(value)
        elif offset == INTERRUPT_ACKNOWLEDGE:
            edu.interrupt_status &= ~value
            self.set_interrupt(edu.interrupt_status != 0)

    def _write_dma_register(self, offset: int, value: int) -> None:
        edu = self.edu
        field = DMA_REGISTERS[offset & ~7]
        if field == "dma_command" and edu.dma_command & DMA_RUN:
            return
        old = getattr(edu, field)
        new = (old & ALL_ONES) | value << 32 if offset & 4 else (old & ~ALL_ONES) | value
        setattr(edu, field, new)
        if field == "dma_command" and not offset & 4 and new & DMA_RUN:
            edu.dma_done_ns = self.clock.now() + DMA_NS
            self._schedule()

    def _raise(self, bits: int) -> None:
        self.edu.interrupt_status |= bits
        self.set_interrupt(self.edu.interrupt_status != 0)

    # ------------------------------------------------------------ the two engines
    def _factorial_done(self) -> None:
        edu = self.edu
        self._factorial_event, edu.factorial_done_ns = None, None
        result = 1
        for factor in range(edu.factorial, 1, -1):
            result = result * factor & ALL_ONES
            if result == 0:
                break
        edu.factorial = result
        edu.status &= ~STATUS_COMPUTING
        if edu.status & STATUS_IRQ_FACTORIAL:
            self._raise(FACTORIAL_IRQ)

    def _dma_done(self) -> None:
        edu = self.edu
        self._dma_event, edu.dma_done_ns = None, None
        mask = self.options["dma_mask"]
        if edu.dma_command & DMA_TO_RAM:
            start, ram = edu.dma_source, edu.dma_destination & mask
        else:
            start, ram = edu.dma_destination, edu.dma_source & mask
        count = edu.dma_count
        inside = BUFFER_BASE <= start and start + count <= BUFFER_BASE + BUFFER_SIZE
        if not inside:
            log.error("%s: DMA of %d bytes at device address %#x is outside the buffer "
                      "%#x-%#x; transfer dropped", self.name, count, start, BUFFER_BASE,
                      BUFFER_BASE + BUFFER_SIZE - 1)
        elif self.config_read(COMMAND, 2) & COMMAND_MASTER:
            at = start - BUFFER_BASE
            if edu.dma_command & DMA_TO_RAM:
                self.bus.write_bytes(ram, bytes(edu.buffer[at:at + count]))
            else:
                edu.buffer[at:at + count] = self.bus.read_bytes(ram, count)
        edu.dma_command &= ~DMA_RUN
        if edu.dma_command & DMA_IRQ:
            self._raise(DMA_DONE_IRQ)

    def _schedule(self) -> None:
        """Clock events for the engines that are running."""
        edu = self.edu
        if edu.factorial_done_ns is not None and self._factorial_event is None:
            self._factorial_event = self.clock.schedule(edu.factorial_done_ns, self._factorial_done)
        if edu.dma_done_ns is not None and self._dma_event is None:
            self._dma_event = self.clock.schedule(edu.dma_done_ns, self._dma_done)

    def _cancel(self) -> None:
        for event in (self._factorial_event, self._dma_event):
            if event is not None:
                event.cancel()
        self._factorial_event = self._dma_event = None

    # ------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        super().reset()
        self._cancel()
        self.edu = EduState()

    def snapshot(self) -> Dict[str, Any]:
        return {"function": super().snapshot(), "edu": state_to_dict(self.edu)}

    def restore(self, state: Dict[str, Any]) -> None:
        super().restore(state["function"])
        self._cancel()
        self.edu = dict_to_state(EduState, state["edu"])
        self._schedule()
