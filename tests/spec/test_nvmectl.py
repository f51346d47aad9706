"""The passthrough devctl's layouts (spec/nvmectl.py): packing round-trips, and a short or
malformed message is a MessageError with its errno, never a crash."""

from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrv.spec.iomsg import MessageError, dcmd_size
from qrv.spec.nvmectl import (
    DCMD_NVME_ADMIN_CMD,
    DCMD_NVME_IO_CMD,
    DataDir,
    PassthruCmd,
    PassthruResult,
    opcode_direction,
)
from tests.lib.c.rawmsg import FEW, MANY, slow

U32 = st.integers(0, 0xFFFF_FFFF)
CMDS = st.builds(
    PassthruCmd,
    opcode=st.integers(0, 0xFF),
    nsid=U32,
    direction=st.sampled_from(list(DataDir)),
    data_len=U32,
    cdw2=U32,
    cdw3=U32,
    cdw10=U32,
    cdw11=U32,
    cdw12=U32,
    cdw13=U32,
    cdw14=U32,
    cdw15=U32,
    flags=st.integers(0, 0xFF),
)


def test_the_command_layout_is_the_documented_one() -> None:
    cmd = PassthruCmd(0x06, nsid=1, direction=DataDir.FROM_DEVICE, data_len=4096, cdw10=1)
    raw = cmd.pack()
    assert len(raw) == PassthruCmd.SIZE == 44
    assert struct.unpack_from("<BBBxIIII", raw) == (0x06, 0, 2, 1, 0, 0, 4096)
    assert struct.unpack_from("<I", raw, 20) == (1,)  # CDW10 follows the length
    assert dcmd_size(DCMD_NVME_ADMIN_CMD) == dcmd_size(DCMD_NVME_IO_CMD) == PassthruCmd.SIZE
    assert DCMD_NVME_ADMIN_CMD != DCMD_NVME_IO_CMD


def check_round_trip(cmd: PassthruCmd) -> None:
    assert PassthruCmd.unpack(cmd.pack() + b"data after") == cmd


@FEW
@given(CMDS)
def test_commands_round_trip(cmd: PassthruCmd) -> None:
    check_round_trip(cmd)


@slow
@MANY
@given(CMDS)
def test_commands_round_trip_many(cmd: PassthruCmd) -> None:
    check_round_trip(cmd)


@FEW
@given(st.binary(max_size=PassthruCmd.SIZE - 1))
def test_a_short_command_is_ebadmsg(raw: bytes) -> None:
    with pytest.raises(MessageError) as ei:
        PassthruCmd.unpack(raw)
    assert ei.value.errno == errno.EBADMSG


def test_a_direction_out_of_range_is_einval() -> None:
    raw = bytearray(PassthruCmd(0x02).pack())
    raw[2] = 4
    with pytest.raises(MessageError) as ei:
        PassthruCmd.unpack(bytes(raw))
    assert ei.value.errno == errno.EINVAL


def test_packing_a_value_too_wide_is_eoverflow() -> None:
    with pytest.raises(MessageError) as ei:
        PassthruCmd(0x02, nsid=1 << 32).pack()
    assert ei.value.errno == errno.EOVERFLOW


@FEW
@given(st.integers(0, 0x7FFF), U32, U32)
def test_results_round_trip(status: int, result: int, length: int) -> None:
    res = PassthruResult(status, result, length)
    assert PassthruResult.unpack(res.pack()) == res
    assert res.ok == (status & 0x7FF == 0)


@pytest.mark.parametrize(
    ("opcode", "direction"),
    [
        (0x00, DataDir.NONE),  # Delete I/O SQ / Flush
        (0x01, DataDir.TO_DEVICE),  # Create I/O SQ / Write
        (0x02, DataDir.FROM_DEVICE),  # Get Log Page / Read
        (0x06, DataDir.FROM_DEVICE),  # Identify
        (0x09, DataDir.TO_DEVICE),  # Set Features
        (0x0A, DataDir.FROM_DEVICE),  # Get Features
        (0x80, DataDir.NONE),  # Format NVM
        (0x81, DataDir.TO_DEVICE),  # Security Send
        (0x82, DataDir.FROM_DEVICE),  # Security Receive
        (0x84, DataDir.NONE),  # Sanitize
        (0x03, DataDir.BIDIRECTIONAL),
    ],
)
def test_opcode_bits_give_the_direction(opcode: int, direction: DataDir) -> None:
    assert opcode_direction(opcode) == direction
