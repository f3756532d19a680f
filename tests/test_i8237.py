"""The 8237A DMA controller's channel programming, driven through its ports as a
driver does (mask, flip-flop, mode, address, page, count), with the transfers a
device makes (`to_memory`, as the floppy controller calls it): terminal count in
the status register, masking at the end of a single transfer, and auto-initialise
(datasheet "Autoinitialize": the base registers reload the current ones).  The
floppy controller's DMA transfers are in tests/test_fdc.py."""

import pytest

from pcmachine import Machine
from pcmachine.plugins.chipset.i8237 import DMAController

SINGLE_WRITE = 0x44            # single transfer, increment, write to memory
AUTOINIT = 0x10
BUFFER = 0x12340


@pytest.fixture
def machine():
    machine = Machine.bare()
    machine.bus.attach_ram(1 << 20)
    machine.add_component(DMAController, "dma", {})
    yield machine
    machine.close()


def out(machine, port, value):
    machine.bus.io_write(port, 1, value)


def inb(machine, port):
    return machine.bus.io_read(port, 1)


def program_channel2(machine, mode, address, length):
    out(machine, 0x0A, 0x06)                          # mask channel 2
    out(machine, 0x0C, 0)                             # clear the flip-flop
    out(machine, 0x0B, mode | 2)
    out(machine, 0x04, address & 0xFF)
    out(machine, 0x04, (address >> 8) & 0xFF)
    out(machine, 0x81, address >> 16)
    out(machine, 0x05, (length - 1) & 0xFF)
    out(machine, 0x05, (length - 1) >> 8)
    out(machine, 0x0A, 0x02)                          # unmask


def current(machine):
    """Channel 2's current address and count, read back through the ports."""
    out(machine, 0x0C, 0)
    address = inb(machine, 0x04) | inb(machine, 0x04) << 8
    count = inb(machine, 0x05) | inb(machine, 0x05) << 8
    return address, count


def test_single_transfer_stops_at_terminal_count_and_masks_the_channel(machine):
    dma = machine.components["dma"]
    program_channel2(machine, SINGLE_WRITE, BUFFER, 16)
    assert dma.to_memory(2, bytes(range(1, 25))) == 16
    assert machine.bus.read_bytes(BUFFER, 17) == bytes(range(1, 17)) + b"\0"
    assert inb(machine, 0x08) & 0x04                 # TC for channel 2; reading clears it
    assert not inb(machine, 0x08) & 0x04
    assert current(machine) == ((BUFFER + 16) & 0xFFFF, 0xFFFF)
    assert inb(machine, 0x0F) & 0x04                 # masked at the end
    assert dma.to_memory(2, b"\xFF" * 4) == 0


def test_autoinitialise_reloads_address_and_count_and_stays_unmasked(machine):
    dma = machine.components["dma"]
    program_channel2(machine, SINGLE_WRITE | AUTOINIT, BUFFER, 16)
    assert dma.to_memory(2, b"\xAA" * 16) == 16
    assert inb(machine, 0x08) & 0x04
    assert current(machine) == (BUFFER & 0xFFFF, 15)   # the base registers again
    assert not inb(machine, 0x0F) & 0x04
    assert dma.to_memory(2, b"\x55" * 8) == 8          # the next block starts over
    assert machine.bus.read_bytes(BUFFER, 16) == b"\x55" * 8 + b"\xAA" * 8
