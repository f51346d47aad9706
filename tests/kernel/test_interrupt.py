"""Kernel interrupt calls: attach, wait, counting masks, detach, teardown, timeouts (QNX)."""

from __future__ import annotations

import errno
import io
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrv.hw.board import VirtBoard
from qrv.hw.irq import LevelInterrupts
from qrv.kernel import Kernel, Stdio
from qrv.lib.c import interrupt as ic
from qrv.lib.c import proc
from tests.lib.c.rawmsg import FEW, MANY, slow

T = 10.0
INTR = 34


class LineBoard(VirtBoard):
    """The board with its interrupt input driven by the test (lines set from inside)."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupts = LevelInterrupts()


def run(body: Callable[[LevelInterrupts], object], uid: int = 0) -> object:
    """Run `body(lines)` as a process on a kernel over a LineBoard; its result."""
    board = LineBoard()
    k = Kernel(board, Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO()))
    box: list[object] = []

    def main(argv: list[str]) -> int:
        box.append(body(board.interrupts))
        return 0

    try:
        assert k.waitpid(k.spawn(main, ["main"], uid=uid), T) == 0
    finally:
        k.shutdown()
    return box[0]


def timed_out(timeout: float = 0.01) -> bool:
    try:
        ic.InterruptWait(0, timeout)
    except OSError as exc:
        assert exc.errno == errno.ETIMEDOUT
        return True
    return False


def test_a_raised_line_is_delivered_masked_and_unmasked_again() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        seen: list[object] = []
        iid = ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT())
        seen.append(timed_out())  # nothing yet
        lines.set_level(INTR, True)
        seen.append(ic.InterruptWait(0, 1.0))
        seen.append(ic.InterruptMask(INTR, -1) - 1)  # fired: masked once by the kernel
        ic.InterruptUnmask(INTR, -1)
        seen.append(timed_out())  # still masked (count 1): the high line waits
        seen.append(ic.InterruptUnmask(INTR, iid))  # count 0: the line is still high
        seen.append(ic.InterruptWait(0, 1.0))
        lines.set_level(INTR, False)
        seen.append(ic.InterruptUnmask(INTR, iid))
        seen.append(timed_out())  # low: nothing more
        return seen

    assert run(body) == [True, 0, 1, True, 0, 0, 0, True]


def test_masks_count_and_unmask_stops_at_zero() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        iid = ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT())
        counts = [ic.InterruptMask(INTR, iid), ic.InterruptMask(INTR, -1)]
        lines.set_level(INTR, True)
        counts.append(timed_out())
        counts.append(ic.InterruptUnmask(INTR, iid))
        counts.append(timed_out())  # one mask left
        counts.append(ic.InterruptUnmask(INTR, -1))
        counts.append(ic.InterruptWait(0, 1.0))
        lines.set_level(INTR, False)
        counts += [ic.InterruptUnmask(INTR, iid), ic.InterruptUnmask(INTR, iid)]
        return counts

    assert run(body) == [1, 2, True, 1, True, 0, 0, 0, 0]


def test_no_unmask_starts_masked() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        iid = ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT(), ic._NTO_INTR_FLAGS_NO_UNMASK)
        lines.set_level(INTR, True)
        out: list[object] = [timed_out(), ic.InterruptUnmask(INTR, iid)]
        out.append(ic.InterruptWait(0, 1.0))
        return out

    assert run(body) == [True, 0, 0]


def test_wait_ends_at_its_timeout_on_the_kernel_clock() -> None:
    def body(lines: LevelInterrupts) -> tuple[bool, float]:
        ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT())
        t0 = proc.ClockTime()
        out = timed_out(2.5)
        return out, proc.ClockTime() - t0

    out, waited = run(body)  # type: ignore[misc]
    assert out
    assert 2.5 <= waited < 2.6


def test_an_interrupt_wakes_the_blocked_thread() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        got: list[object] = []

        def isr() -> None:
            ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT())
            got.append(ic.InterruptWait(0, None))
            got.append(proc.ClockTime())

        tid = proc.pthread_create(isr)
        proc.delay(0.2)
        states = [
            th.state for p in proc.proc_snapshot() if p.pid == proc.getpid() for th in p.threads
        ]
        got.append("INTR" in states)
        lines.set_level(INTR, True)
        proc.pthread_join(tid, T)
        return got

    got = run(body)
    assert isinstance(got, list)
    assert got[0] is True
    assert got[1] == 0
    assert 0.2 <= got[2] < 0.3


def test_a_dead_process_loses_its_attachments_and_masks() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        k = proc_kernel()

        def child(argv: list[str]) -> int:
            iid = ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT())
            ic.InterruptMask(INTR, iid)
            raise RuntimeError("the driver crashes with its interrupt masked")

        mine = ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT())
        pid = proc.spawn(child, ["child"])
        proc.waitpid(pid, T)
        out: list[object] = [k.interrupts.attached(INTR) == [(mine, proc.getpid())]]
        out.append(k.interrupts.mask_count(INTR))
        lines.set_level(INTR, True)
        out.append(ic.InterruptWait(0, 1.0))  # the crashed driver's mask is gone
        ic.InterruptDetach(mine)
        out.append(k.interrupts.attached(INTR))
        return out

    assert run(body) == [True, 0, 0, []]


def proc_kernel() -> Kernel:
    from qrv.lib.c._sys import K, cur  # the test peeks at the kernel's tables

    return K(cur())


@pytest.mark.parametrize(
    ("call", "err"),
    [
        (lambda: ic.InterruptAttachEvent(0, ic.SIGEV_INTR_INIT()), errno.EINVAL),
        (lambda: ic.InterruptAttachEvent(96, ic.SIGEV_INTR_INIT()), errno.EINVAL),
        (lambda: ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT(), 0x100), errno.EINVAL),
        (lambda: ic.InterruptAttachEvent(INTR, ic.SIGEV_PULSE_INIT(99, 10, 1, 0)), errno.EINVAL),
        (lambda: ic.InterruptDetach(12345), errno.EINVAL),
        (lambda: ic.InterruptMask(INTR, 12345), errno.EINVAL),
        (lambda: ic.InterruptWait(0x80, 0.1), errno.EINVAL),
    ],
)
def test_bad_arguments(call: Callable[[], object], err: int) -> None:
    def body(lines: LevelInterrupts) -> int:
        try:
            call()
        except OSError as exc:
            return exc.errno or 0
        return 0

    assert run(body) == err


def test_only_root_and_only_the_owner() -> None:
    def body(lines: LevelInterrupts) -> list[int]:
        iid = ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT())
        errs: list[int] = []

        def other(argv: list[str]) -> int:
            for call in (
                lambda: ic.InterruptDetach(iid),
                lambda: ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT()),
            ):
                try:
                    call()
                except OSError as exc:
                    errs.append(exc.errno or 0)
            return 0

        proc.waitpid(proc.spawn(other, ["other"], uid=100), T)
        return errs

    assert run(body) == [errno.EPERM, errno.EPERM]


# -- mask counting against a reference model (hypothesis) --------------------------------------

OPS = st.lists(st.sampled_from(["mask", "mask-1", "unmask", "unmask-1", "raise", "lower", "wait"]))


def replay(ops: list[str]) -> list[object]:
    """Run `ops` against the kernel: what each returned."""

    def body(lines: LevelInterrupts) -> list[object]:
        iid = ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT())
        out: list[object] = []
        for op in ops:
            if op in ("raise", "lower"):
                lines.set_level(INTR, op == "raise")
                out.append(None)
            elif op == "wait":
                out.append(not timed_out(0.001))
            else:
                call = ic.InterruptMask if op.startswith("mask") else ic.InterruptUnmask
                out.append(call(INTR, -1 if op.endswith("-1") else iid))
        return out

    result = run(body)
    assert isinstance(result, list)
    return result


def model(ops: list[str]) -> list[object]:
    """QNX's rules: a line high while the count is 0 fires (masking once) when the kernel
    next dispatches, at the entry of the next kernel call; a line raised and lowered
    between two calls never fires."""
    count, high, pending = 0, False, False
    out: list[object] = []
    for op in ops:
        if op not in ("raise", "lower") and high and count == 0:
            count, pending = 1, True
        if op == "raise":
            high = True
            out.append(None)
        elif op == "lower":
            high = False
            out.append(None)
        elif op == "wait":
            out.append(pending)
            pending = False
        elif op.startswith("mask"):
            count += 1
            out.append(count)
        else:
            count = max(0, count - 1)
            out.append(count)
    return out


@FEW
@given(ops=OPS)
def test_mask_counting_follows_the_model(ops: list[str]) -> None:
    assert replay(ops) == model(ops)


@slow
@MANY
@given(ops=OPS)
def test_mask_counting_follows_the_model_many(ops: list[str]) -> None:
    assert replay(ops) == model(ops)


def test_io_privilege_is_roots() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        out: list[object] = [proc.ThreadCtl(14), proc.ThreadCtl(1)]

        def user(argv: list[str]) -> int:
            try:
                proc.ThreadCtl(14)
            except OSError as exc:
                out.append(exc.errno)
            return 0

        proc.waitpid(proc.spawn(user, ["user"], uid=100), T)
        return out

    assert run(body) == [0, 0, errno.EPERM]
