#!/usr/bin/env bash
# Build the SSE guest: sse.bin, a boot sector and 4 more sectors (nasm); the test
# pads it to a 1.44 MB floppy image.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
nasm -f bin -o sse.bin sse.asm
