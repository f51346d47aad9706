"""InterruptAttach: a handler in interrupt context (QNX), over a line the test drives.

The handler runs when the source fires, before any thread, as the attaching process;
the kernel does not mask the source for it; its returned event is delivered (None:
nothing); a blocking call in it fails with EDEADLK (logged); an exception out of it
crashes its process only; a source it never quiets is masked after a storm.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

import pytest

from qrv.hw.irq import LevelInterrupts
from qrv.kernel.interrupt import STORM
from qrv.kernel.proc import EXIT_CRASHED
from qrv.lib.c import interrupt as ic
from qrv.lib.c import ipc, proc
from qrv.lib.c.slog import slog_entries
from qrv.spec.interrupt import SigEvent
from qrv.spec.iomsg import Pulse
from tests.kernel.test_interrupt import INTR, T, proc_kernel, run, timed_out


def quiet(lines: LevelInterrupts, event: SigEvent | None) -> Any:
    """A handler that records its context, quiets the "device" (the line) and returns `event`."""

    def handler(area: dict[str, Any], iid: int) -> SigEvent | None:
        area.setdefault("calls", []).append((iid, proc.getpid(), proc_kernel().sched.current))
        lines.set_level(INTR, False)
        return event

    return handler


def test_the_handler_runs_as_the_process_and_its_event_wakes_the_thread() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        area: dict[str, Any] = {}
        iid = ic.InterruptAttach(INTR, quiet(lines, ic.SIGEV_INTR_INIT()), area, 0, 0)
        out: list[object] = [timed_out()]  # attached, nothing fired
        current = proc_kernel().sched.current
        lines.set_level(INTR, True)
        proc.sched_yield()  # a kernel call: at its entry the kernel dispatches first
        out.append(area["calls"] == [(iid, proc.getpid(), current)])
        out.append(ic.InterruptWait(0, 1.0))
        out.append(proc_kernel().interrupts.mask_count(INTR))  # never masked for a handler
        lines.set_level(INTR, True)  # again: live at once, no InterruptUnmask needed
        out.append(ic.InterruptWait(0, 1.0))
        out.append(len(area["calls"]))
        ic.InterruptDetach(iid)
        lines.set_level(INTR, True)  # detached: the handler no longer runs
        out.append(timed_out())
        out.append(len(area["calls"]))
        return out

    assert run(body) == [True, True, 0, 0, 0, 2, True, 2]


def test_a_handler_returning_none_delivers_nothing() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        area: dict[str, Any] = {}
        ic.InterruptAttach(INTR, quiet(lines, None), area)
        lines.set_level(INTR, True)
        return [timed_out(), len(area["calls"])]

    assert run(body) == [True, 1]


def test_the_handler_masks_and_the_thread_unmasks() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        seen: list[int] = []

        def handler(area: None, iid: int) -> SigEvent:
            seen.append(ic.InterruptMask(INTR, iid))  # the device stays loud: mask it
            return ic.SIGEV_INTR_INIT()

        iid = ic.InterruptAttach(INTR, handler, None, 0, ic._NTO_INTR_FLAGS_TRK_MSK)
        lines.set_level(INTR, True)
        out: list[object] = [ic.InterruptWait(0, 1.0), timed_out()]  # masked: once only
        lines.set_level(INTR, False)
        out.append(ic.InterruptUnmask(INTR, iid))
        out.append(seen)
        return out

    assert run(body) == [0, True, 0, [1]]


def by_event(lines: LevelInterrupts, event: SigEvent) -> int:
    return ic.InterruptAttachEvent(INTR, event)


def by_handler(lines: LevelInterrupts, event: SigEvent) -> int:
    return ic.InterruptAttach(INTR, quiet(lines, event), {})


@pytest.mark.parametrize("attach", [by_event, by_handler])
def test_a_pulse_event_comes_at_its_priority(
    attach: Callable[[LevelInterrupts, SigEvent], int],
) -> None:
    """InterruptAttachEvent's event, or the one a handler returns."""

    def body(lines: LevelInterrupts) -> tuple[Pulse, int]:
        chid = ipc.ChannelCreate()
        coid = ipc.ConnectAttach(0, proc.getpid(), chid, ipc._NTO_SIDE_CHANNEL)
        attach(lines, ic.SIGEV_PULSE_INIT(coid, 22, 6, 99))
        lines.set_level(INTR, True)
        rcvid, data, _info = ipc.MsgReceive(chid, timeout=1.0)
        assert rcvid == 0
        return Pulse.unpack(data), proc.SchedGet()[2]

    pulse, prio = run(body)  # type: ignore[misc]
    assert (pulse.code, pulse.value, prio) == (6, 99, 22)


def test_no_unmask_starts_masked_for_a_handler_too() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        area: dict[str, Any] = {}
        iid = ic.InterruptAttach(
            INTR, quiet(lines, ic.SIGEV_INTR_INIT()), area, 0, ic._NTO_INTR_FLAGS_NO_UNMASK
        )
        lines.set_level(INTR, True)
        out: list[object] = [timed_out(), "calls" in area, ic.InterruptUnmask(INTR, iid)]
        out.append(ic.InterruptWait(0, 1.0))
        return out

    assert run(body) == [True, False, 0, 0]


def test_shared_attachments_run_newest_first_unless_end() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        order: list[str] = []

        def handler(name: str, iid: int) -> None:
            order.append(name)
            lines.set_level(INTR, False)

        ic.InterruptAttach(INTR, handler, "a")
        ic.InterruptAttach(INTR, handler, "b")  # before a
        ic.InterruptAttach(INTR, handler, "c", 0, ic._NTO_INTR_FLAGS_END)  # after a
        ev = ic.InterruptAttachEvent(INTR, ic.SIGEV_INTR_INIT())  # before b: masks for itself
        lines.set_level(INTR, True)
        out: list[object] = [ic.InterruptWait(0, 1.0), order]
        out.append(ic.InterruptUnmask(INTR, ev))
        return out

    assert run(body) == [0, ["b", "a", "c"], 0]


def test_a_blocking_call_in_the_handler_fails_and_is_logged() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        errs: list[int] = []

        def handler(area: None, iid: int) -> SigEvent:
            lines.set_level(INTR, False)
            for call in (lambda: proc.delay(0.5), lambda: ic.InterruptWait(0, 1.0)):
                try:
                    call()
                except OSError as exc:
                    errs.append(exc.errno or 0)
            return ic.SIGEV_INTR_INIT()

        ic.InterruptAttach(INTR, handler)
        t0 = proc.ClockTime()
        lines.set_level(INTR, True)
        out: list[object] = [ic.InterruptWait(0, 1.0), errs, proc.ClockTime() - t0 < 0.01]
        logged = [e.text for e in slog_entries() if "blocking call" in e.text]
        out.append(len(logged))
        return out

    assert run(body) == [0, [errno.EDEADLK, errno.EDEADLK], True, 2]


def test_a_crashing_handler_ends_its_process_only() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        def driver(argv: list[str]) -> int:
            def handler(area: None, iid: int) -> SigEvent:
                raise ZeroDivisionError("the handler's bug")

            ic.InterruptAttach(INTR, handler)
            ic.InterruptWait(0, None)  # never returns: the handler ends the process
            return 0

        def waiter(argv: list[str]) -> int:
            area: dict[str, Any] = {}
            proc.delay(0.1)  # the driver attaches first, and END puts this one after it
            end = ic._NTO_INTR_FLAGS_END
            ic.InterruptAttach(INTR, quiet(lines, ic.SIGEV_INTR_INIT()), area, 0, end)
            lines.set_level(INTR, True)
            ic.InterruptWait(0, 1.0)
            return len(area["calls"])

        k = proc_kernel()
        d = proc.spawn(driver, ["driver"])
        w = proc.spawn(waiter, ["waiter"])
        out: list[object] = [proc.waitpid(d, T), proc.waitpid(w, T)]
        out.append(k.interrupts.attached(INTR))  # both gone: one crashed, one exited
        out.append(any("ZeroDivisionError" in e.text for e in slog_entries()))
        return out

    assert run(body) == [EXIT_CRASHED, 1, [], True]


def sleeps(area: None, iid: int) -> SigEvent | None:
    proc.delay(1.0)  # EDEADLK, not caught
    return None


def returns_42(area: None, iid: int) -> Any:
    return 42


def returns_a_pulse_to_nowhere(area: None, iid: int) -> SigEvent:
    return ic.SIGEV_PULSE_INIT(99, 10, 1, 0)  # no connection 99


@pytest.mark.parametrize(
    ("handler", "logged"),
    [
        (sleeps, "an interrupt handler cannot block"),
        (returns_42, "returned 42, not a SigEvent"),
        (returns_a_pulse_to_nowhere, "coid 99 is not a connection"),
    ],
)
def test_a_handler_gone_wrong_crashes_its_process(
    handler: Callable[[None, int], Any], logged: str
) -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        def driver(argv: list[str]) -> int:
            ic.InterruptAttach(INTR, handler)
            lines.set_level(INTR, True)
            proc.delay(1.0)
            return 0

        status = proc.waitpid(proc.spawn(driver, ["driver"]), T)
        crash = [e.text for e in slog_entries() if "(driver) terminated" in e.text]
        return [status, len(crash), logged in crash[0]]

    assert run(body) == [EXIT_CRASHED, 1, True]


def test_a_source_the_handler_never_quiets_is_masked_after_a_storm() -> None:
    def body(lines: LevelInterrupts) -> list[object]:
        calls: list[int] = []
        ic.InterruptAttach(INTR, lambda area, iid: calls.append(iid))
        lines.set_level(INTR, True)
        proc.sched_yield()  # a kernel call: the kernel survives the storm, and so does this thread
        out: list[object] = [len(calls), proc_kernel().interrupts.mask_count(INTR)]
        out.append(any(f"interrupt {INTR}: fired" in e.text for e in slog_entries()))
        lines.set_level(INTR, False)
        out.append(ic.InterruptUnmask(INTR, -1))
        return out

    assert run(body) == [STORM, 1, True, 0]


def test_attach_needs_root_and_a_callable() -> None:
    def body(lines: LevelInterrupts) -> list[int]:
        errs: list[int] = []

        def user(argv: list[str]) -> int:
            try:
                ic.InterruptAttach(INTR, lambda area, iid: None)
            except OSError as exc:
                errs.append(exc.errno or 0)
            return 0

        proc.waitpid(proc.spawn(user, ["user"], uid=100), T)
        for call in (
            lambda: ic.InterruptAttach(INTR, "not a function"),  # type: ignore[arg-type]
            lambda: ic.InterruptAttach(0, lambda area, iid: None),
            lambda: ic.InterruptAttach(INTR, lambda area, iid: None, None, 0, 0x100),
        ):
            try:
                call()
            except OSError as exc:
                errs.append(exc.errno or 0)
        return errs

    assert run(body) == [errno.EPERM, errno.EINVAL, errno.EINVAL, errno.EINVAL]
