"""The motherboard's small chips: 8259A PIC, 8254 PIT, CMOS/RTC, port B and the
port 92h fast-A20 latch; one module per chip."""
