"""Debugging aids: the port E9h debug console and the event tracer."""
