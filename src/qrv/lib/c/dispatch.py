"""``<sys/dispatch.h>``: create a dispatch, block for a message, handle it, loop."""

from __future__ import annotations

from qrv.lib.c import ipc
from qrv.lib.c.proc import pthread_create
from qrv.lib.c.resmgr import (
    RECEIVE_BYTES,
    Dispatch,
    PulseFunc,
    ResmgrContext,
    handle_message,
    handle_pulse,
)
from qrv.spec.iomsg import ESRCH, Pulse

__all__ = [
    "Dispatch",
    "dispatch_block",
    "dispatch_context_alloc",
    "dispatch_create",
    "dispatch_destroy",
    "dispatch_handler",
    "dispatch_loop",
    "pulse_attach",
    "thread_pool_start",
]


def dispatch_create() -> Dispatch:
    """A dispatch with no channel yet (``chid = -1``); the first attach creates it."""
    return Dispatch()


def dispatch_context_alloc(dpp: Dispatch) -> ResmgrContext:
    dpp.ensure_channel()
    return ResmgrContext(dpp)


def dispatch_block(ctp: ResmgrContext, timeout: float | None = None) -> ResmgrContext | None:
    """Receive the next message or pulse into `ctp`; None once the channel is gone.

    ETIMEDOUT (OSError) when `timeout` passes with nothing received.
    """
    try:
        rcvid, msg, info = ipc.MsgReceive(ctp.dpp.chid, RECEIVE_BYTES, timeout)
    except OSError as exc:
        if exc.errno == ESRCH:
            return None
        raise
    ctp.rcvid, ctp.msg, ctp.info = rcvid, msg, info
    ctp.status, ctp.id, ctp.iov, ctp.io_funcs = 0, 0, [], None
    return ctp


def dispatch_handler(ctp: ResmgrContext) -> int:
    """Handle what :func:`dispatch_block` received (0; -1 for an unrecognised pulse)."""
    if ctp.rcvid == 0:
        pulse = Pulse.unpack(ctp.msg)
        handle_pulse(ctp, pulse)
        return 0
    handle_message(ctp)
    return 0


def dispatch_loop(dpp: Dispatch) -> None:
    """Block and handle until the dispatch's channel is destroyed."""
    ctp: ResmgrContext | None = dispatch_context_alloc(dpp)
    while ctp is not None:
        ctp = dispatch_block(ctp)
        if ctp is not None:
            dispatch_handler(ctp)


def dispatch_destroy(dpp: Dispatch) -> None:
    """Destroy the channel: blocked clients get ESRCH, the loop ends."""
    if dpp.chid != -1:
        ipc.ChannelDestroy(dpp.chid)
        dpp.chid = -1


def pulse_attach(dpp: Dispatch, flags: int, code: int, func: PulseFunc) -> int:
    """Call `func(ctp, pulse)` for pulses with `code`; returns the code."""
    del flags
    dpp.pulses[code] = func
    return code


def thread_pool_start(dpp: Dispatch, threads: int) -> None:
    """Serve `dpp` with `threads` threads, the caller being one of them; return when
    the channel is gone.

    QNX's ``thread_pool_create`` + ``thread_pool_start`` with ``lo_water = hi_water
    = maximum = threads`` and ``POOL_FLAG_EXIT_SELF`` (a fixed pool: no threads
    created or ended as the load changes).  Each thread blocks in its own
    ``dispatch_block`` on the one channel, so up to `threads` messages are being
    handled at once; a handler that blocks (waiting for a device) holds only its
    own thread.  Handlers share the dispatch's tables: threads switch only in
    kernel calls, so a handler's update between two of its kernel calls is whole.
    """
    if threads < 1:
        raise ValueError("a thread pool needs at least one thread")
    dpp.ensure_channel()
    for index in range(1, threads):
        pthread_create(lambda: dispatch_loop(dpp), name=f"pool{index}")
    dispatch_loop(dpp)
