"""The x86 CPU component (decoder, executor; protected mode arrives in part 2)."""

from . import ops_basic, ops_control, ops_string, ops_0f, ops_mmx, ops_sse, ops_sse2  # noqa: F401  (fill the opcode maps)
from .cpu import CPU
from .state import CPUFault, LoopExit

__all__ = ["CPU", "CPUFault", "LoopExit"]
