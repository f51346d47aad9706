"""NVM command set (NVMe 1.4 §6): Read, Write, Flush, Write Zeroes, Compare, Dataset
Management.  Checks run in QEMU's order: namespace, opcode, MDTS, LBA range, write
protection, then the PRPs.

A Write goes to the volatile write cache (:mod:`qrv.hw.nvme.cache`) unless it is FUA or
the cache is off; then it is written to the image and the image fsynced before it
completes.  A Write of :data:`STREAM_BYTES` or more streams past the cache, as drives
stream large sequential writes: straight from host memory to the image (superseding what
the cache held for its blocks), fsynced only when FUA or with the cache off.  Reads and
Compare see the cache over the image.  Write Zeroes and Deallocate write the image
directly (dropping what the cache held for their blocks), fsynced when FUA or with the
cache off.  Flush writes the cache out and fsyncs the images."""

from __future__ import annotations

from collections.abc import Iterable

from qrv.hw.nvme.namespace import Namespace
from qrv.hw.nvme.prp import DATA_TRANSFER_ERROR, Segment, gather, prp_segments, scatter
from qrv.hw.nvme.sgl import dptr_descriptor, sgl_segments
from qrv.hw.nvme.state import ControllerState, Handler, Request, log
from qrv.hw.pcidev import DmaError
from qrv.spec.nvme import (
    DSM_RANGE,
    NSID_BROADCAST,
    SUCCESS,
    DsmField,
    GenericStatus,
    MediaStatus,
    NvmField,
    NvmOpcode,
    Status,
    generic,
    media,
)

INVALID_FIELD = generic(GenericStatus.INVALID_FIELD, dnr=True)
INVALID_NAMESPACE = generic(GenericStatus.INVALID_NAMESPACE_OR_FORMAT, dnr=True)
INVALID_OPCODE = generic(GenericStatus.INVALID_OPCODE, dnr=True)
LBA_OUT_OF_RANGE = generic(GenericStatus.LBA_OUT_OF_RANGE, dnr=True)
WRITE_PROTECTED = generic(GenericStatus.NAMESPACE_WRITE_PROTECTED, dnr=True)
WRITE_FAULT = media(MediaStatus.WRITE_FAULT)
UNRECOVERED_READ = media(MediaStatus.UNRECOVERED_READ_ERROR)
COMPARE_FAILURE = media(MediaStatus.COMPARE_FAILURE, dnr=True)
INTERNAL_ERROR = generic(GenericStatus.INTERNAL_ERROR)
STREAM_BYTES = 256 << 10
"""A Write at least this large goes to the medium, not the volatile write cache."""


class NvmCommands:
    """NVM I/O command handlers over a controller's state."""

    def __init__(self, state: ControllerState) -> None:
        self.s = state
        self.table: dict[int, Handler] = {
            NvmOpcode.FLUSH: self.flush,
            NvmOpcode.WRITE: self.write,
            NvmOpcode.READ: self.read,
            NvmOpcode.COMPARE: self.compare,
            NvmOpcode.WRITE_ZEROES: self.write_zeroes,
            NvmOpcode.DATASET_MANAGEMENT: self.dataset_management,
        }

    def execute(self, req: Request) -> Status | None:
        cmd = req.cmd
        if cmd.nsid == 0 or (
            cmd.nsid > self.s.config.max_namespaces and cmd.nsid != NSID_BROADCAST
        ):
            return self._reject(req, f"nsid {cmd.nsid:#x} invalid", INVALID_NAMESPACE)
        if cmd.nsid == NSID_BROADCAST and cmd.opc == NvmOpcode.FLUSH:
            return self._flush(self.s.namespaces.values())
        if cmd.nsid not in self.s.namespaces:
            return self._reject(req, f"nsid {cmd.nsid:#x} not active", INVALID_FIELD)
        handler = self.table.get(cmd.opc)
        if handler is None:
            return self._reject(req, f"opcode {cmd.opc:#04x}", INVALID_OPCODE)
        return handler(req)

    def _reject(self, req: Request, why: str, status: Status) -> Status:
        log.debug("io sq %d cid %d rejected: %s -> %s", req.sqid, req.cmd.cid, why, status)
        return status

    # -- common checks ---------------------------------------------------------------------

    def _range(self, req: Request, *, mdts: bool) -> tuple[Namespace, int, int] | Status:
        """The namespace, SLBA and byte length of a block command, after MDTS and LBA range."""
        cmd = req.cmd
        ns = self.s.namespaces[cmd.nsid]
        slba, nlb = cmd.slba, cmd.nlb
        req.lba = slba
        length = nlb << ns.lba_shift
        limit = self.s.config.max_transfer
        if mdts and limit is not None and length > limit:
            return self._reject(req, f"{length} bytes exceed MDTS", INVALID_FIELD)
        if not ns.in_range(slba, nlb):
            return self._reject(req, f"LBA {slba}+{nlb} beyond {ns.nlba}", LBA_OUT_OF_RANGE)
        return ns, slba, length

    def _segments(self, req: Request, length: int) -> list[Segment] | Status:
        """The host memory of the data: PRPs, or an SGL with PSDT 01b/10b (no metadata
        here, so the two mean the same; 11b is reserved and refused before)."""
        cmd = req.cmd
        if cmd.flags and cmd.psdt:
            return sgl_segments(self.s.dma_read, dptr_descriptor(cmd), length)
        return prp_segments(self.s.dma_read, cmd.prp1, cmd.prp2, length, self.s.page_size)

    def _transfer(
        self, req: Request, *, writes: bool = False
    ) -> tuple[Namespace, int, int, list[Segment]] | Status:
        """The checks every data-moving command makes, in order: MDTS and LBA range,
        write protection (for commands that write), then the PRPs."""
        checked = self._range(req, mdts=True)
        if isinstance(checked, Status):
            return checked
        ns, slba, length = checked
        if writes and ns.read_only:
            return self._reject(req, "namespace is read-only", WRITE_PROTECTED)
        segs = self._segments(req, length)
        if isinstance(segs, Status):
            return segs
        return ns, slba, length, segs

    def _durable(self, ns: Namespace, fua: bool) -> bool:
        """Force Unit Access, or no volatile write cache: the data must reach the medium."""
        return fua or not self.s.features.volatile_write_cache

    def _stored(self, ns: Namespace, slba: int, nlb: int) -> bytes:
        """What the blocks hold: the medium with the write cache over it (short if the
        image shrank; OSError becomes a short result)."""
        try:
            data = ns.read(slba, nlb)
        except OSError as e:
            log.warning("nsid %d: read failed: %s", ns.nsid, e)
            return b""
        if len(data) != nlb << ns.lba_shift or not len(self.s.cache):
            return data
        merged = bytearray(data)
        self.s.cache.overlay(ns, slba, nlb, merged)
        return bytes(merged)

    def _host_memory(self, segs: list[Segment]) -> list[memoryview] | Status | None:
        """The segments' host memory in place (plain RAM), or None: copy through
        dma_read/dma_write.  Data Transfer Error where a segment is not system RAM."""
        views: list[memoryview] = []
        try:
            for addr, n in segs:
                view = self.s.dma_view(addr, n)
                if view is None:
                    return None
                views.append(view)
        except DmaError:
            return DATA_TRANSFER_ERROR
        return views

    def _host_data(self, segs: list[Segment]) -> bytes | memoryview | Status:
        """The host's data for the medium: host memory in place when it is one piece of
        plain RAM (no copy), else gathered."""
        host = self._host_memory(segs)
        if isinstance(host, list) and len(host) == 1:
            return host[0]
        if isinstance(host, Status):
            return host
        return gather(self.s.dma_read, segs)

    def _read_in_place(self, ns: Namespace, slba: int, nlb: int, host: list[memoryview]) -> bool:
        """The medium straight into host memory, then the write cache over it (a cache
        with lines only for one segment: :meth:`read` copies otherwise).  False if the
        image is short (or unreadable)."""
        try:
            done = ns.readinto(slba, host)
        except OSError as e:
            log.warning("nsid %d: read failed: %s", ns.nsid, e)
            return False
        if done != nlb << ns.lba_shift:
            return False
        if len(self.s.cache):
            self.s.cache.overlay(ns, slba, nlb, host[0])
        return True

    def _written(self) -> Status:
        """Count a completed write command (a power cut counts these)."""
        self.s.writes += 1
        return SUCCESS

    # -- commands ---------------------------------------------------------------------------

    def read(self, req: Request) -> Status:
        checked = self._transfer(req)
        if isinstance(checked, Status):
            return checked
        ns, slba, length, segs = checked
        host = self._host_memory(segs)
        if isinstance(host, Status):
            return host
        if host is not None and (len(host) == 1 or not len(self.s.cache)):
            ok = self._read_in_place(ns, slba, req.cmd.nlb, host)
        else:
            data = self._stored(ns, slba, req.cmd.nlb)
            ok = len(data) == length
            if ok and (status := scatter(self.s.dma_write, segs, data)) is not None:
                return status
        if not ok:
            for h in self.s.counters(ns.nsid):
                h.media_errors += 1
            return UNRECOVERED_READ
        for h in self.s.counters(ns.nsid):
            h.bytes_read += length
            h.read_commands += 1
        return SUCCESS

    def write(self, req: Request) -> Status:
        checked = self._transfer(req, writes=True)
        if isinstance(checked, Status):
            return checked
        ns, slba, length, segs = checked
        durable = self._durable(ns, bool(NvmField.FUA.get(req.cmd.cdw12)))
        to_medium = durable or length >= STREAM_BYTES
        data = self._host_data(segs) if to_medium else gather(self.s.dma_read, segs)
        if isinstance(data, Status):
            return data
        cache = self.s.cache
        try:
            if to_medium:
                cache.discard(ns, slba, req.cmd.nlb)
                written = ns.write(slba, data)
                if durable and written == length:
                    ns.flush()
            else:
                cache.put(ns, slba, bytes(data), self.s.writes + 1)
                written = length
        except OSError as e:
            log.warning("nsid %d: write failed: %s", ns.nsid, e)
            written = -1
        if written != length:
            for h in self.s.counters(ns.nsid):
                h.media_errors += 1
            return WRITE_FAULT
        for h in self.s.counters(ns.nsid):
            h.bytes_written += length
            h.write_commands += 1
        return self._written()

    def compare(self, req: Request) -> Status:
        checked = self._transfer(req)
        if isinstance(checked, Status):
            return checked
        ns, slba, length, segs = checked
        host = gather(self.s.dma_read, segs)
        if isinstance(host, Status):
            return host
        stored = self._stored(ns, slba, req.cmd.nlb)
        if len(stored) != length:
            return UNRECOVERED_READ
        for h in self.s.counters(ns.nsid):
            h.bytes_read += length
            h.read_commands += 1
        return SUCCESS if stored == host else COMPARE_FAILURE

    def flush(self, req: Request) -> Status:
        return self._flush([self.s.namespaces[req.cmd.nsid]])

    def _flush(self, namespaces: Iterable[Namespace]) -> Status:
        """Flush (NVMe 1.4 §6.8): the cache to the images, then fsync them."""
        try:
            self.s.flush(namespaces)
        except OSError as e:
            log.warning("flush failed: %s", e)
            return WRITE_FAULT
        return SUCCESS

    def write_zeroes(self, req: Request) -> Status:
        checked = self._range(req, mdts=False)  # bounded by WZSL, which is 0: no limit
        if isinstance(checked, Status):
            return checked
        ns, slba, _ = checked
        if ns.read_only:
            return self._reject(req, "namespace is read-only", WRITE_PROTECTED)
        try:
            self.s.cache.discard(ns, slba, req.cmd.nlb)
            ns.write_zeroes(slba, req.cmd.nlb)
            if self._durable(ns, bool(NvmField.FUA.get(req.cmd.cdw12))):
                ns.flush()
        except OSError as e:
            log.warning("nsid %d: write zeroes failed: %s", ns.nsid, e)
            return WRITE_FAULT
        return self._written()

    def dataset_management(self, req: Request) -> Status:
        """NVMe 1.4 §6.7; deallocated blocks read as zeroes (DLFEAT = 001b)."""
        cmd = req.cmd
        ns = self.s.namespaces[cmd.nsid]
        count = DsmField.NR.get(cmd.cdw10) + 1
        segs = self._segments(req, count * DSM_RANGE.size)
        if isinstance(segs, Status):
            return segs
        raw = gather(self.s.dma_read, segs)
        if isinstance(raw, Status):
            return raw
        ranges = [DSM_RANGE.unpack_from(raw, i * DSM_RANGE.size) for i in range(count)]
        for _attrs, nlb, slba in ranges:
            if not ns.in_range(slba, nlb):
                req.lba = slba
                return self._reject(req, f"DSM range {slba}+{nlb}", LBA_OUT_OF_RANGE)
        if not DsmField.AD.get(cmd.cdw11):
            return SUCCESS  # attributes are hints
        if ns.read_only:
            return self._reject(req, "deallocate on a read-only namespace", WRITE_PROTECTED)
        try:
            for _attrs, nlb, slba in ranges:
                if nlb:
                    self.s.cache.discard(ns, slba, nlb)
                    ns.write_zeroes(slba, nlb)
        except OSError as e:
            log.warning("nsid %d: deallocate failed: %s", ns.nsid, e)
            return WRITE_FAULT
        return self._written()
