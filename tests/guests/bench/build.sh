#!/bin/sh
# Assemble the benchmark guests into plugins/data/ (shipped with the package).
set -e
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/../../../plugins/data"
for source in "$here"/*.asm; do
    name="$(basename "$source" .asm)"
    nasm -f bin -o "$data/bench_$name.bin" "$source"
done
