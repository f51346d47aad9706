"""Typed I/O messages as programs use them: :mod:`qrv.spec.messages`, re-exported.

The decoding lives in the spec layer so that procnto's own servers (which
cannot import lib) validate messages with the very same code as every
resource manager built on :mod:`qrv.lib.c.resmgr`.
"""

from qrv.spec.iomsg import MessageError
from qrv.spec.messages import (
    IoChmod,
    IoChown,
    IoClose,
    IoConnect,
    IoDevctl,
    IoLseek,
    IoMessage,
    IoMsg,
    IoOpen,
    IoOther,
    IoRead,
    IoSpace,
    IoStat,
    IoSync,
    IoUtime,
    IoWrite,
    decode,
    encode_path,
)

__all__ = [
    "IoChmod",
    "IoChown",
    "IoClose",
    "IoConnect",
    "IoDevctl",
    "IoLseek",
    "IoMessage",
    "IoMsg",
    "IoOpen",
    "IoOther",
    "IoRead",
    "IoSpace",
    "IoStat",
    "IoSync",
    "IoUtime",
    "IoWrite",
    "MessageError",
    "decode",
    "encode_path",
]
