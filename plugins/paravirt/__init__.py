"""Devices that exist only in emulators, which firmware and guests written for
QEMU expect to find: QEMU's firmware configuration interface (`fwcfg`)."""
