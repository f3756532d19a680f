#!/usr/bin/env bash
# Rebuild every guest program from its nasm source (apt-get install nasm).
# tests/guests/<group>/*.asm -> *.bin beside it; the demo boot sector becomes the
# bundled 1.44 MB demo floppy plugins/data/demo.img.  Groups with their own
# build.sh (bios/, bench/, ...) are built by it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for group in "$here"/*/; do
  if [ -x "$group/build.sh" ]; then
    "$group/build.sh"
    continue
  fi
  for source in "$group"*.asm; do
    [ -e "$source" ] || continue
    nasm -f bin -o "${source%.asm}.bin" "$source"
  done
done
demo="$here/../../plugins/data/demo.img"
cp "$here/demo/demo.bin" "$demo"
truncate -s 1474560 "$demo"
