"""Which GPT entries devb-nvme serves (issue 10).

An entry that ends before it starts, or starts outside the usable LBAs, is
not served; one that starts inside but runs past the last usable LBA is
served clipped to it (as Linux truncates a partition beyond the end of the
disk).  Each decision is logged on one line.  Before, the first was served
with a negative size and the second past the disk's end (reads hit EIO).
"""

from __future__ import annotations

import errno
from pathlib import Path

from qrv.emu import BuiltinMachine
from qrv.lib.c import close, open, pread
from tests.lib.gpt_images import LINUX, make_disk
from tests.system.stack import booted

LBA = 512
NUM_LBAS = 8192  # 4 MiB
LAST_USABLE = NUM_LBAS - 34  # 128 entries of 128 bytes: 32 LBAs + the backup header
SIZES = (1000, 1000, 1000)  # p1 34..1033, p2 1034..2033, p3 2034..3033


def image(tmp_path: Path) -> Path:
    disk = make_disk(SIZES, num_lbas=NUM_LBAS)
    disk.entry_set(2, "ending_lba", 1000)  # p2: 1034..1000
    disk.entry_set(3, "ending_lba", 10_000_000)  # p3: 2034.. far past the disk
    disk.entry_set(4, "type_guid", LINUX.bytes_le)  # p4: 9000..9100, past the disk
    disk.entry_set(4, "starting_lba", 9000)
    disk.entry_set(4, "ending_lba", 9100)
    for lba in range(NUM_LBAS - 40, NUM_LBAS - 33):  # recognisable data in p3's last LBAs
        disk.buf[lba * LBA : lba * LBA + 8] = b"LBA%05d" % lba
    path = tmp_path / "bad.img"
    path.write_bytes(disk.buf)
    return path


def test_invalid_entries_are_not_served_and_overruns_are_clipped(tmp_path: Path) -> None:
    with booted(BuiltinMachine(image(tmp_path))) as st:
        log = st.log.splitlines()
        assert "devb-nvme: p2 not served: it ends (LBA 1000) before it starts (LBA 1034)" in log
        assert (
            "devb-nvme: p4 not served: it starts at LBA 9000, "
            f"outside the usable LBAs 34..{LAST_USABLE}"
        ) in log
        assert (
            f"devb-nvme: p3 runs past the last usable LBA {LAST_USABLE} (ends at LBA 10000000): "
            f"served as LBA 2034..{LAST_USABLE}"
        ) in log
        assert "devb-nvme: GPT with problems, 2 partition(s) served" in log
        assert not any("GPT OK" in line for line in log)
        status, out, _ = st.sh("ls /dev")
        assert status == 0
        assert [n for n in out.decode().split() if n.startswith("nvme")] == [
            "nvme0",
            "nvme0n1",
            "nvme0n1p1",
            "nvme0n1p3",
        ]
        p3_bytes = (LAST_USABLE - 2034 + 1) * LBA
        status, out, _ = st.sh("ls -l /dev/nvme0n1p3")
        assert f" {p3_bytes} " in out.decode()
        with st.kernel.adopt("client"):
            fd = open("/dev/nvme0n1p3")
            try:
                last = pread(fd, LBA, p3_bytes - LBA)  # its last LBA reads, no EIO
                assert last[:8] == b"LBA%05d" % LAST_USABLE
                assert pread(fd, LBA, p3_bytes) == b""  # and it ends there
            finally:
                close(fd)
            try:
                open("/dev/nvme0n1p2")
            except OSError as exc:
                assert exc.errno == errno.ENOENT
            else:
                raise AssertionError("p2 is served")


def test_overlapping_partitions_are_not_called_ok(tmp_path: Path) -> None:
    disk = make_disk(SIZES, num_lbas=NUM_LBAS)
    disk.entry_set(2, "starting_lba", 1000)  # p2: 1000..2033, over p1's end
    path = tmp_path / "overlap.img"
    path.write_bytes(disk.buf)
    with booted(BuiltinMachine(path)) as st:
        log = st.log.splitlines()
        assert any(line.startswith("devb-nvme: GPT problem: ") for line in log)
        assert "devb-nvme: GPT with problems, 3 partition(s) served" in log
        assert not any("GPT OK" in line for line in log)
