"""Parallel ports: the IBM PC printer adapter with a printer attached."""
