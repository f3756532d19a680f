"""A plugin loaded by dotted path in tests (`--plugin countingplugin:WriteCounter`):
it counts port writes and VGA memory writes through hooks and reports at stop."""

from pcmachine import hookimpl

VGA_WINDOW = range(0xA0000, 0xC0000)


class WriteCounter:
    """Counts `io_write` events and `mmio_write` events inside the VGA window."""

    last = None

    def __init__(self) -> None:
        self.port_writes = 0
        self.vga_writes = 0
        self.ports = set()
        WriteCounter.last = self

    @hookimpl
    def io_write(self, port: int) -> None:
        self.port_writes += 1
        self.ports.add(port)

    @hookimpl
    def mmio_write(self, address: int) -> None:
        if address in VGA_WINDOW:
            self.vga_writes += 1

    @hookimpl
    def machine_stop(self) -> None:
        print(f"port writes: {self.port_writes}, VGA memory writes: {self.vga_writes}")
