"""What a namespace may be backed by: regular files and block devices, whole LBAs only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from qrv.errors import MachineError
from qrv.hw.nvme import namespace as namespace_module
from qrv.hw.nvme.namespace import Namespace, NamespaceError

MiB = 1 << 20


def image(tmp_path: Path, size: int, name: str = "nvme.img") -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


def refusal(path: Path | str, **kwargs: object) -> str:
    with pytest.raises(NamespaceError) as err:
        Namespace(path, **kwargs)  # type: ignore[arg-type]
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


def test_namespace_error_is_a_machine_error() -> None:
    assert issubclass(NamespaceError, MachineError)  # the CLI prints it as one line


def test_regular_file_sizes_and_data(tmp_path: Path) -> None:
    img = image(tmp_path, 2 * MiB)
    for lba_size in (512, 4096):
        ns = Namespace(img, read_only=True, lba_size=lba_size)
        try:
            assert ns.nlba == 2 * MiB // lba_size
            assert ns.read(3, 2) == img.read_bytes()[3 * lba_size : 5 * lba_size]
        finally:
            ns.close()


@pytest.mark.parametrize("read_only", [True, False])
def test_directory_is_refused(tmp_path: Path, read_only: bool) -> None:
    message = refusal(tmp_path, read_only=read_only)
    assert "directory" in message.lower()


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "a FIFO" in refusal(fifo, read_only=True)  # an open without O_NONBLOCK would hang


def test_character_device_is_refused() -> None:
    assert "a character device" in refusal("/dev/null", read_only=True)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert "No such file or directory" in refusal(tmp_path / "nope.img", read_only=True)


@pytest.mark.parametrize("size", [0, 1, 300, 511])
def test_image_smaller_than_one_lba(tmp_path: Path, size: int) -> None:
    img = image(tmp_path, size)
    assert f"{size} bytes is smaller than one 512-byte LBA" in refusal(img, read_only=True)


def test_image_smaller_than_one_4k_lba(tmp_path: Path) -> None:
    img = image(tmp_path, 3 * 512)
    assert "smaller than one 4096-byte LBA" in refusal(img, read_only=True, lba_size=4096)


@pytest.mark.parametrize(("size", "lba_size"), [(1000, 512), (4097 * 512, 4096), (5000, 4096)])
def test_partial_trailing_block_is_refused(tmp_path: Path, size: int, lba_size: int) -> None:
    """QEMU would round a 1000-byte image up to 2 LBAs; the model refuses it instead."""
    img = image(tmp_path, size)
    message = refusal(img, read_only=True, lba_size=lba_size)
    assert f"{size} bytes is not a whole number of {lba_size}-byte LBAs" in message


def test_slices_must_fit_and_be_whole_lbas(tmp_path: Path) -> None:
    img = image(tmp_path, 1 * MiB)
    assert "does not fit" in refusal(img, read_only=True, size=2 * MiB)
    assert "does not fit" in refusal(img, read_only=True, offset=MiB // 2, size=MiB)
    assert "smaller than one" in refusal(img, read_only=True, offset=2 * MiB)
    assert "not a whole number" in refusal(img, read_only=True, size=4096 + 1536, lba_size=4096)
    ns = Namespace(img, read_only=True, offset=MiB // 2, size=MiB // 4)
    try:
        assert ns.nlba == MiB // 4 // 512
    finally:
        ns.close()


def test_refusal_leaks_no_descriptor(tmp_path: Path) -> None:
    img = image(tmp_path, 1000)
    before = set(os.listdir("/proc/self/fd"))
    for _ in range(3):
        refusal(img, read_only=True)
        refusal(tmp_path, read_only=True)
    assert set(os.listdir("/proc/self/fd")) == before


def test_block_device_size_comes_from_lseek(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block device reports st_size 0: the size must come from lseek(SEEK_END).

    Simulated on a regular file whose fstat is made to look like a block device's."""
    img = image(tmp_path, 3 * MiB)
    real_fstat = os.fstat

    def blockdev_fstat(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        fields = list(st)
        fields[stat.ST_MODE] = stat.S_IFBLK | 0o600
        fields[stat.ST_SIZE] = 0
        return os.stat_result(fields)

    monkeypatch.setattr(namespace_module.os, "fstat", blockdev_fstat)
    ns = Namespace(img, read_only=True)
    try:
        assert ns.nlba == 3 * MiB // 512
    finally:
        ns.close()


def test_a_real_block_device_is_accepted_or_refused_by_size() -> None:
    """An unattached loop device is a block device of 0 bytes: refused as too small,
    not as the wrong kind of file."""
    dev = "/dev/loop7"
    try:
        mode = os.stat(dev).st_mode
        fd = os.open(dev, os.O_RDONLY)
    except OSError:
        pytest.skip(f"{dev} is not available here")
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
    assert stat.S_ISBLK(mode)
    if size >= 512 and size % 512 == 0:
        ns = Namespace(dev, read_only=True)
        try:
            assert ns.nlba == size // 512
        finally:
            ns.close()
    else:
        assert "smaller than one 512-byte LBA" in refusal(dev, read_only=True)
