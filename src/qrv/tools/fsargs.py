"""Argument parsing shared by the qrvfs host tools: usage errors are one line."""

from __future__ import annotations

import argparse

from qrv.errors import UsageError


class ToolParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (try '{self.prog} --help')")
