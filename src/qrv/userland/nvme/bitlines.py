"""``-H`` (human-readable) decoding: a field's bits as nvme-cli prints them.

nvme-cli's ``-H`` follows a field's ``key : value`` line with one line per bit
range, ``  [hi:lo] : value<TAB>meaning``, then an empty line.  A :class:`Decoder`
is that table for one field: its width and its :class:`Bits` ranges, high to
low, which tile the whole field.  Reserved ranges are printed only when a
controller sets them (as nvme-cli does); a few ranges nvme-cli leaves out unless
another bit of the field makes them meaningful have a ``when``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qrv.userland.nvme.fmt import c_hex

KELVIN_0C = 273


@dataclass(frozen=True)
class Bits:
    """Bits hi..lo of a field and how a line tells them."""

    hi: int
    lo: int
    describe: Callable[[int], str]
    value: Callable[[int], str] = c_hex
    reserved: bool = False  # printed only when non-zero
    when: Callable[[int], bool] | None = None  # else printed if non-zero or when(field)

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1

    def get(self, field: int) -> int:
        return (field >> self.lo) & ((1 << self.width) - 1)

    def shown(self, field: int) -> bool:
        if self.get(field):
            return True
        if self.reserved:
            return False
        return self.when is None or self.when(field)

    def line(self, field: int) -> str:
        v = self.get(field)
        return f"  [{self.hi}:{self.lo}] : {self.value(v)}\t{self.describe(v)}"


@dataclass(frozen=True)
class Decoder:
    """A field of `width` bits as its ranges (high to low), tiling bits width-1..0."""

    width: int
    bits: tuple[Bits, ...]

    def __post_init__(self) -> None:
        top = self.width
        for b in self.bits:
            if b.hi != top - 1 or b.lo > b.hi:
                raise ValueError(f"bits [{b.hi}:{b.lo}] do not follow bit {top}")
            top = b.lo
        if top != 0:
            raise ValueError(f"bits {top - 1}..0 have no line")

    def lines(self, field: int) -> list[str]:
        """The decoded lines of `field` and the empty line that closes them."""
        return [b.line(field) for b in self.bits if b.shown(field)] + [""]


# -- the common shapes of a range --------------------------------------------------------------


def _not(v: int, word: str = "Not ") -> str:
    return "" if v else word


def supported(hi: int, name: str, lo: int | None = None) -> Bits:
    """``<name> Supported`` / ``<name> Not Supported``."""
    return Bits(hi, hi if lo is None else lo, lambda v: f"{name} {_not(v)}Supported")


def inverted(bit: int, name: str) -> Bits:
    """A bit that, set, says the feature is *not* supported (SANICAP NDI, FNA bit 3)."""
    return Bits(bit, bit, lambda v: f"{name} {'Not ' if v else ''}Supported")


def either(bit: int, when_set: str, when_clear: str) -> Bits:
    return Bits(bit, bit, lambda v: when_set if v else when_clear)


def text(hi: int, lo: int, words: str) -> Bits:
    """A range told by a fixed name (a count, a size): the value carries the meaning."""
    return Bits(hi, lo, lambda v: words)


def table(hi: int, lo: int, names: dict[int, str], other: str = "Reserved") -> Bits:
    return Bits(hi, lo, lambda v: names.get(v, other))


def reserved(hi: int, lo: int | None = None) -> Bits:
    return Bits(hi, hi if lo is None else lo, lambda v: "Reserved", reserved=True)


def degrees(kelvin: int) -> str:
    return f"{kelvin - KELVIN_0C} °C"


def celsius(kelvin: int) -> str:
    """nvme-cli's temperature: ``27 °C (300 K)``."""
    return f"{degrees(kelvin)} ({kelvin} K)"


def temperature(name: str) -> Decoder:
    return Decoder(16, (Bits(15, 0, lambda v: name, value=celsius),))


def zeros_based(name: str) -> Decoder:
    return Decoder(8, (Bits(7, 0, lambda v: name, value=lambda v: f"{v} (0's based)"),))
