#!/usr/bin/env bash
# Rebuild the PCI guests: pci.asm (tests/test_pci.py) and edu.asm
# (tests/test_pci_interrupts.py) become .bin files beside them; they share the boot
# sector and helpers of tests/guests/devices.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for guest in pci edu; do
  nasm -f bin -I "$here/../devices/" -o "$here/$guest.bin" "$here/$guest.asm"
done
