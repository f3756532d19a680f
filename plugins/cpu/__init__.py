"""The x86 CPU component (decoder, executor, protected mode)."""
