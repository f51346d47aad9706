"""`qrv mkgpt`: the seed's usage and layout, options, and its refusals."""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from pathlib import Path

import pytest

from qrv.errors import QrvError
from qrv.tools import mkgpt
from qrv.tools.gpt import read_table

MIB = 1 << 20
LINUX = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4")
QRV = uuid.UUID("51525611-322e-4017-bae8-e4d9c9d4e979")
EFI = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from qrv import cli

    code = cli.main(["mkgpt", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def blank(path: Path, size: int = 64 * MIB) -> Path:
    path.write_bytes(b"")
    with path.open("r+b") as f:
        f.truncate(size)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_seed_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = blank(tmp_path / "nvme.img")
    code, out, err = run([str(image), "16", "16"], capsys)
    assert (code, err) == (0, "")
    assert (
        'p1: LBA 34..32801 (16 MiB) type=0fc63daf-8483-4772-8e79-3d69d8477de4 name="qrv-test-p1"'
        in out
    )
    assert (
        'p2: LBA 32802..65569 (16 MiB) type=0fc63daf-8483-4772-8e79-3d69d8477de4 name="qrv-test-p2"'
        in out
    )
    table = read_table(image)
    assert table.clean and image.stat().st_size == 64 * MIB
    assert [(p.start_lba, p.end_lba, p.type_guid) for p in table.partitions] == [
        (34, 32801, LINUX),
        (32802, 65569, LINUX),
    ]
    assert len({p.part_guid for p in table.partitions} | {table.disk_guid}) == 3


def test_qrv_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = blank(tmp_path / "nvme.img")
    assert run(["--qrv", "2", str(image), "16", "16"], capsys)[0] == 0
    parts = read_table(image).partitions
    assert [(p.type_guid, p.name) for p in parts] == [(LINUX, "qrv-test-p1"), (QRV, "qrv")]


def test_per_partition_type_and_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = blank(tmp_path / "nvme.img")
    args = [str(image), "8:efi:ESP", f"8:{QRV}:a:b", "8::données"]
    assert run(args, capsys)[0] == 0
    parts = read_table(image).partitions
    assert [(p.type_guid, p.name) for p in parts] == [
        (EFI, "ESP"),
        (QRV, "a:b"),
        (LINUX, "données"),
    ]


def test_align_and_4096_lbas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = blank(tmp_path / "a.img")
    assert run(["--align-mib", "1", str(image), "16", "16"], capsys)[0] == 0
    assert [(p.start_lba, p.end_lba) for p in read_table(image).partitions] == [
        (2048, 34815),
        (34816, 67583),
    ]
    image4k = blank(tmp_path / "b.img")
    assert run(["--lba-size", "4096", str(image4k), "16", "16"], capsys)[0] == 0
    table = read_table(image4k)
    assert table.lba_size == 4096 and table.clean
    assert [(p.start_lba, p.end_lba) for p in table.partitions] == [(6, 4101), (4102, 8197)]


def test_size_creates_and_grows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "new.img"
    assert run(["--size", "64M", str(image), "16", "16"], capsys)[0] == 0
    assert image.stat().st_size == 64 * MIB
    grown = blank(tmp_path / "grown.img", 8 * MIB)
    assert run(["--size", "32MiB", str(grown), "16"], capsys)[0] == 0
    assert grown.stat().st_size == 32 * MIB
    assert read_table(grown).last_usable_lba == 32 * MIB // 512 - 34


def test_missing_image_without_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(tmp_path / "none.img"), "16"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "give --size" in err
    assert not (tmp_path / "none.img").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["IMG", "16", "16", "16", "16"], "does not fit"),
        (["IMG", "x"], "not a whole number"),
        (["IMG", "0"], "at least 1"),
        (["IMG", "1:nonsense"], "neither a GUID"),
        (["IMG", "1::" + "n" * 37], "37 UTF-16 code units"),
        (["--qrv", "3", "IMG", "1", "1"], "between 1 and the number of partitions (2)"),
        (["--qrv", "1", "IMG", "1:efi"], "conflicts"),
        (["--lba-size", "1024", "IMG", "1"], "invalid choice"),
        (["--size", "63M", "IMG", "1"], "shrink"),
        (["--size", "lots", "IMG", "1"], "not a number"),
        (["IMG"], "required"),
    ],
)
def test_refusals_leave_the_image_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    image = blank(tmp_path / "nvme.img")
    before = digest(image)
    code, out, err = run([str(image) if a == "IMG" else a for a in args], capsys)
    assert code == 2, out
    assert message in err and err.count("\n") == 1
    assert "Traceback" not in err
    assert digest(image) == before


def test_refuses_existing_table_and_data_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = blank(tmp_path / "nvme.img")
    assert run([str(image), "16", "16"], capsys)[0] == 0
    before = digest(image)
    code, _, err = run([str(image), "8"], capsys)
    assert code == 2 and "already holds a partition table" in err
    assert digest(image) == before
    assert run(["--force", str(image), "8"], capsys)[0] == 0
    assert [p.end_lba for p in read_table(image).partitions] == [34 + 8 * MIB // 512 - 1]

    dirty = blank(tmp_path / "dirty.img")
    with dirty.open("r+b") as f:
        f.seek(64 * MIB - 600)  # inside the backup entry array
        f.write(b"data")
    code, _, err = run([str(dirty), "16"], capsys)
    assert code == 2 and "non-zero data at LBA 131070" in err
    assert run(["--force", str(dirty), "16"], capsys)[0] == 0


def test_create_seed_image(tmp_path: Path) -> None:
    table = mkgpt.create_seed_image(tmp_path / "nvme.img")
    assert (tmp_path / "nvme.img").stat().st_size == 64 * MIB
    assert [(p.start_lba, p.end_lba, p.name) for p in table.partitions] == [
        (34, 32801, "qrv-test-p1"),
        (32802, 65569, "qrv-test-p2"),
    ]
    with pytest.raises(QrvError):
        mkgpt.create_seed_image(tmp_path / "nvme.img")


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert mkgpt.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "SIZE[:TYPE[:NAME]]" in out and "--size" in out


@pytest.mark.parametrize(
    ("n", "parts"), [("0", ["16"]), ("-1", ["16", "16"]), ("2", ["16"]), ("5", ["1", "1", "1"])]
)
def test_qrv_out_of_range_names_the_valid_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], n: str, parts: list[str]
) -> None:
    image = blank(tmp_path / "nvme.img")
    before = digest(image)
    code, out, err = run(["--qrv", n, str(image), *parts], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"qrv mkgpt: --qrv {n}: N must be between 1 and the number of partitions ({len(parts)})\n"
    )
    assert "only" not in err  # "there are only 1 partition(s)" read wrong for N = 0
    assert digest(image) == before


# --- failures leave no file behind (issue 10) -------------------------------------------


def test_a_size_no_file_can_have_is_refused_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "x.img"
    code, out, err = run(["--size", "10000000T", str(image), "16"], capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "larger than a file can be" in err, err
    assert not image.exists()


def test_a_failed_create_removes_the_file_it_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def efbig(fd: int, size: int) -> None:  # a filesystem that cannot hold 16 TiB
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))

    monkeypatch.setattr(os, "ftruncate", efbig)
    image = tmp_path / "y.img"
    code, _, err = run(["--size", "16T", str(image), "16"], capsys)
    assert code == 2 and err == f"qrv mkgpt: {image}: write failed: File too large\n"
    assert not image.exists()


def test_a_failed_grow_keeps_the_file_at_its_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    image = blank(tmp_path / "grow.img", 8 * MIB)
    real_pwrite = os.pwrite

    def enospc(fd: int, data: bytes, offset: int) -> int:
        if offset > 8 * MIB:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", enospc)
    code, _, err = run(["--size", "32M", str(image), "16"], capsys)
    assert code == 2 and "No space left on device" in err
    assert image.stat().st_size == 8 * MIB and image.read_bytes() == bytes(8 * MIB)


def test_a_dangling_symlink_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "link.img"
    link.symlink_to(tmp_path / "gone" / "target.img")
    code, _, err = run(["--size", "64M", str(link), "16"], capsys)
    assert code == 2
    assert err == (
        f"qrv mkgpt: {link}: dangling symlink (its target {tmp_path}/gone/target.img "
        "does not exist)\n"
    )


def test_an_image_of_partial_lbas_is_refused_even_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = blank(tmp_path / "odd.img", 64 * MIB + 100)
    before = digest(image)
    for args in ([str(image), "16"], ["--force", str(image), "16"]):
        code, _, err = run(args, capsys)
        assert code == 2
        assert "67108964 bytes is not a whole number of 512-byte LBAs" in err, err
    assert digest(image) == before
