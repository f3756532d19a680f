"""Debugging a guest: execution control (breakpoints, watchpoints, stepping, reverse
execution), the built-in monitor, and the gdb remote stub.  Front ends of the
machine: they import the core, and nothing in the core or the components imports
them."""
