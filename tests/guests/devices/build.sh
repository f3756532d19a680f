#!/usr/bin/env bash
# Rebuild the device guest programs used by tests/test_device_guests.py: every
# *.asm here becomes *.bin beside it (the shared boot.inc / lib.inc are included).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for source in "$here"/*.asm; do
  nasm -f bin -I "$here/" -o "${source%.asm}.bin" "$source"
done
