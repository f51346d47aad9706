"""The shell's grammar on its own: tokens, quoting, operators (no processes)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qrv.userland.shsyntax import Lit, Redirect, ShellSyntaxError, Var, parse


def words(line: str) -> list[list[str]]:
    """Each command's words with expansions shown as $NAME (quoting removed)."""
    out = []
    for node in parse(line):
        for cmds in [node.first, *(c for _op, c in node.rest)]:
            for c in cmds:
                out.append(
                    [
                        "".join(p.text if isinstance(p, Lit) else f"${p.name}" for p in w)
                        for w in c.words
                    ]
                )
    return out


def test_operators_split_commands() -> None:
    script = parse("a; b && c || d | e & f")
    assert [n.background for n in script] == [False, True, False]
    assert [op for op, _ in script[1].rest] == ["&&", "||"]
    assert words("a;b&&c") == [["a"], ["b"], ["c"]]


def test_redirections() -> None:
    [node] = parse("cmd <in >out 2>>log 2>&1")
    [cmd] = node.first
    assert [(r.fd, r.op) for r in cmd.redirects] == [(0, "<"), (1, ">"), (2, ">>"), (2, ">&")]
    assert cmd.redirects[0] == Redirect(0, "<", (Lit("in", False),))
    assert words("echo a2>x") == [["echo", "a2"]]  # a digit inside a word is not an fd


def test_expansions_are_kept_for_run_time() -> None:
    [node] = parse("""echo $A "${B}c" '$C' \\$D $? $""")
    parts = node.first[0].words
    assert parts[1] == (Var("A", False),)
    assert parts[2] == (Lit("", True), Var("B", True), Lit("c", True))
    assert parts[3] == (Lit("$C", True),)
    assert parts[4] == (Lit("$", True), Lit("D", False))
    assert parts[5] == (Var("?", False),)
    assert parts[6] == (Lit("$", False),)


def test_comments_and_empty_words() -> None:
    assert words("echo a#b # c") == [["echo", "a#b"]]
    assert words("echo '' \"\"") == [["echo", "", ""]]
    assert parse("# only a comment") == []


@pytest.mark.parametrize("line", ["|", "a |", "a && ", "echo 'x", "a > ", "a >& x", "a 4> x"])
def test_bad_lines(line: str) -> None:
    with pytest.raises(ShellSyntaxError):
        parse(line)


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


WORD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=6))
def test_any_words_quoted_come_back(ws: list[str]) -> None:
    assert words(" ".join(_quote(w) for w in ws)) == [ws]


@pytest.mark.slow
@settings(max_examples=2000, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=6))
def test_any_words_quoted_come_back_many(ws: list[str]) -> None:
    assert words(" ".join(_quote(w) for w in ws)) == [ws]


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=40))
@example("\u00b2<")  # a non-ASCII digit before a redirection (str.isdigit, int refuses it)
def test_any_line_parses_or_is_a_syntax_error(line: str) -> None:
    with contextlib.suppress(ShellSyntaxError):
        parse(line)
