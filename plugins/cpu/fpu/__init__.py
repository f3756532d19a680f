"""The x87 floating-point unit of the CPU component: `float80` (arithmetic on
integers), `unit` (registers, stack, exceptions) and `ops` (the D8h-DFh
instructions and WAIT)."""
