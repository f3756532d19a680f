"""Serial ports: the 16550 UART."""
