"""In-memory block devices for the qrvfs tests: a bytearray, and one that
records every write and flush so a test can cut the stream anywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

from qrv.lib.qrvfs import BlockDevice, Filesystem, format_device


def mem_device(img: bytearray, *, writable: bool = True) -> BlockDevice:
    def pread(offset: int, length: int) -> bytes:
        return bytes(img[offset : offset + length])

    def pwrite(offset: int, data: bytes) -> None:
        img[offset : offset + len(data)] = data

    return BlockDevice(pread, len(img), pwrite if writable else None, lambda: None)


@dataclass
class Recorder:
    """Applies writes to ``img`` and logs them: ("w", offset, data) and ("f",)."""

    img: bytearray
    events: list[tuple[object, ...]] = field(default_factory=list)

    def device(self) -> BlockDevice:
        def pread(offset: int, length: int) -> bytes:
            return bytes(self.img[offset : offset + length])

        def pwrite(offset: int, data: bytes) -> None:
            self.img[offset : offset + len(data)] = data
            self.events.append(("w", offset, bytes(data)))

        def flush() -> None:
            self.events.append(("f",))

        return BlockDevice(pread, len(self.img), pwrite, flush)


def new_fs(
    size_mib: int = 4, ninodes: int = 128, nlog: int = 64, clock: int = 1000
) -> tuple[bytearray, Filesystem]:
    img = bytearray(size_mib << 20)
    dev = mem_device(img)
    format_device(dev, ninodes=ninodes, nlog=nlog, now=lambda: clock)
    return img, Filesystem.mount(dev, now=lambda: clock)
