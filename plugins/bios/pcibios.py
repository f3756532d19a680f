"""Int 1Ah AH=B1h: the PCI BIOS real-mode interface (PCI BIOS Specification 2.1,
chapter 3), on configuration mechanism #1.

Like a ROM BIOS, the services reach configuration space through the ports
0xCF8/0xCFC, so they work with whatever host bridge the profile has.  A PCI host is
present when CONFIG_ADDRESS holds a written 0x80000000 (the probe of PCI 2.1,
3.6.4.1.1 that BIOSes use); without one (isapc.yaml) every function returns
AH=81h, CF=1.

| AX | function | in | out |
| --- | --- | --- | --- |
| B101h | PCI BIOS present | | AH=0, AL=01h (mechanism #1, no special cycles), BX=0210h, CL=last bus (0), EDX='PCI ' |
| B102h | find device | CX device, DX vendor, SI index | BH bus, BL device << 3 | function |
| B103h | find class code | ECX class code (24 bits), SI index | BH, BL |
| B108h/B109h/B10Ah | read byte/word/dword | BH, BL, DI register | CL/CX/ECX |
| B10Bh/B10Ch/B10Dh | write byte/word/dword | BH, BL, DI, CL/CX/ECX | |

Success clears CF with AH=0; failures set CF with AH = 81h (function not
supported, also B106h special cycles, B10Eh/B10Fh interrupt routing), 83h (bad
vendor ID FFFFh), 86h (device not found), 87h (register number not aligned to the
access or above FFh).  The 32-bit BIOS32 service directory is not provided.

At POST (`post`), as SeaBIOS does on QEMU's `pc` board: the PIIX3's PIRQ A-D are
routed to IRQ 10, 10, 11, 11, those IRQs set to level mode in the ELCR, and every
function with an interrupt pin gets the IRQ of its PIRQ in its INTERRUPT_LINE
register.  The MP, ACPI and $PIR tables describe this routing.
"""

from typing import Any, Iterator, Tuple

from pcmachine.plugins.pci.function import INTERRUPT_LINE, INTERRUPT_PIN, PIRQ_COUNT, pirq_of
from pcmachine.plugins.pci.piix import (IDETIM_DECODE_ENABLE, IDETIM_PRIMARY, IDETIM_SECONDARY,
                                        PIRQ_ROUTE, PIIX3IDE, PIIX3ISABridge)

from . import common as c

PCI_FUNCTION = 0xB1
CONFIG_ADDRESS, CONFIG_DATA = 0xCF8, 0xCFC
ENABLE = 0x80000000
PCI_SIGNATURE = 0x20494350         # "PCI "
MECHANISM_1 = 0x01
INTERFACE_LEVEL = 0x0210           # version 2.10, BCD
LAST_BUS = 0
SUCCESSFUL, FUNC_NOT_SUPPORTED, BAD_VENDOR_ID = 0x00, 0x81, 0x83
DEVICE_NOT_FOUND, BAD_REGISTER_NUMBER = 0x86, 0x87
ABSENT_VENDOR = 0xFFFF
#: AL of the configuration accesses -> (size, register of the value)
READS = {0x08: (1, "cl"), 0x09: (2, "cx"), 0x0A: (4, "ecx")}
WRITES = {0x0B: (1, "cl"), 0x0C: (2, "cx"), 0x0D: (4, "ecx")}
#: the ISA IRQs of PIRQ A-D after POST
PIRQ_IRQS = (10, 10, 11, 11)
ELCR_PORTS = (0x4D0, 0x4D1)
ROUTER_IDS = PIIX3ISABridge.DEVICE << 16 | PIIX3ISABridge.VENDOR
IDE_IDS = PIIX3IDE.DEVICE << 16 | PIIX3IDE.VENDOR


class PCIBiosServices:
    """int 1Ah AH=B1h."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context

    # ------------------------------------------------------------ configuration cycles
    def present(self) -> bool:
        """Mechanism #1 answers: CONFIG_ADDRESS keeps the enable bit written to it."""
        bus = self.ctx.bus
        if not self.ctx.port_present(CONFIG_ADDRESS):
            return False
        saved = bus.io_read(CONFIG_ADDRESS, 4)
        bus.io_write(CONFIG_ADDRESS, 4, ENABLE)
        found = bus.io_read(CONFIG_ADDRESS, 4) == ENABLE
        bus.io_write(CONFIG_ADDRESS, 4, saved)
        return found

    def read(self, bus_number: int, devfn: int, register: int, size: int) -> int:
        bus = self.ctx.bus
        bus.io_write(CONFIG_ADDRESS, 4, ENABLE | bus_number << 16 | devfn << 8 | (register & 0xFC))
        return bus.io_read(CONFIG_DATA + (register & 3), size)

    def write(self, bus_number: int, devfn: int, register: int, size: int, value: int) -> None:
        bus = self.ctx.bus
        bus.io_write(CONFIG_ADDRESS, 4, ENABLE | bus_number << 16 | devfn << 8 | (register & 0xFC))
        bus.io_write(CONFIG_DATA + (register & 3), size, value)

    def functions(self) -> Iterator[Tuple[int, int]]:
        """(bus, devfn) of every function present, in bus, device, function order."""
        for bus_number in range(LAST_BUS + 1):
            for device in range(32):
                for function in range(8):
                    devfn = device << 3 | function
                    if self.read(bus_number, devfn, 0, 2) == ABSENT_VENDOR:
                        if function == 0:
                            break
                        continue
                    yield bus_number, devfn
                    if function == 0 and not self.read(bus_number, devfn, 0x0E, 1) & 0x80:
                        break

    # ------------------------------------------------------------ POST
    def post(self) -> None:
        """Route the PCI interrupts (see the module docstring)."""
        if not self.present():
            return
        functions = list(self.functions())
        router = next((where for where in functions if self.read(*where, 0, 4) == ROUTER_IDS), None)
        if router is None:
            return
        for pirq, irq in enumerate(PIRQ_IRQS):
            self.write(*router, PIRQ_ROUTE + pirq, 1, irq)
        bus = self.ctx.bus
        if self.ctx.port_present(ELCR_PORTS[0]):
            level_irqs = sum(1 << irq for irq in set(PIRQ_IRQS))
            for index, port in enumerate(ELCR_PORTS):
                bus.io_write(port, 1, bus.io_read(port, 1) | (level_irqs >> (8 * index)) & 0xFF)
        for bus_number, devfn in functions:
            pin = self.read(bus_number, devfn, INTERRUPT_PIN, 1)
            if 1 <= pin <= PIRQ_COUNT:
                self.write(bus_number, devfn, INTERRUPT_LINE, 1, PIRQ_IRQS[pirq_of(devfn >> 3, pin)])
            if self.read(bus_number, devfn, 0, 4) == IDE_IDS:
                # Both IDE channels decoded, as SeaBIOS and the Bochs BIOS leave them.
                for timing in (IDETIM_PRIMARY, IDETIM_SECONDARY):
                    self.write(bus_number, devfn, timing, 2, IDETIM_DECODE_ENABLE)

    # ------------------------------------------------------------ int 1Ah AH=B1h
    def int1a(self, cpu: Any) -> None:
        function = cpu.get_reg("al")
        if not self.present():
            c.fail(cpu, FUNC_NOT_SUPPORTED)
        elif function == 0x01:
            cpu.set_reg("edx", PCI_SIGNATURE)
            cpu.set_reg("al", MECHANISM_1)
            cpu.set_reg("bx", INTERFACE_LEVEL)
            cpu.set_reg("cl", LAST_BUS)
            c.succeed(cpu)
        elif function == 0x02:
            if cpu.get_reg("dx") == ABSENT_VENDOR:
                c.fail(cpu, BAD_VENDOR_ID)
                return
            ids = cpu.get_reg("dx") | cpu.get_reg("cx") << 16
            self._find(cpu, lambda bus, devfn: self.read(bus, devfn, 0, 4) == ids)
        elif function == 0x03:
            code = cpu.get_reg("ecx") & 0xFFFFFF
            self._find(cpu, lambda bus, devfn: self.read(bus, devfn, 0x08, 4) >> 8 == code)
        elif function in READS or function in WRITES:
            self._access(cpu, function)
        else:
            c.fail(cpu, FUNC_NOT_SUPPORTED)

    def _find(self, cpu: Any, matches: Any) -> None:
        """The SI-th function (counting from 0) that `matches` into BH/BL."""
        index = cpu.get_reg("si")
        for bus_number, devfn in self.functions():
            if matches(bus_number, devfn):
                if index == 0:
                    cpu.set_reg("bh", bus_number)
                    cpu.set_reg("bl", devfn)
                    c.succeed(cpu)
                    return
                index -= 1
        c.fail(cpu, DEVICE_NOT_FOUND)

    def _access(self, cpu: Any, function: int) -> None:
        size, register_name = READS.get(function) or WRITES[function]
        register = cpu.get_reg("di")
        if register > 0xFF or register % size:
            c.fail(cpu, BAD_REGISTER_NUMBER)
            return
        bus_number, devfn = cpu.get_reg("bh"), cpu.get_reg("bl")
        if function in READS:
            cpu.set_reg(register_name, self.read(bus_number, devfn, register, size))
        else:
            self.write(bus_number, devfn, register, size, cpu.get_reg(register_name))
        c.succeed(cpu)
