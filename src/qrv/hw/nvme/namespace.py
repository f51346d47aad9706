"""A namespace: a range of logical blocks backed by a raw image file (or a slice of it).

Data reaches the file with ``os.pwrite``; durability is ``os.fsync`` on Flush (or after
every write when the volatile write cache is disabled).  A read-only namespace opens its
file ``O_RDONLY``, so nothing the guest does can modify it.

The backing store must be a regular file or a block device (whose size is found with
``lseek(SEEK_END)``: its ``st_size`` is 0).  Anything else (a directory, a FIFO, a
character device) is refused with :class:`NamespaceError`, as is a namespace smaller
than one LBA or not a whole number of LBAs.  The last rule is where the built-in board
parts from QEMU: QEMU's block layer counts an image in 512-byte sectors rounded *up*
(``bdrv_nb_sectors``: the tail past end-of-file reads as zeros) and the NVMe device
then takes NSZE = size / LBA size rounded *down*, so a 1000-byte image is 2 LBAs on
QEMU while a plain floor would give 1.  A namespace is a whole number of blocks (NVMe
1.4 §5.15.2.1 NSZE), so rather than invent a partial block in either direction the
built-in board refuses such an image with a message saying so.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import uuid

from qrv.errors import MachineError
from qrv.spec.nvme import (
    DLFEAT_READ_ZEROES,
    NSATTR_WRITE_PROTECTED,
    IdentifyNamespace,
    NidType,
    lba_format,
)

log = logging.getLogger(__name__)

LBA_SIZES = (512, 4096)
# The LBA formats every namespace reports (Identify Namespace LBAF0..1, no metadata).
LBA_FORMATS = tuple(lba_format(size.bit_length() - 1) for size in LBA_SIZES)
ZERO_CHUNK = 1 << 20  # Write Zeroes / deallocate write at most this much per pwrite


def _after(buffers: list[memoryview], skip: int) -> list[memoryview]:
    """`buffers` without their first `skip` bytes."""
    rest: list[memoryview] = []
    for buf in buffers:
        if skip >= len(buf):
            skip -= len(buf)
            continue
        rest.append(buf[skip:])
        skip = 0
    return rest


class NamespaceError(MachineError):
    """A namespace that cannot be built from the given image."""


def _open_image(path: str, read_only: bool) -> int:
    """Open a regular file or block device; refuse anything else.

    ``O_NONBLOCK`` keeps a FIFO from blocking the open until it is refused; it is
    cleared again for the image (it means nothing for files and block devices)."""
    flags = (os.O_RDONLY if read_only else os.O_RDWR) | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise NamespaceError(f"{path}: {e.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
        os.close(fd)
        raise NamespaceError(f"{path}: not a regular file or block device ({_kind(mode)})")
    os.set_blocking(fd, True)
    return fd


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), f"file type {stat.S_IFMT(mode):#o}")


def _image_size(path: str, fd: int) -> int:
    """A regular file's size, or a block device's (``st_size`` is 0 for those)."""
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    except OSError as e:
        raise NamespaceError(f"{path}: cannot find the device's size: {e.strerror}") from None


def namespace_ranges(
    path: str | os.PathLike[str], count: int, lba_size: int
) -> list[tuple[int, int]]:
    """(offset, size) of `count` equal namespaces over the image at `path`, each a whole
    number of `lba_size` blocks; NamespaceError when the image does not split so."""
    if count < 1:
        raise NamespaceError(f"a controller needs at least 1 namespace, got {count}")
    fd = _open_image(os.fspath(path), read_only=True)
    try:
        total = _image_size(os.fspath(path), fd)
    finally:
        os.close(fd)
    part = total // count
    if total % count or part % lba_size or part < lba_size:
        raise NamespaceError(
            f"{os.fspath(path)}: {total} bytes do not split into {count} namespaces of "
            f"whole {lba_size}-byte LBAs"
        )
    return [(i * part, part) for i in range(count)]


class Namespace:
    """LBAs over `path` (from byte `offset`, `size` bytes or to the end of the file)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        lba_size: int = 512,
        offset: int = 0,
        size: int | None = None,
    ) -> None:
        if lba_size not in LBA_SIZES:
            raise NamespaceError(f"LBA size must be one of {LBA_SIZES}, got {lba_size}")
        if offset < 0 or offset % lba_size:
            raise NamespaceError(f"namespace offset {offset} is not a multiple of {lba_size}")
        self.path = os.fspath(path)
        self.read_only = read_only
        """Write protected (NSATTR bit 0): writes fail with Namespace Is Write Protected."""
        self.writable = not read_only
        """The image is open for writing (a protected namespace may still be)."""
        self.lba_size = lba_size
        self.lba_shift = lba_size.bit_length() - 1
        self.offset = offset
        self.fd = _open_image(self.path, read_only)
        try:
            self.nlba = self._check_size(_image_size(self.path, self.fd), size)
        except NamespaceError:
            os.close(self.fd)
            raise
        self.nsid = 0  # assigned by the controller
        self.serial = ""
        self.closed = False

    def _check_size(self, image_size: int, size: int | None) -> int:
        """The namespace's LBA count: `size` bytes (or the rest of the image) from offset."""
        where = f" from byte {self.offset}" if self.offset else ""
        avail = image_size - self.offset
        nbytes = avail if size is None else size
        if size is not None and (size < 0 or size > avail):
            raise NamespaceError(
                f"{self.path}: a namespace of {size} bytes{where} does not fit the "
                f"{image_size}-byte image"
            )
        if nbytes < self.lba_size:
            raise NamespaceError(
                f"{self.path}: {max(nbytes, 0)} bytes{where} is smaller than one "
                f"{self.lba_size}-byte LBA"
            )
        if nbytes % self.lba_size:
            raise NamespaceError(
                f"{self.path}: {nbytes} bytes{where} is not a whole number of "
                f"{self.lba_size}-byte LBAs"
            )
        return nbytes // self.lba_size

    # -- data path ----------------------------------------------------------------

    def in_range(self, slba: int, nlb: int) -> bool:
        """NVMe 1.4 §6.15: SLBA + NLB must not exceed NSZE."""
        return slba + nlb <= self.nlba

    def read(self, slba: int, nlb: int) -> bytes:
        """Read `nlb` blocks; a short read (the file shrank) returns fewer bytes."""
        return os.pread(self.fd, nlb << self.lba_shift, self.offset + (slba << self.lba_shift))

    def readinto(self, slba: int, buffers: list[memoryview]) -> int:
        """Read blocks from `slba` straight into `buffers` (whole LBAs in all), in order;
        the bytes read (fewer if the file shrank)."""
        pos = self.offset + (slba << self.lba_shift)
        wanted = sum(len(b) for b in buffers)
        done = os.preadv(self.fd, buffers, pos)
        while 0 < done < wanted:  # a short read: carry on where it stopped
            rest = _after(buffers, done)
            n = os.preadv(self.fd, rest, pos + done)
            if n <= 0:
                break
            done += n
        return done

    def write(self, slba: int, data: bytes | memoryview) -> int:
        pos = self.offset + (slba << self.lba_shift)
        view = memoryview(data)
        done = 0
        while done < len(view):
            n = os.pwrite(self.fd, view[done:], pos + done)
            if n <= 0:
                break
            done += n
        return done

    def write_zeroes(self, slba: int, nlb: int) -> None:
        pos = self.offset + (slba << self.lba_shift)
        remaining = nlb << self.lba_shift
        zeros = bytes(min(remaining, ZERO_CHUNK))
        while remaining:
            n = min(remaining, len(zeros))
            self.write_raw(pos, zeros[:n])
            pos += n
            remaining -= n

    def write_raw(self, pos: int, data: bytes) -> None:
        os.pwrite(self.fd, data, pos)

    def flush(self) -> None:
        if self.writable and not self.closed:
            os.fsync(self.fd)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)

    # -- identification ---------------------------------------------------------------

    def _digest(self) -> bytes:
        return hashlib.sha256(f"qrv-nvme:{self.serial}:{self.nsid}".encode()).digest()

    @property
    def eui64(self) -> bytes:
        return self._digest()[:8]

    @property
    def nguid(self) -> bytes:
        return self._digest()[8:24]

    @property
    def uuid(self) -> bytes:
        return uuid.UUID(bytes=self._digest()[16:32], version=4).bytes

    def descriptors(self) -> list[tuple[NidType, bytes]]:
        """Namespace identification descriptors (NVMe 1.4 §5.15.2.4, CNS 03h)."""
        return [
            (NidType.EUI64, self.eui64),
            (NidType.NGUID, self.nguid),
            (NidType.UUID, self.uuid),
            (NidType.CSI, b"\0"),  # NVM command set
        ]

    def identify(self) -> IdentifyNamespace:
        """Identify Namespace (NVMe 1.4 §5.15.2.1): fully provisioned, NSZE = NCAP = NUSE."""
        return IdentifyNamespace(
            nsze=self.nlba,
            ncap=self.nlba,
            nuse=self.nlba,
            nlbaf=len(LBA_FORMATS) - 1,
            flbas=LBA_SIZES.index(self.lba_size),
            dlfeat=DLFEAT_READ_ZEROES,
            nvmcap=self.nlba * self.lba_size,
            nsattr=NSATTR_WRITE_PROTECTED if self.read_only else 0,
            nguid=self.nguid,
            eui64=self.eui64,
            lbaf=LBA_FORMATS,
        )


def check_image(path: str | os.PathLike[str], *, read_only: bool, lba_size: int = 512) -> None:
    """Make the checks a :class:`Namespace` makes of its image, keeping nothing open.

    For a machine that hands the image to someone else (QEMU), so both machines
    refuse the same images with the same :class:`NamespaceError`.
    """
    Namespace(path, read_only=read_only, lba_size=lba_size).close()
