"""The shell's grammar: words, quotes, expansions markers, operators, redirections.

A line is parsed once into a :class:`Script` whose words still carry what
to expand (``$NAME``, ``${NAME}``, ``$?``; globs in unquoted text); the
shell expands each command just before it runs, so ``false; echo $?``
sees the status of ``false``.

Grammar (a subset of POSIX sh)::

    script   := and_or ((';' | '&' | newline) and_or)* [';' | '&']
    and_or   := pipeline (('&&' | '||') pipeline)*
    pipeline := command ('|' command)*
    command  := (word | redirect)+
    redirect := [0-9] ? ('<' | '>' | '>>') word  |  [0-9] ? '>&' [0-9]

Quoting: ``'...'`` takes everything literally, ``"..."`` keeps ``$``
expansions and lets ``\\`` escape ``$ " \\`` and a newline, a ``\\`` outside
quotes takes the next character literally.  ``#`` at the start of a word
begins a comment.  Quoted text is never globbed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
NAME_CHARS = NAME_START + "0123456789"
DIGITS = frozenset("0123456789")
"""An fd number's digits: ASCII only (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
SPECIAL_VARS = "?$#!0"
OPERATORS = ("&&", "||", ";", "|", "&", "\n")
REDIRECT_OPS = (">>", ">&", "<", ">")
METACHARS = " \t\n;&|<>"
GLOB_CHARS = "*?["


class ShellSyntaxError(ValueError):
    """A line the grammar does not accept (the message says where)."""


@dataclass(frozen=True)
class Lit:
    text: str
    quoted: bool


@dataclass(frozen=True)
class Var:
    name: str
    quoted: bool


Part = Lit | Var
Word = tuple[Part, ...]


@dataclass(frozen=True)
class Redirect:
    fd: int
    op: str
    """``<``, ``>``, ``>>`` (target a word) or ``>&`` (target an fd number)."""
    target: Word


@dataclass
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class AndOr:
    first: list[Command]
    rest: list[tuple[str, list[Command]]] = field(default_factory=list)
    background: bool = False


Script = list[AndOr]


def literal(word: Word) -> str | None:
    """The word's text if it has no expansion (for redirections like ``>&1``)."""
    if any(isinstance(p, Var) for p in word):
        return None
    return "".join(p.text for p in word if isinstance(p, Lit))


# -- lexer ---------------------------------------------------------------------------------


@dataclass
class _Op:
    op: str


@dataclass
class _Redir:
    fd: int
    op: str


Token = Word | _Op | _Redir


class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.tokens: list[Token] = []
        self.parts: list[Part] = []
        self.started = False
        """A word is being built (even an empty one: ``''``)."""

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def lit(self, text: str, quoted: bool) -> None:
        self.started = True
        if self.parts and isinstance(self.parts[-1], Lit) and self.parts[-1].quoted == quoted:
            text = self.parts.pop().text + text  # type: ignore[union-attr]
        self.parts.append(Lit(text, quoted))

    def end_word(self) -> None:
        if self.started:
            self.tokens.append(tuple(self.parts))
        self.parts, self.started = [], False

    def run(self) -> list[Token]:
        while self.i < len(self.s):
            c = self.peek()
            if c in " \t":
                self.end_word()
                self.i += 1
            elif c == "#" and not self.started:
                while self.i < len(self.s) and self.peek() != "\n":
                    self.i += 1
            elif c == "'":
                self.single()
            elif c == '"':
                self.double()
            elif c == "\\":
                self.backslash()
            elif c == "$":
                self.dollar(quoted=False)
            elif c in "<>" or (c in DIGITS and self.fd_redirect()):
                self.redirect()
            elif c in ";&|\n":
                self.end_word()
                two = self.s[self.i : self.i + 2]
                op = two if two in ("&&", "||") else c
                self.tokens.append(_Op(op))
                self.i += len(op)
            else:
                self.lit(c, quoted=False)
                self.i += 1
        self.end_word()
        return self.tokens

    def fd_redirect(self) -> bool:
        """A digit starting a word right before ``<``/``>`` is the redirected fd."""
        return not self.started and self.peek(1) in ("<", ">")

    def redirect(self) -> None:
        self.end_word()
        fd = -1
        if self.peek() in DIGITS:
            fd = int(self.peek())
            self.i += 1
        for op in REDIRECT_OPS:
            if self.s.startswith(op, self.i):
                self.i += len(op)
                break
        else:  # pragma: no cover - only called at < or >
            raise ShellSyntaxError("bad redirection")
        if fd < 0:
            fd = 0 if op == "<" else 1
        self.tokens.append(_Redir(fd, op))

    def single(self) -> None:
        end = self.s.find("'", self.i + 1)
        if end < 0:
            raise ShellSyntaxError("unterminated quote (')")
        self.lit(self.s[self.i + 1 : end], quoted=True)
        self.i = end + 1

    def double(self) -> None:
        self.i += 1
        self.lit("", quoted=True)
        while True:
            c = self.peek()
            if not c:
                raise ShellSyntaxError('unterminated quote (")')
            if c == '"':
                self.i += 1
                return
            if c == "\\" and self.peek(1) in '$"\\\n':
                if self.peek(1) != "\n":
                    self.lit(self.peek(1), quoted=True)
                self.i += 2
            elif c == "$":
                self.dollar(quoted=True)
            else:
                self.lit(c, quoted=True)
                self.i += 1

    def backslash(self) -> None:
        nxt = self.peek(1)
        if nxt == "\n":
            self.i += 2  # a line continuation
            return
        if not nxt:
            raise ShellSyntaxError("a backslash at the end of the line")
        self.lit(nxt, quoted=True)
        self.i += 2

    def dollar(self, quoted: bool) -> None:
        nxt = self.peek(1)
        if nxt == "{":
            end = self.s.find("}", self.i + 2)
            name = self.s[self.i + 2 : end] if end >= 0 else ""
            if end < 0 or (not _is_name(name) and name not in tuple(SPECIAL_VARS)):
                raise ShellSyntaxError("bad substitution")
            self._var(name, quoted)
            self.i = end + 1
        elif nxt and nxt in SPECIAL_VARS:
            self._var(nxt, quoted)
            self.i += 2
        elif nxt and nxt in NAME_START:
            j = self.i + 1
            while j < len(self.s) and self.s[j] in NAME_CHARS:
                j += 1
            self._var(self.s[self.i + 1 : j], quoted)
            self.i = j
        else:
            self.lit("$", quoted)
            self.i += 1

    def _var(self, name: str, quoted: bool) -> None:
        self.started = True
        self.parts.append(Var(name, quoted))


def _is_name(s: str) -> bool:
    return bool(s) and s[0] in NAME_START and all(c in NAME_CHARS for c in s)


# -- parser --------------------------------------------------------------------------------


def parse(text: str) -> Script:
    """The line's and-or lists; ShellSyntaxError for what the grammar does not accept."""
    tokens = _Lexer(text).run()
    script: Script = []
    pos = 0
    while pos < len(tokens):
        tok = tokens[pos]
        if isinstance(tok, _Op) and tok.op in (";", "\n"):
            pos += 1
            continue
        node, pos = _and_or(tokens, pos)
        if pos < len(tokens):
            sep = tokens[pos]
            assert isinstance(sep, _Op)
            if sep.op == "&":
                node.background = True
            pos += 1
        script.append(node)
    return script


def _and_or(tokens: list[Token], pos: int) -> tuple[AndOr, int]:
    first, pos = _pipeline(tokens, pos)
    node = AndOr(first)
    while pos < len(tokens):
        tok = tokens[pos]
        if not isinstance(tok, _Op) or tok.op not in ("&&", "||"):
            break
        pos = _skip_newlines(tokens, pos + 1)
        nxt, pos = _pipeline(tokens, pos)
        node.rest.append((tok.op, nxt))
    return node, pos


def _skip_newlines(tokens: list[Token], pos: int) -> int:
    while pos < len(tokens) and isinstance(tokens[pos], _Op) and tokens[pos].op == "\n":  # type: ignore[union-attr]
        pos += 1
    return pos


def _pipeline(tokens: list[Token], pos: int) -> tuple[list[Command], int]:
    cmds: list[Command] = []
    while True:
        cmd, pos = _command(tokens, pos)
        cmds.append(cmd)
        if pos < len(tokens) and isinstance(tokens[pos], _Op) and tokens[pos].op == "|":  # type: ignore[union-attr]
            pos = _skip_newlines(tokens, pos + 1)
            continue
        return cmds, pos


def _command(tokens: list[Token], pos: int) -> tuple[Command, int]:
    cmd = Command()
    while pos < len(tokens):
        tok = tokens[pos]
        if isinstance(tok, _Op):
            break
        if isinstance(tok, _Redir):
            target = tokens[pos + 1] if pos + 1 < len(tokens) else None
            if not isinstance(target, tuple):
                raise ShellSyntaxError(f"a redirection ({tok.op}) needs a target")
            if tok.fd > 2:
                raise ShellSyntaxError(f"{tok.fd}{tok.op}: only fds 0, 1 and 2 can be redirected")
            if tok.op == ">&" and (literal(target) or "") not in ("0", "1", "2"):
                raise ShellSyntaxError(f"{tok.op}: bad file descriptor")
            cmd.redirects.append(Redirect(tok.fd, tok.op, target))
            pos += 2
            continue
        cmd.words.append(tok)
        pos += 1
    if not cmd.words and not cmd.redirects:
        near = tokens[pos].op if pos < len(tokens) else "end of line"  # type: ignore[union-attr]
        raise ShellSyntaxError(f"unexpected {near!r}" if near != "\n" else "unexpected newline")
    return cmd, pos
