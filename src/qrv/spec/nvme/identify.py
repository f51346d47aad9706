"""Identify data structures (NVMe 1.4 §5.15): controller, namespace, descriptors."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar

from qrv.spec.nvme.bits import BitField
from qrv.spec.nvme.commands import IDENTIFY_DATA_SIZE
from qrv.spec.nvme.layout import Layout, field_at


class Oacs(IntFlag):
    """Optional Admin Command Support (Identify Controller bytes 257:256)."""

    SECURITY = 1 << 0
    FORMAT_NVM = 1 << 1
    FIRMWARE = 1 << 2
    NS_MANAGEMENT = 1 << 3


class Oncs(IntFlag):
    """Optional NVM Command Support (Identify Controller bytes 521:520)."""

    COMPARE = 1 << 0
    WRITE_UNCORRECTABLE = 1 << 1
    DATASET_MANAGEMENT = 1 << 2
    WRITE_ZEROES = 1 << 3
    SAVE_SELECT = 1 << 4
    RESERVATIONS = 1 << 5
    TIMESTAMP = 1 << 6
    VERIFY = 1 << 7


class Lpa(IntFlag):
    """Log Page Attributes (Identify Controller byte 261)."""

    SMART_PER_NAMESPACE = 1 << 0
    COMMAND_EFFECTS = 1 << 1
    EXTENDED_DATA = 1 << 2


OAES_NAMESPACE_ATTRIBUTE = 1 << 8  # Namespace Attribute Notices (Identify Controller OAES)
SGLS_SUPPORTED = 0b01  # SGLS bits 1:0: SGLs supported, no alignment requirement


class Vwc(IntFlag):
    """Volatile Write Cache (Identify Controller byte 525; flush broadcast bits 2:1 in 1.4)."""

    PRESENT = 1 << 0
    FLUSH_BROADCAST = 0b11 << 1


@dataclass
class IdentifyController(Layout):
    """Identify Controller data structure (NVMe 1.4 Figure 247)."""

    SIZE: ClassVar[int] = IDENTIFY_DATA_SIZE
    vid: int = field_at(0, "H")
    ssvid: int = field_at(2, "H")
    sn: str = field_at(4, "text:20", "")
    mn: str = field_at(24, "text:40", "")
    fr: str = field_at(64, "text:8", "")
    rab: int = field_at(72, "B")
    ieee: bytes = field_at(73, "raw:3", b"")
    cmic: int = field_at(76, "B")
    mdts: int = field_at(77, "B")
    cntlid: int = field_at(78, "H")
    ver: int = field_at(80, "I")
    rtd3r: int = field_at(84, "I")
    rtd3e: int = field_at(88, "I")
    oaes: int = field_at(92, "I")
    ctratt: int = field_at(96, "I")
    rrls: int = field_at(100, "H")
    cntrltype: int = field_at(111, "B")
    fguid: bytes = field_at(112, "raw:16", b"")
    crdt1: int = field_at(128, "H")
    crdt2: int = field_at(130, "H")
    crdt3: int = field_at(132, "H")
    nvmsr: int = field_at(253, "B")
    vwci: int = field_at(254, "B")
    mec: int = field_at(255, "B")
    oacs: int = field_at(256, "H")
    acl: int = field_at(258, "B")
    aerl: int = field_at(259, "B")
    frmw: int = field_at(260, "B")
    lpa: int = field_at(261, "B")
    elpe: int = field_at(262, "B")
    npss: int = field_at(263, "B")
    avscc: int = field_at(264, "B")
    apsta: int = field_at(265, "B")
    wctemp: int = field_at(266, "H")
    cctemp: int = field_at(268, "H")
    mtfa: int = field_at(270, "H")
    hmpre: int = field_at(272, "I")
    hmmin: int = field_at(276, "I")
    tnvmcap: int = field_at(280, "u128")
    unvmcap: int = field_at(296, "u128")
    rpmbs: int = field_at(312, "I")
    edstt: int = field_at(316, "H")
    dsto: int = field_at(318, "B")
    fwug: int = field_at(319, "B")
    kas: int = field_at(320, "H")
    hctma: int = field_at(322, "H")
    mntmt: int = field_at(324, "H")
    mxtmt: int = field_at(326, "H")
    sanicap: int = field_at(328, "I")
    hmminds: int = field_at(332, "I")
    hmmaxd: int = field_at(336, "H")
    nsetidmax: int = field_at(338, "H")
    endgidmax: int = field_at(340, "H")
    anatt: int = field_at(342, "B")
    anacap: int = field_at(343, "B")
    anagrpmax: int = field_at(344, "I")
    nanagrpid: int = field_at(348, "I")
    pels: int = field_at(352, "I")
    sqes: int = field_at(512, "B")
    cqes: int = field_at(513, "B")
    maxcmd: int = field_at(514, "H")
    nn: int = field_at(516, "I")
    oncs: int = field_at(520, "H")
    fuses: int = field_at(522, "H")
    fna: int = field_at(524, "B")
    vwc: int = field_at(525, "B")
    awun: int = field_at(526, "H")
    awupf: int = field_at(528, "H")
    icsvscc: int = field_at(530, "B")  # NVSCC in 1.4
    nwpc: int = field_at(531, "B")
    acwu: int = field_at(532, "H")
    sgls: int = field_at(536, "I")
    mnan: int = field_at(540, "I")
    subnqn: str = field_at(768, "cstr:256", "")
    ioccsz: int = field_at(1792, "I")
    iorcsz: int = field_at(1796, "I")
    icdoff: int = field_at(1800, "H")
    fcatt: int = field_at(1802, "B")
    msdbd: int = field_at(1803, "B")
    ofcs: int = field_at(1804, "H")
    psd0_mp: int = field_at(2048, "H")  # power state 0: maximum power, 0.01 W units
    psd0_enlat: int = field_at(2052, "I")
    psd0_exlat: int = field_at(2056, "I")

    def power_states(self, raw: bytes) -> list[PowerState]:
        """Power state descriptors 0..NPSS of the identify data `raw` (this structure's bytes)."""
        count = min(self.npss + 1, PSD_COUNT)
        return [PowerState.unpack(raw[PSD_OFFSET + i * PSD_SIZE :]) for i in range(count)]


PSD_OFFSET = 2048
PSD_SIZE = 32
PSD_COUNT = 32


@dataclass
class PowerState(Layout):
    """Power State Descriptor (NVMe 1.4 Figure 248 / 249)."""

    SIZE: ClassVar[int] = PSD_SIZE
    mp: int = field_at(0, "H")
    flags: int = field_at(3, "B")  # bit 0 MXPS (0.0001 W units), bit 1 NOPS
    enlat: int = field_at(4, "I")
    exlat: int = field_at(8, "I")
    rrt: int = field_at(12, "B")
    rrl: int = field_at(13, "B")
    rwt: int = field_at(14, "B")
    rwl: int = field_at(15, "B")
    idlp: int = field_at(16, "H")
    ips: int = field_at(18, "B")  # bits 7:6
    actp: int = field_at(20, "H")
    apws: int = field_at(22, "B")  # APW bits 2:0, APS bits 7:6

    MXPS: ClassVar[int] = 1 << 0
    NOPS: ClassVar[int] = 1 << 1


CNTRLTYPE_IO = 1


def lba_format(lbads: int, ms: int = 0, rp: int = 0) -> int:
    """An LBA Format descriptor (NVMe 1.4 Figure 248): MS 15:0, LBADS 23:16, RP 25:24."""
    return ms | (lbads << 16) | (rp << 24)


LBAF_LBADS = BitField(16, 8)
LBAF_MS = BitField(0, 16)
FLBAS_INDEX = BitField(0, 4)
LBAF_COUNT = 16
NSATTR_WRITE_PROTECTED = 1 << 0
DLFEAT_READ_ZEROES = 0b001  # deallocated blocks read as all zeroes


@dataclass
class IdentifyNamespace(Layout):
    """Identify Namespace data structure, NVM command set (NVMe 1.4 Figure 245)."""

    SIZE: ClassVar[int] = IDENTIFY_DATA_SIZE
    nsze: int = field_at(0, "Q")
    ncap: int = field_at(8, "Q")
    nuse: int = field_at(16, "Q")
    nsfeat: int = field_at(24, "B")
    nlbaf: int = field_at(25, "B")  # 0's based
    flbas: int = field_at(26, "B")
    mc: int = field_at(27, "B")
    dpc: int = field_at(28, "B")
    dps: int = field_at(29, "B")
    nmic: int = field_at(30, "B")
    rescap: int = field_at(31, "B")
    fpi: int = field_at(32, "B")
    dlfeat: int = field_at(33, "B")
    nawun: int = field_at(34, "H")
    nawupf: int = field_at(36, "H")
    nacwu: int = field_at(38, "H")
    nabsn: int = field_at(40, "H")
    nabo: int = field_at(42, "H")
    nabspf: int = field_at(44, "H")
    noiob: int = field_at(46, "H")
    nvmcap: int = field_at(48, "u128")
    npwg: int = field_at(64, "H")
    npwa: int = field_at(66, "H")
    npdg: int = field_at(68, "H")
    npda: int = field_at(70, "H")
    nows: int = field_at(72, "H")
    anagrpid: int = field_at(92, "I")
    nsattr: int = field_at(99, "B")
    nvmsetid: int = field_at(100, "H")
    endgid: int = field_at(102, "H")
    nguid: bytes = field_at(104, "raw:16", b"")
    eui64: bytes = field_at(120, "raw:8", b"")
    lbaf: tuple[int, ...] = field_at(128, f"I*{LBAF_COUNT}", ())

    @property
    def lba_size(self) -> int:
        return 1 << LBAF_LBADS.get(self.lbaf[FLBAS_INDEX.get(self.flbas)])


class NidType(IntEnum):
    """Namespace Identification Descriptor types (NVMe 1.4 Figure 249)."""

    EUI64 = 1
    NGUID = 2
    UUID = 3
    CSI = 4


NID_LENGTH = {NidType.EUI64: 8, NidType.NGUID: 16, NidType.UUID: 16, NidType.CSI: 1}
_NID_HEADER = struct.Struct("<BBH")  # NIDT, NIDL, reserved
assert _NID_HEADER.size == 4


def pack_ns_descriptors(items: list[tuple[NidType, bytes]]) -> bytes:
    """A CNS 03h data structure: descriptors back to back, zero-terminated, 4096 bytes."""
    out = bytearray()
    for nidt, nid in items:
        if len(nid) != NID_LENGTH[nidt]:
            raise ValueError(f"{nidt.name} identifier must be {NID_LENGTH[nidt]} bytes")
        out += _NID_HEADER.pack(nidt, len(nid), 0) + nid
    return bytes(out).ljust(IDENTIFY_DATA_SIZE, b"\0")


def parse_ns_descriptors(data: bytes) -> list[tuple[int, bytes]]:
    """Walk a CNS 03h data structure up to the first descriptor with NIDL 0."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos + _NID_HEADER.size <= len(data):
        nidt, nidl, _ = _NID_HEADER.unpack_from(data, pos)
        if nidl == 0:
            break
        start = pos + _NID_HEADER.size
        out.append((nidt, bytes(data[start : start + nidl])))
        pos = start + nidl
    return out
