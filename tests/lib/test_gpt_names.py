"""Partition names: full UTF-16LE with the traps real images contain."""

from __future__ import annotations

import pytest

from qrv.lib.gpt import GptLayoutError, attribute_names, decode_name, encode_name


def field(units: list[int]) -> bytes:
    raw = b"".join(u.to_bytes(2, "little") for u in units)
    return raw.ljust(72, b"\0")


def test_ascii_and_bmp() -> None:
    assert decode_name("qrv-test-p1".encode("utf-16-le").ljust(72, b"\0")) == "qrv-test-p1"
    assert decode_name("Données ✓".encode("utf-16-le").ljust(72, b"\0")) == "Données ✓"


def test_surrogate_pair_decodes_to_one_character() -> None:
    # U+1F600 is D83D DE00 in UTF-16 (Unicode 3.9, D91).
    assert decode_name(field([0x61, 0xD83D, 0xDE00, 0x62])) == "a\U0001f600b"


def test_lone_surrogates_become_replacement_characters() -> None:
    assert decode_name(field([0x61, 0xD800, 0x62])) == "a\ufffdb"
    assert decode_name(field([0xDC00])) == "\ufffd"
    assert decode_name(field([0x61, 0xD83D])) == "a\ufffd"


def test_name_ends_at_first_nul() -> None:
    assert decode_name(field([0x41, 0x42, 0, 0x43, 0x44])) == "AB"


def test_ffff_padding_is_dropped() -> None:
    assert decode_name(field([0x41, 0x42] + [0xFFFF] * 34)) == "AB"
    assert decode_name(b"\xff" * 72) == ""


def test_full_36_units_without_nul() -> None:
    assert decode_name(("x" * 36).encode("utf-16-le")) == "x" * 36


def test_encode_pads_and_refuses_what_does_not_fit() -> None:
    assert encode_name("ab") == b"a\0b\0" + bytes(68)
    assert len(encode_name("x" * 36)) == 72
    assert encode_name("\U0001f600" * 18).startswith("\U0001f600".encode("utf-16-le"))
    with pytest.raises(GptLayoutError, match="37 UTF-16"):
        encode_name("x" * 37)
    with pytest.raises(GptLayoutError, match="38 UTF-16"):
        encode_name("\U0001f600" * 19)
    with pytest.raises(GptLayoutError, match="NUL"):
        encode_name("a\0b")
    with pytest.raises(GptLayoutError, match="U\\+FFFF"):
        encode_name("a\uffff")
    with pytest.raises(GptLayoutError, match="not valid Unicode"):
        encode_name("a\ud800")


def test_attribute_names() -> None:
    # UEFI table 5-7: bit 0 required, 1 no block IO protocol, 2 legacy BIOS bootable.
    assert attribute_names(0) == []
    assert attribute_names(0b111) == ["required", "no-block-io", "legacy-bios-bootable"]
    assert attribute_names(1 << 60 | 1 << 5) == ["reserved-bit5", "type-specific-bit60"]
