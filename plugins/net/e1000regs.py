"""The Intel 82540EM's register map, bits and reset values (PCI/PCI-X Family of
Gigabit Ethernet Controllers Software Developer's Manual, chapter 13, "General
Register Descriptions"; the PHY's registers with the values QEMU's
`hw/net/e1000.c` gives them), apart from the card in `e1000.py`.
"""

from typing import Dict, List, Tuple

MMIO_SIZE = 0x20000                 # BAR0: 128 KiB of registers
IO_SIZE = 0x40                      # BAR1: IOADDR, IODATA (QEMU's 64 bytes)
IOADDR, IODATA = 0x00, 0x04

# ---------------------------------------------------------------- register offsets
CTRL, STATUS, EECD, EERD, CTRL_EXT, MDIC = 0x0000, 0x0008, 0x0010, 0x0014, 0x0018, 0x0020
ICR, ITR, ICS, IMS, IMC = 0x00C0, 0x00C4, 0x00C8, 0x00D0, 0x00D8
RCTL, TCTL, TIPG = 0x0100, 0x0400, 0x0410
RDBAL, RDBAH, RDLEN, RDH, RDT, RDTR = 0x2800, 0x2804, 0x2808, 0x2810, 0x2818, 0x2820
TDBAL, TDBAH, TDLEN, TDH, TDT = 0x3800, 0x3804, 0x3808, 0x3810, 0x3818
STATISTICS = 0x4000                 # 64 counters, 4000h-40FCh
MTA, RA, VFTA = 0x5200, 0x5400, 0x5600
MTA_COUNT, RA_COUNT, VFTA_COUNT = 128, 32, 128

#: registers that only hold what is written: name -> (offset, writable bits)
STORED: Dict[str, Tuple[int, int]] = {
    "CTRL_EXT": (CTRL_EXT, 0xFFFFFFFF), "FCAL": (0x0028, 0xFFFFFFFF), "FCAH": (0x002C, 0xFFFF),
    "FCT": (0x0030, 0xFFFF), "VET": (0x0038, 0xFFFF), "ITR": (ITR, 0xFFFF),
    "FCTTV": (0x0170, 0xFFFF), "TXCW": (0x0178, 0xFFFFFFFF), "TIPG": (TIPG, 0x3FFFFFFF),
    "LEDCTL": (0x0E00, 0xFFFFFFFF), "PBA": (0x1000, 0xFFFF), "FCRTL": (0x2160, 0x8000FFF8),
    "FCRTH": (0x2168, 0xFFF8), "RDBAL": (RDBAL, 0xFFFFFFF0), "RDBAH": (RDBAH, 0xFFFFFFFF),
    "RDLEN": (RDLEN, 0xFFF80), "RDTR": (RDTR, 0xFFFF), "RXDCTL": (0x2828, 0xFFFFFFFF),
    "RADV": (0x282C, 0xFFFF), "RSRPD": (0x2C00, 0xFFF), "TDBAL": (TDBAL, 0xFFFFFFF0),
    "TDBAH": (TDBAH, 0xFFFFFFFF), "TDLEN": (TDLEN, 0xFFF80), "TIDV": (0x3820, 0xFFFF),
    "TXDCTL": (0x3828, 0xFFFFFFFF), "TADV": (0x382C, 0xFFFF), "RXCSUM": (0x5000, 0x7FF),
    "WUC": (0x5800, 0xF), "WUFC": (0x5808, 0xFF), "WUS": (0x5810, 0xFF), "MANC": (0x5820, 0xFFFFFFFF),
    # the 8257x's software semaphore, which QEMU's e1000 keeps too: U-Boot's
    # driver sets SWESMBI there and reads it back before it reads the EEPROM
    "SWSM": (0x5B50, 0xFFFFFFFF),
}
#: reset values other than 0 (QEMU's mac_reg_init)
STORED_RESET = {"PBA": 0x00100030, "LEDCTL": 0x602, "MANC": 0x00222300}

# ---------------------------------------------------------------- bits
CTRL_RST, CTRL_PHY_RST = 0x04000000, 0x80000000
CTRL_RESET = 0x00140240             # SWDPIN2 | SWDPIN0 | SPD_1000 | SLU (QEMU)
STATUS_LU = 0x02
#: link up at 1000 Mb/s full duplex, as QEMU's STATUS after reset
STATUS_RESET = 0x80080783
EECD_SK, EECD_CS, EECD_DI, EECD_DO = 0x01, 0x02, 0x04, 0x08
EECD_FWE, EECD_REQ, EECD_GNT, EECD_PRES = 0x30, 0x40, 0x80, 0x100
EECD_STORED = EECD_SK | EECD_CS | EECD_DI | EECD_FWE | EECD_REQ
EERD_START, EERD_DONE, EERD_ADDR_SHIFT, EERD_DATA_SHIFT = 0x01, 0x10, 8, 16
MDIC_DATA, MDIC_REG_SHIFT, MDIC_PHY_SHIFT = 0xFFFF, 16, 21
MDIC_OP_WRITE, MDIC_OP_READ, MDIC_READY, MDIC_INT_EN, MDIC_ERROR = (0x04000000, 0x08000000, 0x10000000,
                                                                     0x20000000, 0x40000000)
# ICR / ICS / IMS / IMC
ICR_TXDW, ICR_TXQE, ICR_RXDMT0, ICR_RXO, ICR_RXT0, ICR_MDAC = 0x01, 0x02, 0x10, 0x40, 0x80, 0x200
ICR_BITS = 0x0001F6DF
# RCTL
RCTL_EN, RCTL_SBP, RCTL_UPE, RCTL_MPE, RCTL_LPE = 0x02, 0x04, 0x08, 0x10, 0x20
RCTL_RDMTS_SHIFT, RCTL_MO_SHIFT, RCTL_BAM = 8, 12, 0x8000
RCTL_BSIZE_SHIFT, RCTL_BSEX, RCTL_SECRC = 16, 0x02000000, 0x04000000
# TCTL
TCTL_EN = 0x02
# transmit descriptors (SDM chapter 3): the command byte is bits 31-24 of the second dword
TXD_EOP, TXD_RS, TXD_RPS = 0x01000000, 0x08000000, 0x10000000
TXD_DEXT, TXD_DTYP_D = 0x20000000, 0x00100000
TXD_CMD_TCP, TXD_CMD_IP, TXD_CMD_TSE = 0x01000000, 0x02000000, 0x04000000
TXD_STAT_DD = 0x01
POPTS_IXSM, POPTS_TXSM = 0x01, 0x02
DESCRIPTOR_SIZE = 16
TX_BUFFER = 0x10000                 # the most a frame collects (QEMU's tx.data)
# receive descriptors (SDM chapter 3)
RXD_DD, RXD_EOP, RXD_IXSM = 0x01, 0x02, 0x04
RX_MINIMUM = 60
MAX_FRAME, MAX_LONG_FRAME = 1522 - 4, 16384 - 4     # without FCS; with LPE (QEMU's limits)

# ---------------------------------------------------------------- statistics (SDM chapter 13)
STATISTIC_NAMES = (
    "CRCERRS ALGNERRC SYMERRS RXERRC MPC SCC ECOL MCC LATECOL - COLC - DC TNCRS SEC CEXTERR "
    "RLEC - XONRXC XONTXC XOFFRXC XOFFTXC FCRUC PRC64 PRC127 PRC255 PRC511 PRC1023 PRC1522 GPRC "
    "BPRC MPRC GPTC - GORCL GORCH GOTCL GOTCH - - RNBC RUC RFC ROC RJC MGTPRC MGTPDC MGTPTC "
    "TORL TORH TOTL TOTH TPR TPT PTC64 PTC127 PTC255 PTC511 PTC1023 PTC1522 MPTC BPTC TSCTC "
    "TSCTFC").split()
STAT = {name: index for index, name in enumerate(STATISTIC_NAMES) if name != "-"}
#: the high halves of the 64-bit counters: reading one clears the pair (QEMU)
STAT_HIGH = {STAT[name] for name in ("GORCH", "GOTCH", "TORH", "TOTH")}
PRC_SIZES = ("PRC64", "PRC127", "PRC255", "PRC511", "PRC1023", "PRC1522")
PTC_SIZES = ("PTC64", "PTC127", "PTC255", "PTC511", "PTC1023", "PTC1522")


def size_counter(names: Tuple[str, ...], size: int) -> str:
    """The size-bucket counter a frame of `size` bytes (FCS included) counts in
    (none below 64 bytes: returns "")."""
    for limit, name in zip((64, 127, 255, 511, 1023), names):
        if size <= limit:
            return name if size == 64 or limit > 64 else ""
    return names[-1]


# ---------------------------------------------------------------- the PHY (M88E1011)
PHY_ADDRESS = 1
BMCR, BMSR, PHYID1, PHYID2, ANAR, ANLPAR, ANER = 0, 1, 2, 3, 4, 5, 6
CTRL1000, STAT1000 = 9, 10
M88_SPEC_CTRL, M88_SPEC_STATUS, M88_EXT_SPEC_CTRL, M88_RX_ERR_CNTR = 0x10, 0x11, 0x14, 0x15
BMCR_RESET_BIT, BMCR_LOOPBACK, BMCR_ANRESTART = 0x8000, 0x4000, 0x0200
#: registers QEMU's PHY answers: number -> (readable, writable)
PHY_ACCESS = {BMCR: (True, True), BMSR: (True, False), PHYID1: (True, False), PHYID2: (True, False),
              ANAR: (True, True), ANLPAR: (True, False), ANER: (True, False), CTRL1000: (True, True),
              STAT1000: (True, False), M88_SPEC_CTRL: (True, True), M88_SPEC_STATUS: (True, False),
              M88_EXT_SPEC_CTRL: (True, True), M88_RX_ERR_CNTR: (True, False)}


def phy_reset_values() -> List[int]:
    """The PHY's registers after reset, link up at 1000 Mb/s full duplex with
    auto-negotiation complete (QEMU's phy_reg_init once its negotiation is done)."""
    phy = [0] * 32
    phy[BMCR] = 0x1140                  # 1000 Mb/s, full duplex, auto-negotiation on
    phy[BMSR] = 0x796D                  # capabilities, link up, auto-negotiation complete
    phy[PHYID1], phy[PHYID2] = 0x0141, 0x0C20
    phy[ANAR] = 0x0DE1
    phy[ANLPAR] = 0x41E0                # the partner's 10/100 abilities, acknowledged
    phy[CTRL1000], phy[STAT1000] = 0x0E00, 0x3C00
    phy[M88_SPEC_CTRL], phy[M88_SPEC_STATUS], phy[M88_EXT_SPEC_CTRL] = 0x0360, 0xAC00, 0x0D60
    return phy


# ---------------------------------------------------------------- the EEPROM (SDM chapter 5)
EEPROM_WORDS = 64
EEPROM_CHECKSUM_WORD, EEPROM_SUM = 0x3F, 0xBABA
#: words 8-3Eh as QEMU's e1000 EEPROM template (device ID at 0Bh and 0Dh)
EEPROM_TEMPLATE = (
    0x0000, 0x0000, 0x0000, 0x0000, 0xFFFF, 0x0000, 0x0000, 0x0000,
    0x3000, 0x1000, 0x6403, 0x0000, 0x8086, 0x0000, 0x8086, 0x3040,
    0x0008, 0x2000, 0x7E14, 0x0048, 0x1000, 0x00D8, 0x0000, 0x2700,
    0x6CC9, 0x3150, 0x0722, 0x040B, 0x0984, 0x0000, 0xC000, 0x0706,
    0x1008, 0x0000, 0x0F04, 0x7FFF, 0x4D01, 0xFFFF, 0xFFFF, 0xFFFF,
    0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF,
    0x0100, 0x4000, 0x121C, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF,
    0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0x0000)


def eeprom_words(mac: bytes, device_id: int) -> List[int]:
    """The EEPROM: the MAC at words 0-2, the device ID, and the checksum word that
    makes the 64 words sum to BABAh (the manual's EEPROM checksum)."""
    words = list(EEPROM_TEMPLATE)
    words[0:3] = [mac[0] | mac[1] << 8, mac[2] | mac[3] << 8, mac[4] | mac[5] << 8]
    words[0x0B] = words[0x0D] = device_id
    words[EEPROM_CHECKSUM_WORD] = (EEPROM_SUM - sum(words[:EEPROM_CHECKSUM_WORD])) & 0xFFFF
    return words
