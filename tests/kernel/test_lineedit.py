"""The console's edit mode as a state machine: keys in, echo and the edited line out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qrv.kernel.lineedit import CLEAR_SCREEN, LineEditor

LEFT, RIGHT, UP, DOWN = b"\x1b[D", b"\x1b[C", b"\x1b[A", b"\x1b[B"
HOME, END, DELETE = b"\x1b[H", b"\x1b[F", b"\x1b[3~"


def line(keys: bytes, history: list[str] | None = None, complete=None) -> str | None:
    return LineEditor("# ", history, complete).feed(keys).line


@pytest.mark.parametrize(
    ("keys", "want"),
    [
        (b"echo abc" + LEFT + LEFT + b"X\r", "echo aXbc"),
        (b"abc" + HOME + b"X" + END + b"Y\r", "XabcY"),
        (b"abc\x01X\x05Y\r", "XabcY"),  # ^A ^E
        (b"abcd" + LEFT + LEFT + b"\x7f\r", "acd"),  # backspace
        (b"abcd" + LEFT + LEFT + DELETE + b"\r", "abd"),
        (b"abcd" + LEFT + LEFT + b"\x0b\r", "ab"),  # ^K
        (b"abcd" + LEFT + b"\x15\r", "d"),  # ^U
        (b"echo foo bar\x17\r", "echo foo "),  # ^W
        (b"echo foo bar  \x17\r", "echo foo "),
        (b"ab" + LEFT + LEFT + LEFT + b"\x7fX\r", "Xab"),  # nothing left of the cursor
        (b"ab" + RIGHT + RIGHT + b"c\r", "abc"),
        (b"ab\x04\r", "ab"),  # ^D at the end of a line: nothing to delete
        (b"ab\x01\x04\r", "b"),  # ^D deletes under the cursor
        (b"a\x1bxb\r", "ab"),  # Alt-x: ignored
        ("é".encode() + b"\r", "é"),
    ],
)
def test_keys_edit_the_line(keys: bytes, want: str) -> None:
    assert line(keys) == want


def test_escape_sequences_split_over_reads() -> None:
    ed = LineEditor("# ")
    for chunk in (b"abc\x1b", b"[", b"D", b"X\r"):
        res = ed.feed(chunk)
    assert res.line == "abXc"
    ed = LineEditor("# ")
    ed.feed("é".encode()[:1])
    assert ed.feed("é".encode()[1:] + b"\n").line == "é"


def test_history_up_down_keeps_the_typed_line() -> None:
    hist = ["one", "two"]
    assert line(UP + b"\r", hist) == "two"
    assert line(UP + UP + UP + b"\r", hist) == "one"
    assert line(b"new" + UP + DOWN + b"\r", hist) == "new"
    assert line(UP + b"!\r", hist) == "two!"
    assert line(DOWN + b"x\r", hist) == "x"


def test_ctrl_d_on_an_empty_line_is_end_of_file() -> None:
    res = LineEditor("# ").feed(b"\x04")
    assert res.eof and res.line is None


def test_ctrl_l_clears_and_redraws() -> None:
    ed = LineEditor("# ")
    ed.feed(b"ls" + LEFT)
    assert ed.feed(b"\x0c").echo == (CLEAR_SCREEN + "\r# ls\x1b[K\x1b[1D").encode()


def test_echo_of_plain_typing_is_the_characters() -> None:
    ed = LineEditor("# ")
    assert ed.feed(b"ls /").echo == b"ls /"
    assert ed.feed(b"\x7f").echo == b"\b \b"
    assert ed.feed(b"\r").echo == b"\n"


def test_tab_completes_to_the_common_prefix_then_lists() -> None:
    calls = []

    def complete(word: str, command: bool) -> list[str]:
        calls.append((word, command))
        if command:
            return [c for c in ("cat", "cd", "clear") if c.startswith(word)]
        return [p for p in ("/dev/nvme0n1", "/dev/nvme0n1p1", "/dev/") if p.startswith(word)]

    assert line(b"ls /dev/nvm\t\r", complete=complete) == "ls /dev/nvme0n1"
    assert line(b"ca\t/dev/\r", complete=complete) == "cat /dev/"
    assert line(b"ls /d\t\r", complete=complete) == "ls /dev/"  # a directory: no space
    ed = LineEditor("# ", complete=complete)
    ed.feed(b"c")
    assert ed.feed(b"\t").echo == b"\r\ncat  cd  clear\r\n\r# c\x1b[K"  # no extension: a list
    assert ("c", True) in calls and ("/dev/nvm", False) in calls
    assert LineEditor("# ", complete=complete).feed(b"zz\t").echo == b"zz\a"  # a bell


KEYS = st.lists(
    st.sampled_from([b"a", b"b", b" ", LEFT, RIGHT, HOME, END, b"\x7f", DELETE, b"\x0b", b"\x15"]),
    max_size=30,
)


def _model(keys: list[bytes]) -> str:
    buf, pos = "", 0
    for k in keys:
        if k in (b"a", b"b", b" "):
            buf, pos = buf[:pos] + k.decode() + buf[pos:], pos + 1
        elif k == LEFT:
            pos = max(0, pos - 1)
        elif k == RIGHT:
            pos = min(len(buf), pos + 1)
        elif k == HOME:
            pos = 0
        elif k == END:
            pos = len(buf)
        elif k == b"\x7f" and pos:
            buf, pos = buf[: pos - 1] + buf[pos:], pos - 1
        elif k == DELETE:
            buf = buf[:pos] + buf[pos + 1 :]
        elif k == b"\x0b":
            buf = buf[:pos]
        elif k == b"\x15":
            buf, pos = buf[pos:], 0
    return buf


@settings(max_examples=100, deadline=None)
@given(KEYS, st.integers(1, 4))
def test_any_keys_in_any_pieces_agree_with_a_model(keys: list[bytes], piece: int) -> None:
    data = b"".join(keys) + b"\r"
    ed = LineEditor("# ")
    res = None
    for i in range(0, len(data), piece):
        res = ed.feed(data[i : i + piece])
    assert res is not None and res.line == _model(keys)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(KEYS, st.integers(1, 4))
def test_any_keys_agree_with_a_model_many(keys: list[bytes], piece: int) -> None:
    test_any_keys_in_any_pieces_agree_with_a_model.hypothesis.inner_test(keys, piece)  # type: ignore[attr-defined]
