"""The virtual clock's alarms: a device's own deadlines, run when time reaches them."""

from __future__ import annotations

from qrv.hw.clock import VirtualClock


def test_alarms_run_in_time_order_once_time_reaches_them() -> None:
    clock = VirtualClock()
    rang: list[str] = []
    clock.call_at(2.0, lambda: rang.append("b"))
    clock.call_at(1.0, lambda: rang.append("a"))
    clock.call_at(2.0, lambda: rang.append("c"))
    assert clock.next_alarm() == 1.0
    clock.advance(0.5)
    assert rang == []
    clock.advance_to(2.0)
    assert rang == ["a", "b", "c"] and clock.next_alarm() is None
    clock.call_at(1.0, lambda: rang.append("late"))  # already past: the next advance
    clock.advance(0)
    assert rang[-1] == "late"


def test_an_alarm_may_set_another() -> None:
    clock = VirtualClock()
    rang: list[float] = []

    def again() -> None:
        rang.append(clock.now())
        if len(rang) < 3:
            clock.call_at(clock.now() + 1, again)

    clock.call_at(1, again)
    for _ in range(3):
        alarm = clock.next_alarm()
        assert alarm is not None
        clock.advance_to(alarm)
    assert rang == [1, 2, 3]
