"""Shared fixtures.  `require_tool` skips a test when a real tool is absent,
or fails it when QRV_REQUIRE_TOOLS=1 (as CI sets)."""

from __future__ import annotations

import os
import shutil

import pytest


def tools_required() -> bool:
    return os.environ.get("QRV_REQUIRE_TOOLS", "") not in ("", "0")


def require_tool(name: str, package: str) -> str:
    """Return the tool's path, or skip (fail under QRV_REQUIRE_TOOLS=1) if it is absent."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not installed (Debian package {package})"
        if tools_required():
            pytest.fail(message + " and QRV_REQUIRE_TOOLS=1", pytrace=False)
        pytest.skip(message)
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`slow` tests run only when asked: ``-m slow`` (or any -m naming it) or QRV_SLOW=1."""
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("QRV_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or QRV_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
