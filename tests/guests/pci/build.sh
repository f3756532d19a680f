#!/usr/bin/env bash
# Rebuild the PCI guest used by tests/test_pci.py: pci.asm becomes pci.bin beside
# it; it shares the boot sector and helpers of tests/guests/devices.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nasm -f bin -I "$here/../devices/" -o "$here/pci.bin" "$here/pci.asm"
