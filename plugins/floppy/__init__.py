"""The floppy disk controller (82077AA); its drives are the machine's fda/fdb media."""
