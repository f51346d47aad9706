"""libgpt: a strict GUID Partition Table parser (caller-supplied read_lba, no I/O of
its own) and the pure table builder the host tools use (UEFI 2.10 ch. 5)."""

from qrv.lib.gpt.build import (
    GptGeometry,
    PartitionSpec,
    apply_writes,
    build_gpt,
    entry_array,
    place_partitions,
)
from qrv.lib.gpt.errors import GptErr, GptIssue, GptLayoutError, GptParseError
from qrv.lib.gpt.names import attribute_names, decode_name, encode_name
from qrv.lib.gpt.parse import LBA_SIZES, ReadLba, gpt_parse
from qrv.lib.gpt.probe import detect_lba_size
from qrv.lib.gpt.table import GptPartition, GptTable, HeaderCopy

__all__ = [
    "LBA_SIZES",
    "GptErr",
    "GptGeometry",
    "GptIssue",
    "GptLayoutError",
    "GptParseError",
    "GptPartition",
    "GptTable",
    "HeaderCopy",
    "PartitionSpec",
    "ReadLba",
    "apply_writes",
    "attribute_names",
    "build_gpt",
    "decode_name",
    "detect_lba_size",
    "encode_name",
    "entry_array",
    "gpt_parse",
    "place_partitions",
]
