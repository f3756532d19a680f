#!/bin/sh
# Assemble the benchmark guests into plugins/data/ (shipped with the package).
# compare_boot.asm is not shipped: compare.py assembles its variants itself.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/../../../plugins/data"
for name in realmode_loop protected_loop; do
    nasm -f bin -i "$here/" -o "$data/bench_$name.bin" "$here/$name.asm"
done
