"""The console's edit mode (QNX io-char's): a line edited in place before the reader gets it.

A pure state machine: :meth:`LineEditor.feed` takes the bytes the terminal
sent (in raw mode) and returns what to echo and, at Enter, the line.  Keys:

* printable characters insert at the cursor; Left/Right (``^B``/``^F``),
  Home/End (``^A``/``^E``), Backspace, Delete;
* ``^K`` deletes to the end, ``^U`` to the start, ``^W`` the word before the
  cursor; ``^L`` clears the screen and redraws the line;
* Up/Down (``^P``/``^N``) walk the history the reader gave; Tab asks the
  reader's completer for the word before the cursor;
* ``^D`` on an empty line is end of file (else it deletes at the cursor).

Escape sequences may arrive split over several reads: the editor keeps the
unfinished part.  ``^C`` is not a key here: the terminal turns it into
SIGINT, as in QNX's edit mode.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass

Completer = Callable[[str, bool], list[str]]
"""(word before the cursor, is it the command word) -> the candidate words."""

CLEAR_SCREEN = "\x1b[H\x1b[2J"
ERASE_TO_END = "\x1b[K"
KEYS = {
    "\x1b[D": "left",
    "\x1bOD": "left",
    "\x02": "left",
    "\x1b[C": "right",
    "\x1bOC": "right",
    "\x06": "right",
    "\x1b[H": "home",
    "\x1bOH": "home",
    "\x1b[1~": "home",
    "\x1b[7~": "home",
    "\x01": "home",
    "\x1b[F": "end",
    "\x1bOF": "end",
    "\x1b[4~": "end",
    "\x1b[8~": "end",
    "\x05": "end",
    "\x1b[A": "up",
    "\x1bOA": "up",
    "\x10": "up",
    "\x1b[B": "down",
    "\x1bOB": "down",
    "\x0e": "down",
    "\x1b[3~": "delete",
    "\x7f": "backspace",
    "\x08": "backspace",
    "\x0b": "kill-end",
    "\x15": "kill-start",
    "\x17": "kill-word",
    "\x0c": "redraw",
    "\x04": "eof-or-delete",
    "\t": "complete",
    "\r": "enter",
    "\n": "enter",
}


@dataclass
class Result:
    """What a feed produced: bytes to echo, the line at Enter, end of file."""

    echo: bytes = b""
    line: str | None = None
    eof: bool = False


class LineEditor:
    def __init__(
        self, prompt: str, history: list[str] | None = None, complete: Completer | None = None
    ) -> None:
        self.prompt = prompt
        self.history = list(history or [])
        self.index = len(self.history)
        self.saved = ""
        """The line being typed, kept while Up shows older ones."""
        self.buf = ""
        self.pos = 0
        self.complete = complete
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> Result:
        res = Result()
        out: list[str] = []
        text = self._pending + self._decoder.decode(data)
        self._pending = ""
        i = 0
        while i < len(text):
            if text[i] == "\x1b":
                seq = _escape(text, i)
                if seq is None:  # unfinished: wait for the rest
                    self._pending = text[i:]
                    break
                key = KEYS.get(seq, "")
                i += len(seq)
            else:
                key = KEYS.get(text[i], "")
                if not key and text[i].isprintable():
                    out.append(self._insert(text[i]))
                    i += 1
                    continue
                i += 1
            if key == "enter":
                out.append("\n")  # the terminal's output processing makes it CR LF
                res.line = self.buf
                self._pending = text[i:]
                break
            if key == "eof-or-delete" and not self.buf:
                res.eof = True
                break
            out.append(self._key(key))
        res.echo = "".join(out).encode()
        return res

    # -- editing ---------------------------------------------------------------------------

    def _insert(self, ch: str) -> str:
        at_end = self.pos == len(self.buf)
        self.buf = self.buf[: self.pos] + ch + self.buf[self.pos :]
        self.pos += 1
        return ch if at_end else self.render()

    def _key(self, key: str) -> str:
        b, p = self.buf, self.pos
        if key == "left":
            self.pos = max(0, p - 1)
        elif key == "right":
            self.pos = min(len(b), p + 1)
        elif key == "home":
            self.pos = 0
        elif key == "end":
            self.pos = len(b)
        elif key == "backspace":
            if p == 0:
                return ""
            self.buf, self.pos = b[: p - 1] + b[p:], p - 1
            if p == len(b):
                return "\b \b"
        elif key in ("delete", "eof-or-delete"):
            self.buf = b[:p] + b[p + 1 :]
        elif key == "kill-end":
            self.buf = b[:p]
        elif key == "kill-start":
            self.buf, self.pos = b[p:], 0
        elif key == "kill-word":
            start = p
            while start > 0 and b[start - 1] == " ":
                start -= 1
            while start > 0 and b[start - 1] != " ":
                start -= 1
            self.buf, self.pos = b[:start] + b[p:], start
        elif key == "redraw":
            return CLEAR_SCREEN + self.render()
        elif key in ("up", "down"):
            self._recall(-1 if key == "up" else 1)
        elif key == "complete":
            return self._complete()
        else:
            return ""  # a key with no meaning here
        return self.render()

    def _recall(self, step: int) -> None:
        new = self.index + step
        if not 0 <= new <= len(self.history):
            return
        if self.index == len(self.history):
            self.saved = self.buf
        self.index = new
        self.buf = self.history[new] if new < len(self.history) else self.saved
        self.pos = len(self.buf)

    def _complete(self) -> str:
        if self.complete is None:
            return ""
        before = self.buf[: self.pos]
        start = before.rfind(" ") + 1
        word = before[start:]
        candidates = sorted(set(self.complete(word, not before[:start].strip())))
        if not candidates:
            return "\a"
        common = _common_prefix(candidates)
        if len(candidates) == 1 and not common.endswith("/"):
            common += " "
        if len(common) > len(word):
            self.buf = self.buf[:start] + common + self.buf[self.pos :]
            self.pos = start + len(common)
            return self.render()
        return "\r\n" + "  ".join(candidates) + "\r\n" + self.render()

    def render(self) -> str:
        """Redraw the prompt and line, the cursor where it belongs."""
        back = len(self.buf) - self.pos
        return "\r" + self.prompt + self.buf + ERASE_TO_END + (f"\x1b[{back}D" if back else "")


def _escape(text: str, i: int) -> str | None:
    """The escape sequence at text[i] (ESC [ ... final, ESC O x), or None if unfinished."""
    if i + 1 >= len(text):
        return None
    kind = text[i + 1]
    if kind == "O":
        return text[i : i + 3] if i + 2 < len(text) else None
    if kind != "[":
        return text[i : i + 2]  # ESC + a key: Alt-key, ignored
    j = i + 2
    while j < len(text) and text[j] in "0123456789;":
        j += 1
    return text[i : j + 1] if j < len(text) else None


def _common_prefix(words: list[str]) -> str:
    first, last = min(words), max(words)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]
