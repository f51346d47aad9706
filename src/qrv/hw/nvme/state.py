"""What a controller knows: its parameters and the state its commands read and change."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from qrv.hw.nvme.cache import DEFAULT_CACHE_BYTES, WriteCache
from qrv.hw.nvme.logs import (
    WARNING_TEMPERATURE_K,
    AsyncEvents,
    ChangedNamespaces,
    ErrorLog,
    HealthCounters,
)
from qrv.hw.nvme.namespace import Namespace
from qrv.hw.nvme.queues import CompletionQueue, SubmissionQueue
from qrv.spec.nvme import Cap, Cc, Command, Status

log = logging.getLogger("qrv.hw.nvme")


@dataclass(frozen=True)
class NvmeConfig:
    """Construction parameters of a controller (what CAP and Identify advertise)."""

    serial: str = "qrv-test"
    model: str = "QRV NVMe model (qrv)"
    firmware: str = "0.24.0"
    mqes: int = 0x7FF  # CAP.MQES, 0's based
    mdts: int = 7  # 2^7 minimum pages (512 KiB with 4 KiB pages); 0 = no limit
    timeout: int = 0x0F  # CAP.TO in 500 ms units
    dstrd: int = 0
    mpsmin: int = 0
    mpsmax: int = 4
    max_ioqpairs: int = 64
    ready_delay: float = 0.0  # seconds from CC.EN=1 to CSTS.RDY=1
    max_namespaces: int = 256  # Identify Controller NN
    cache_bytes: int = DEFAULT_CACHE_BYTES  # the volatile write cache's capacity

    @property
    def msix_vectors(self) -> int:
        return self.max_ioqpairs + 1

    @property
    def max_transfer(self) -> int | None:
        """MDTS in bytes (units of the CAP.MPSMIN page, NVMe 1.4 §5.15.2.2)."""
        return None if self.mdts == 0 else (1 << self.mdts) << (12 + self.mpsmin)


@dataclass
class Faults:
    """Misbehaviour on request, for testing drivers' error paths.

    * never_ready: CC.EN=1 with a valid configuration never raises CSTS.RDY.
    * fatal: CSTS.CFS reads 1 and nothing more is processed (can be set at any time).
    * wrong_cid: the next N completions carry a CID the host never used.
    * swallow: commands are fetched (SQ head moves) but never completed.
    * no_interrupts: completions are posted but raise neither INTx nor MSI-X.
    * reorder_seed: not a fault (QEMU does it): the commands one doorbell makes available
      are all fetched and executed, then completed in an order drawn from this seed.
    """

    never_ready: bool = False
    fatal: bool = False
    wrong_cid: int = 0
    swallow: bool = False
    no_interrupts: bool = False
    reorder_seed: int | None = None


@dataclass
class Request:
    """One command being executed: where it came from and what DW0 it returns."""

    sqid: int
    cmd: Command
    dw0: int = 0
    lba: int = 0  # for the Error Information log


Handler = Callable[[Request], Status | None]  # None: completes later (AER)


@dataclass
class FeatureValues:
    """Current values of the changeable features (NVMe 1.4 §5.21.1)."""

    arbitration: int = 0
    power_management: int = 0
    temp_over: int = WARNING_TEMPERATURE_K
    temp_under: int = 0
    volatile_write_cache: bool = True
    interrupt_coalescing: int = 0
    vector_coalescing_disable: set[int] = field(default_factory=set)
    write_atomicity: int = 0
    async_event_config: int = 0
    error_recovery: dict[int, int] = field(default_factory=dict)
    """Error Recovery DW11 per NSID (namespace specific; absent: the default, 0)."""
    timestamp: tuple[int, int] | None = None
    """(milliseconds the host set, controller clock in ms then); None: counting from the
    last reset (Timestamp origin 000b)."""


@dataclass
class ControllerState:
    config: NvmeConfig
    cap: Cap
    namespaces: dict[int, Namespace]
    dma_read: Callable[[int, int], bytes]
    dma_write: Callable[[int, bytes], None]
    msix_enabled: Callable[[], bool]
    faults: Faults = field(default_factory=Faults)
    cc: Cc = field(default_factory=Cc)
    sqs: dict[int, SubmissionQueue] = field(default_factory=dict)
    cqs: dict[int, CompletionQueue] = field(default_factory=dict)
    features: FeatureValues = field(default_factory=FeatureValues)
    errors: ErrorLog = field(default_factory=ErrorLog)
    health: HealthCounters = field(default_factory=HealthCounters)
    ns_health: dict[int, HealthCounters] = field(default_factory=dict)
    """Per-namespace SMART / Health counters (LPA bit 0); `health` holds their sum."""
    changed_namespaces: ChangedNamespaces = field(default_factory=ChangedNamespaces)
    events: AsyncEvents = field(default_factory=AsyncEvents)
    io_queues_created: bool = False
    cache: WriteCache = field(default_factory=WriteCache)
    writes: int = 0
    """Write commands completed successfully (Write, Write Zeroes, Deallocate)."""
    clock_ms: Callable[[], int] = field(default=lambda: 0)
    """The controller's clock in milliseconds (the Timestamp feature counts on it)."""
    dma_view: Callable[[int, int], memoryview | None] = field(default=lambda addr, size: None)
    """Host memory in place for a data transfer (DmaPort.dma_view); None: copy it."""
    reset_ms: int = 0
    """`clock_ms` at the last controller reset."""

    @property
    def page_size(self) -> int:
        return self.cc.page_size

    def counters(self, nsid: int) -> tuple[HealthCounters, HealthCounters]:
        """The SMART / Health counters an I/O command on `nsid` adds to: the
        controller's and the namespace's."""
        ns = self.ns_health.get(nsid)
        if ns is None:
            ns = self.ns_health[nsid] = HealthCounters()
        return self.health, ns

    def flush(self, namespaces: Iterable[Namespace]) -> None:
        """Write the cached LBAs of `namespaces` to their images, then fsync the images.
        Raises OSError when the host refuses either."""
        chosen = list(namespaces)
        self.cache.flush({ns.nsid for ns in chosen})
        for ns in chosen:
            ns.flush()

    def flush_all(self) -> bool:
        """:meth:`flush` every namespace (reset, shutdown, cache off); False if it failed."""
        try:
            self.flush(self.namespaces.values())
        except OSError as e:
            log.warning("flush of the write cache failed: %s", e)
            return False
        return True


@dataclass(frozen=True)
class PowerCut:
    """What a power cut did: after how many completed writes, and how many it lost."""

    writes: int
    lost: int

    @property
    def message(self) -> str:
        return f"power cut after {self.writes} writes ({self.lost} unflushed writes lost)"
