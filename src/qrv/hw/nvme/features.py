"""Get Features / Set Features (NVMe 1.4 §5.9, §5.21).

Supported: Arbitration, Power Management, Temperature Threshold, Error Recovery,
Volatile Write Cache, Number of Queues, Interrupt Coalescing, Interrupt Vector
Configuration, Write Atomicity Normal, Asynchronous Event Configuration, Timestamp.  None is
saveable, all are changeable (Get Features SEL=011b says so); Error Recovery is namespace
specific.  None persists across a controller reset (NVMe 1.4 Figure 271).

Setting a temperature threshold the composite temperature is at or beyond raises the
SMART / Health temperature event when Asynchronous Event Configuration enables it
(NVMe 1.4 §5.21.1.4, §5.21.1.11).
"""

from __future__ import annotations

from qrv.hw.nvme.logs import temperature_warning
from qrv.hw.nvme.prp import Segment, gather, prp_segments, scatter
from qrv.hw.nvme.state import ControllerState, FeatureValues, Request, log
from qrv.spec.nvme import (
    NSID_BROADCAST,
    SUCCESS,
    TIMESTAMP_MASK,
    TIMESTAMP_ORIGIN_RESET,
    TIMESTAMP_ORIGIN_SET,
    TIMESTAMP_SIZE,
    AsyncEventType,
    AsyncSmartInfo,
    CommandSpecificStatus,
    CriticalWarning,
    ErrorRecoveryField,
    FeatureCapability,
    FeatureField,
    FeatureId,
    FeatureSelect,
    GenericStatus,
    LogPage,
    NumQueuesField,
    Status,
    TempThresholdField,
    TimestampAttr,
    generic,
    specific,
)

INVALID_FIELD = generic(GenericStatus.INVALID_FIELD, dnr=True)
INVALID_NAMESPACE = generic(GenericStatus.INVALID_NAMESPACE_OR_FORMAT, dnr=True)
SUPPORTED = frozenset(
    {
        FeatureId.ARBITRATION,
        FeatureId.POWER_MANAGEMENT,
        FeatureId.TEMPERATURE_THRESHOLD,
        FeatureId.ERROR_RECOVERY,
        FeatureId.VOLATILE_WRITE_CACHE,
        FeatureId.NUMBER_OF_QUEUES,
        FeatureId.INTERRUPT_COALESCING,
        FeatureId.INTERRUPT_VECTOR_CONFIG,
        FeatureId.WRITE_ATOMICITY_NORMAL,
        FeatureId.ASYNC_EVENT_CONFIG,
        FeatureId.TIMESTAMP,
    }
)
NAMESPACE_SPECIFIC = frozenset({FeatureId.ERROR_RECOVERY})
NUMBER_OF_POWER_STATES = 1  # Identify NPSS = 0
POWER_STATE_MASK = 0x1F
WORKLOAD_HINT_MASK = 0xE0
QUEUE_COUNT_INVALID = 0xFFFF
TMPSEL_COMPOSITE = 0
TMPSEL_ALL = 0b1111
THSEL_OVER = 0
THSEL_UNDER = 1
VECTOR_MASK = 0xFFFF
COALESCING_DISABLE = 1 << 16
ARBITRATION_MASK = 0xFFFF_FF07  # AB 2:0, LPW, MPW, HPW
COALESCING_MASK = 0xFFFF
ASYNC_CONFIG_MASK = 0x1FF  # SMART / Health critical warnings, namespace attribute notices
WRITE_ATOMICITY_DN = 1


def _threshold_select(cdw11: int, *, setting: bool = False) -> tuple[int, str] | Status:
    """Which threshold CDW11 selects; only the composite temperature sensor exists, so
    TMPSEL 1111b (all sensors, Set Features only: NVMe 1.4 Figure 283) is that one."""
    tmpsel = TempThresholdField.TMPSEL.get(cdw11)
    thsel = TempThresholdField.THSEL.get(cdw11)
    sensors = (TMPSEL_COMPOSITE, TMPSEL_ALL) if setting else (TMPSEL_COMPOSITE,)
    if tmpsel not in sensors or thsel not in (THSEL_OVER, THSEL_UNDER):
        return INVALID_FIELD
    return tmpsel, "temp_over" if thsel == THSEL_OVER else "temp_under"


def _namespace_problem(s: ControllerState, nsid: int, *, broadcast: bool) -> Status | None:
    """Why `nsid` cannot name a namespace-specific feature's namespace (None: it can).
    FFFFFFFFh (all namespaces) only where `broadcast` allows it, as Set Features does."""
    if nsid == NSID_BROADCAST and broadcast:
        return None
    if nsid == 0 or nsid > s.config.max_namespaces:  # includes FFFFFFFFh
        log.debug("features: nsid %#x names no namespace", nsid)
        return INVALID_NAMESPACE
    if nsid not in s.namespaces:
        log.debug("features: nsid %d is not active", nsid)
        return INVALID_FIELD
    return None


def _error_recovery(dw11: int) -> int:
    """What Error Recovery keeps of CDW11: TLER; DULBE only where the namespace allows it,
    and no namespace here reports deallocated blocks as errors (NSFEAT bit 2 is 0)."""
    return ErrorRecoveryField.TLER.get(dw11)


def _temperature_event(s: ControllerState) -> None:
    """The temperature went beyond a threshold: the SMART / Health event, if enabled."""
    if not s.features.async_event_config & CriticalWarning.TEMPERATURE:
        return
    event = (
        AsyncEventType.SMART_HEALTH,
        AsyncSmartInfo.TEMPERATURE_THRESHOLD,
        LogPage.SMART_HEALTH,
    )
    if event not in s.events.pending:
        log.debug("temperature threshold crossed: SMART / Health event")
        s.events.pending.append(event)


def _timestamp(s: ControllerState, v: FeatureValues) -> bytes:
    """The Timestamp feature's 8 bytes (NVMe 1.4 §5.21.1.14, Figure 295): milliseconds
    counting on from what the host set, or from the last reset; Synch 0 (the count never
    stops)."""
    now = s.clock_ms()
    if v.timestamp is None:
        value, origin = now - s.reset_ms, TIMESTAMP_ORIGIN_RESET
    else:
        value, origin = v.timestamp[0] + now - v.timestamp[1], TIMESTAMP_ORIGIN_SET
    attr = TimestampAttr.ORIGIN.put(0, origin)
    return ((value & TIMESTAMP_MASK) | attr << 48).to_bytes(TIMESTAMP_SIZE, "little")


def _data_segments(s: ControllerState, req: Request) -> list[Segment] | Status:
    cmd = req.cmd
    return prp_segments(s.dma_read, cmd.prp1, cmd.prp2, TIMESTAMP_SIZE, s.page_size)


def _queues_allocated(s: ControllerState) -> int:
    n = s.config.max_ioqpairs - 1  # 0's based, the same for SQs and CQs
    return n | (n << 16)


def _value(s: ControllerState, v: FeatureValues, fid: int, nsid: int, cdw11: int) -> int | Status:
    """DW0 of Get Features for `fid` from the value set `v`."""
    match fid:
        case FeatureId.ARBITRATION:
            return v.arbitration
        case FeatureId.POWER_MANAGEMENT:
            return v.power_management
        case FeatureId.TEMPERATURE_THRESHOLD:
            sel = _threshold_select(cdw11)
            return sel if isinstance(sel, Status) else int(getattr(v, sel[1]))
        case FeatureId.ERROR_RECOVERY:
            return v.error_recovery.get(nsid, 0)
        case FeatureId.VOLATILE_WRITE_CACHE:
            return int(v.volatile_write_cache)
        case FeatureId.NUMBER_OF_QUEUES:
            return _queues_allocated(s)
        case FeatureId.INTERRUPT_COALESCING:
            return v.interrupt_coalescing
        case FeatureId.INTERRUPT_VECTOR_CONFIG:
            iv = cdw11 & VECTOR_MASK
            if iv >= s.config.msix_vectors:
                return INVALID_FIELD
            return iv | (COALESCING_DISABLE if iv in v.vector_coalescing_disable else 0)
        case FeatureId.WRITE_ATOMICITY_NORMAL:
            return v.write_atomicity
        case FeatureId.ASYNC_EVENT_CONFIG:
            return v.async_event_config
    raise AssertionError(f"feature {fid:#x} listed as supported but not handled")


def get_features(s: ControllerState, req: Request) -> Status:
    cmd = req.cmd
    fid = FeatureField.FID.get(cmd.cdw10)
    sel = FeatureField.SEL.get(cmd.cdw10)
    if fid not in SUPPORTED:
        log.debug("get features: fid %#x not supported", fid)
        return INVALID_FIELD
    if fid in NAMESPACE_SPECIFIC:
        problem = _namespace_problem(s, cmd.nsid, broadcast=False)
        if problem is not None:
            return problem
    if sel > FeatureSelect.SUPPORTED_CAPABILITIES:
        log.debug("get features: reserved SEL %d", sel)
        return INVALID_FIELD
    if sel == FeatureSelect.SUPPORTED_CAPABILITIES:
        ns_specific = FeatureCapability.NAMESPACE_SPECIFIC if fid in NAMESPACE_SPECIFIC else 0
        req.dw0 = int(FeatureCapability.CHANGEABLE | ns_specific)
        return SUCCESS
    # Nothing is saveable, so the saved value is the default (NVMe 1.4 §5.9.1).
    values = s.features if sel == FeatureSelect.CURRENT else FeatureValues()
    if fid == FeatureId.TIMESTAMP:
        segs = _data_segments(s, req)
        if isinstance(segs, Status):
            return segs
        return scatter(s.dma_write, segs, _timestamp(s, values)) or SUCCESS
    result = _value(s, values, fid, cmd.nsid, cmd.cdw11)
    if isinstance(result, Status):
        return result
    req.dw0 = result
    return SUCCESS


def set_features(s: ControllerState, req: Request) -> Status:
    cmd = req.cmd
    fid = FeatureField.FID.get(cmd.cdw10)
    dw11 = cmd.cdw11
    v = s.features
    if fid not in SUPPORTED:
        log.debug("set features: fid %#x not supported", fid)
        return INVALID_FIELD
    if FeatureField.SV.get(cmd.cdw10):
        log.debug("set features: fid %#x is not saveable", fid)
        return specific(CommandSpecificStatus.FEATURE_NOT_SAVEABLE, dnr=True)
    if fid in NAMESPACE_SPECIFIC:
        problem = _namespace_problem(s, cmd.nsid, broadcast=True)
        if problem is not None:
            return problem
    elif cmd.nsid not in (0, NSID_BROADCAST):
        log.debug("set features: fid %#x is not namespace specific", fid)
        return specific(CommandSpecificStatus.FEATURE_NOT_NAMESPACE_SPECIFIC, dnr=True)
    match fid:
        case FeatureId.ARBITRATION:
            v.arbitration = dw11 & ARBITRATION_MASK
        case FeatureId.POWER_MANAGEMENT:
            if dw11 & POWER_STATE_MASK >= NUMBER_OF_POWER_STATES:
                log.debug("set features: power state %d does not exist", dw11 & POWER_STATE_MASK)
                return INVALID_FIELD
            v.power_management = dw11 & (POWER_STATE_MASK | WORKLOAD_HINT_MASK)
        case FeatureId.TEMPERATURE_THRESHOLD:
            sel = _threshold_select(dw11, setting=True)
            if isinstance(sel, Status):
                return sel
            before = temperature_warning(v.temp_over, v.temp_under)
            setattr(v, sel[1], TempThresholdField.TMPTH.get(dw11))
            if not before and temperature_warning(v.temp_over, v.temp_under):
                _temperature_event(s)
        case FeatureId.ERROR_RECOVERY:
            chosen = s.namespaces if cmd.nsid == NSID_BROADCAST else (cmd.nsid,)
            for nsid in chosen:
                v.error_recovery[nsid] = _error_recovery(dw11)
        case FeatureId.VOLATILE_WRITE_CACHE:
            enable = bool(dw11 & 1)
            if v.volatile_write_cache and not enable:
                s.flush_all()  # what the cache held becomes durable before it goes away
            v.volatile_write_cache = enable
        case FeatureId.NUMBER_OF_QUEUES:
            if s.io_queues_created:
                log.debug("set features: number of queues after I/O queues exist")
                return generic(GenericStatus.COMMAND_SEQUENCE_ERROR, dnr=True)
            nsqr, ncqr = NumQueuesField.NSQR.get(dw11), NumQueuesField.NCQR.get(dw11)
            if QUEUE_COUNT_INVALID in (nsqr, ncqr):
                return INVALID_FIELD
            req.dw0 = _queues_allocated(s)
        case FeatureId.INTERRUPT_COALESCING:
            v.interrupt_coalescing = dw11 & COALESCING_MASK
        case FeatureId.INTERRUPT_VECTOR_CONFIG:
            iv = dw11 & VECTOR_MASK
            if iv >= s.config.msix_vectors:
                return INVALID_FIELD
            if dw11 & COALESCING_DISABLE:
                v.vector_coalescing_disable.add(iv)
            else:
                v.vector_coalescing_disable.discard(iv)
        case FeatureId.WRITE_ATOMICITY_NORMAL:
            v.write_atomicity = dw11 & WRITE_ATOMICITY_DN
        case FeatureId.ASYNC_EVENT_CONFIG:
            v.async_event_config = dw11 & ASYNC_CONFIG_MASK
        case FeatureId.TIMESTAMP:
            segs = _data_segments(s, req)
            if isinstance(segs, Status):
                return segs
            data = gather(s.dma_read, segs)
            if isinstance(data, Status):
                return data
            host_ms = int.from_bytes(data, "little") & TIMESTAMP_MASK
            v.timestamp = (host_ms, s.clock_ms())
    return SUCCESS
