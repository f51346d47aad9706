"""A machine whose device tree cannot be parsed stops the boot with one clear error."""

from __future__ import annotations

import io

import pytest

from qrv.emu import BuiltinMachine, run
from qrv.errors import FdtError
from qrv.kernel import Stdio


class BrokenTree(BuiltinMachine):
    def __init__(self, blob: bytes) -> None:
        super().__init__(None)
        self.blob = blob

    def device_tree(self) -> bytes:
        return self.blob


@pytest.mark.parametrize(
    "blob",
    [b"", b"\xd0\x0d\xfe\xed" + bytes(36), BuiltinMachine(None).device_tree()[:64]],
    ids=["empty", "bad-header", "truncated"],
)
def test_malformed_device_tree_is_a_boot_error(blob: bytes) -> None:
    machine = BrokenTree(blob)
    stdio = Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO())
    try:
        with pytest.raises(FdtError, match="device tree is malformed"):
            run(machine, "echo never", stdio)
    finally:
        machine.close()
    assert b"never" not in stdio.stdout.getvalue()  # type: ignore[attr-defined]
