"""ATA (IDE) disks: one channel component with up to two drives, its task file and
IDENTIFY data."""

from .channel import ATAChannel

__all__ = ["ATAChannel"]
