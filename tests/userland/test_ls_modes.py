"""ls -l's mode string against an independent oracle, the host's ``stat.filemode``
(coreutils' letters: setuid/setgid s/S, sticky t/T), and on a mounted qrvfs."""

from __future__ import annotations

import stat as host_stat

from qrv.spec.iomsg import S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK
from qrv.userland.ls import mode_string
from tests.servers.fs_qrv.posix.conftest import Mounted, mounted, sysk
from tests.userland.shell import run

__all__ = ["mounted", "sysk"]


def test_every_mode_reads_as_the_host_shows_it() -> None:
    for kind in (S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK):
        for perms in range(0o10000):
            mode = kind | perms
            assert mode_string(mode) == host_stat.filemode(mode), oct(mode)


def test_ls_l_shows_the_sticky_bit(mounted: Mounted) -> None:
    r = run(mounted.k, "mkdir -m 1777 /mnt/t; mkdir -m 1770 /mnt/u; ls -l /mnt")
    assert r.status == 0, r.errtext
    modes = {line.split()[-1]: line.split()[0] for line in r.text.splitlines()}
    assert (modes["t"], modes["u"]) == ("drwxrwxrwt", "drwxrwx--T")
