"""RegBank: accesses wholly inside the block only; its size never changes."""

from __future__ import annotations

from qrv.hw.regbank import RegBank


def test_loads_and_stores_inside_the_block() -> None:
    bank = RegBank(bytes(range(16)))
    assert bank.load(0, 4) == 0x03020100
    assert bank.load(8, 8) == 0x0F0E0D0C0B0A0908
    assert bank.store(4, 2, 0x1_BEEF)  # the value's low `width` bytes
    assert bank.load(4, 2) == 0xBEEF
    assert bank.load(6, 1) == 6


def test_accesses_not_wholly_inside_are_refused() -> None:
    bank = RegBank(bytes(16))
    for offset, width in ((-1, 4), (13, 4), (16, 1), (0, 0), (4, -2)):
        assert bank.load(offset, width) is None
        assert not bank.contains(offset, width)
        assert not bank.store(offset, width, 0xFFFF_FFFF)
    assert len(bank) == 16
    assert bank.load(12, 4) == 0
