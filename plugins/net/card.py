"""What every network card here shares: the PCI function on the user-mode
network, its MAC address option, the bus master wait for DMA, the pcap capture,
and the delivery of the network's replies on the virtual clock.

A card derives from `NetworkCard`, implements `_ready()` (whether the frame
due next can be taken now; False leaves it waiting on the wire) and
`_receive(frame)`, and calls `_deliver()` whenever something that `_ready()`
depends on changes (a ring pointer, the enable bit, the bus master bit).
`_send(frame)` puts a frame on the wire and captures it.
"""

import logging
import os
from typing import Any, Dict, Optional

from pcmachine.clock import Event
from pcmachine.component import Option, dict_to_state, state_to_dict
from pcmachine.errors import ProfileError

from pcmachine.plugins.pci.function import (COMMAND, COMMAND_MASTER, SUBSYSTEM_ID, SUBSYSTEM_VENDOR_ID,
                                            PCIFunction, put)

from .usernet import REPLY_DELAY_NS, PcapWriter, UserNet, UserNetState

log = logging.getLogger("pcmachine.net")

DEFAULT_MAC = "52:54:00:12:34:56"


def parse_mac(text: str, key: str) -> bytes:
    parts = text.split(":")
    try:
        mac = bytes(int(part, 16) for part in parts)
    except ValueError:
        mac = b""
    if len(parts) != 6 or len(mac) != 6 or mac[0] & 1:
        raise ProfileError("option", key, f"expected a unicast MAC address like {DEFAULT_MAC}, got {text!r}")
    return mac


def network_options() -> Dict[str, Option]:
    """The options of every card: its MAC address, the capture, the network's
    delay, its TFTP folder and boot file."""
    return dict(
        mac=Option("str", DEFAULT_MAC, "the card's MAC address (its address registers and EEPROM)"),
        pcap=Option("path", None, "write every frame, both ways, to this pcap capture file"),
        reply_delay_ns=Option("int", REPLY_DELAY_NS, "virtual time the user-mode network takes "
                              "to answer a frame", minimum=0),
        tftp=Option("path", None, "folder the network's TFTP server (10.0.2.2) serves read-only, "
                    "as QEMU's -netdev user,tftp="),
        bootfile=Option("str", "", "boot file name the network's DHCP server offers "
                        "(the BOOTP file field), as QEMU's -netdev user,bootfile="))


class NetworkCard(PCIFunction):
    """A PCI network card plugged into a `UserNet`."""

    CLASS_CODE = 0x020000          # network controller, Ethernet
    INTERRUPT_PIN = 1              # INTA#

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.mac = parse_mac(options["mac"], f"{name}.mac")
        if options["tftp"] is not None and not os.path.isdir(options["tftp"]):
            raise ProfileError("option", f"{name}.tftp", f"not a folder: {options['tftp']}")
        self.net = UserNet(options["reply_delay_ns"], options["tftp"], options["bootfile"])
        self.pcap: Optional[PcapWriter] = None
        if options["pcap"]:
            try:
                self.pcap = PcapWriter(options["pcap"])
            except OSError as error:
                raise ProfileError("option", f"{name}.pcap", f"cannot write {options['pcap']}: "
                                   f"{error.strerror}") from None
        self._event: Optional[Event] = None
        self._warned = False

    # ------------------------------------------------------------ to override
    def _ready(self) -> bool:
        """Whether the card takes the frame due next now (False: it waits)."""
        raise NotImplementedError

    def _receive(self, frame: bytes) -> None:
        """A frame off the wire (already captured)."""
        raise NotImplementedError

    # ------------------------------------------------------------ shared
    def power_on_config(self) -> bytearray:
        """QEMU's subsystem IDs (1AF4:1100), which its network cards carry."""
        config = super().power_on_config()
        put(config, SUBSYSTEM_VENDOR_ID, 2, 0x1AF4)
        put(config, SUBSYSTEM_ID, 2, 0x1100)
        return config

    def _may_master(self) -> bool:
        """DMA waits while the PCI command register's Bus Master bit is clear."""
        if self.config_read(COMMAND, 2) & COMMAND_MASTER:
            return True
        if not self._warned:
            self._warned = True
            log.warning("%s: DMA waits: the PCI command register has Bus Master (bit 2) clear",
                        self.name)
        return False

    def _capture(self, frame: bytes) -> None:
        if self.pcap is not None:
            self.pcap.write(self.clock.now(), frame)

    def _send(self, frame: bytes) -> None:
        """Put `frame` on the wire: capture it and let the network answer."""
        self._capture(frame)
        self.net.send(frame, self.clock.now())
        self._schedule()

    def _deliver(self) -> None:
        """Hand the card the frames that are due, while it can take them."""
        net, now = self.net, self.clock.now()
        while net.next_deadline() is not None and net.next_deadline() <= now and self._ready():
            frame = net.take()
            self._capture(frame)
            self._receive(frame)
        self._schedule()

    def _schedule(self) -> None:
        """One clock event, at the first delivery still in the future."""
        if self._event is not None:
            self._event.cancel()
            self._event = None
        deadline = self.net.next_deadline()
        if deadline is not None and deadline > self.clock.now():
            self._event = self.clock.schedule(deadline, self._deliver_event)

    def _deliver_event(self) -> None:
        self._event = None
        self._deliver()

    def reset(self) -> None:
        super().reset()
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self.net.reset()

    def snapshot(self) -> Dict[str, Any]:
        return {"function": super().snapshot(), "net": state_to_dict(self.net.state)}

    def restore(self, state: Dict[str, Any]) -> None:
        super().restore(state["function"])
        self.net.state = dict_to_state(UserNetState, state["net"])

    def close(self) -> None:
        if self.pcap is not None:
            self.pcap.close()
            self.pcap = None
