"""libqrvfs: the qrvfs v2 filesystem core (spec/qrvfs.md), shared by the host
tools (qrv mkfs, fsck, fs) and fs-qrv: a block device over pread/pwrite
callables, a bounded write-back cache, the journal, allocation, block maps,
directories, mkfs and the checker."""

from qrv.lib.qrvfs.device import BlockCache, BlockDevice
from qrv.lib.qrvfs.errors import FsCorrupt, FsDeviceError, FsError
from qrv.lib.qrvfs.fs import Filesystem, StatVfs, split_path
from qrv.lib.qrvfs.mkfs import format_device
from qrv.lib.qrvfs.mount import read_superblock

__all__ = [
    "BlockCache",
    "BlockDevice",
    "Filesystem",
    "FsCorrupt",
    "FsDeviceError",
    "FsError",
    "StatVfs",
    "format_device",
    "read_superblock",
    "split_path",
]
