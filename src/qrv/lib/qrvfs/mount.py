"""Opening a qrvfs volume: check the superblock against the device, replay a
committed log (or overlay it when read-only), note what the caller should tell
the user."""

from __future__ import annotations

from dataclasses import dataclass, field

from qrv.lib.qrvfs.device import BlockDevice
from qrv.lib.qrvfs.journal import install_log, min_log_blocks, read_log
from qrv.lib.qrvfs.volume import Clock, Volume, wall_clock
from qrv.spec.qrvfs import (
    BLOCK_SIZE,
    SUPERBLOCK_BLOCK,
    QrvfsFormatError,
    Superblock,
    superblock_problems,
)


@dataclass
class MountResult:
    volume: Volume
    read_only: bool
    notes: list[str] = field(default_factory=list)  # one line each, for the log
    replayed: int = 0  # log blocks installed


def read_superblock(dev: BlockDevice) -> Superblock:
    """The checked superblock of ``dev`` (QrvfsFormatError with one clear line if unusable)."""
    if dev.nblocks <= SUPERBLOCK_BLOCK:
        raise QrvfsFormatError(
            f"device of {dev.nblocks * BLOCK_SIZE} bytes is too small for a qrvfs superblock"
        )
    sb = Superblock.unpack(dev.read(SUPERBLOCK_BLOCK))
    problems = superblock_problems(sb, dev.nblocks)
    if problems:
        raise QrvfsFormatError(f"bad superblock: {problems[0]}")
    return sb


def open_volume(
    dev: BlockDevice,
    *,
    read_only: bool = False,
    cache_blocks: int = 1024,
    now: Clock = wall_clock,
) -> MountResult:
    sb = read_superblock(dev)
    notes: list[str] = []
    if dev.read_only and not read_only:
        notes.append("device is read-only: mounted read-only")
        read_only = True
    if not read_only and 0 < sb.nlog < min_log_blocks(sb):
        notes.append(
            f"log of {sb.nlog} blocks is smaller than the {min_log_blocks(sb)} a transaction "
            "may need: mounted read-only"
        )
        read_only = True
    state = read_log(dev, sb)
    replayed = 0
    overlay: list[tuple[int, bytes]] = []
    if state.problem is not None:
        notes.append(f"{state.problem}: ignored")
    if read_only:
        if state.committed and state.header is not None:
            overlay = list(zip(state.header.targets, state.blocks, strict=True))
            notes.append(
                f"log holds a committed transaction of {len(overlay)} blocks: "
                "read through it (read-only, not replayed)"
            )
    elif not state.empty:
        replayed = install_log(dev, sb, state)
        if replayed:
            notes.append(f"replayed {replayed} block(s) from the log")
    if not read_only and sb.nlog == 0:
        notes.append("filesystem has no log (nlog = 0): mounted read-write, not crash-safe")
    vol = Volume(dev, sb, cache_blocks + len(overlay), now)
    if state.header is not None:
        vol.journal.sequence = state.header.sequence
    for block, data in overlay:
        vol.cache.zero(block)[:] = data
        vol.cache.pinned.add(block)
    return MountResult(vol, read_only, notes, replayed)
