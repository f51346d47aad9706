"""qrv.kernel: the microkernel personality (processes, IPC, pathname space, memory).

Programs never import this package; they use :mod:`qrv.lib.c`.  The boot
(:mod:`qrv.emu`) and tests construct a :class:`Kernel`.
"""

from qrv.kernel.console import ConsoleInput, ConsoleOutput, host_console
from qrv.kernel.ipc import MsgInfo
from qrv.kernel.kernel import Kernel
from qrv.kernel.mm import PAGE_SIZE, DmaMapping, PhysMapping
from qrv.kernel.proc import (
    EXIT_CRASHED,
    EXIT_INTERRUPTED,
    EXIT_KILLED,
    SIGINT,
    KThread,
    Policy,
    ProcessExit,
    ProcessKilled,
    ProcInfo,
    Stdio,
    ThreadInfo,
    current,
    current_or_none,
)

__all__ = [
    "EXIT_CRASHED",
    "EXIT_INTERRUPTED",
    "EXIT_KILLED",
    "PAGE_SIZE",
    "SIGINT",
    "ConsoleInput",
    "ConsoleOutput",
    "DmaMapping",
    "KThread",
    "Kernel",
    "MsgInfo",
    "PhysMapping",
    "Policy",
    "ProcInfo",
    "ProcessExit",
    "ProcessKilled",
    "Stdio",
    "ThreadInfo",
    "current",
    "current_or_none",
    "host_console",
]
