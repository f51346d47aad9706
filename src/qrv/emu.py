"""The boot: board -> kernel -> pci-server -> devb-nvme -> sh (`qrv emu`)."""

from __future__ import annotations

from qrv.errors import UsageError


def main(argv: list[str]) -> int:
    raise UsageError("emu: not built yet")
