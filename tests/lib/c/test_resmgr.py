"""resmgr/iofunc/dispatch and the POSIX client calls, against QNX's documented behaviour."""

from __future__ import annotations

import errno
import time

import pytest

from qrv.lib.c import (
    close,
    devctl,
    fstat,
    ipc,
    listdir,
    lseek,
    open,
    opendir,
    pread,
    pthread_create,
    pwrite,
    read,
    readdir,
    stat,
    write,
)
from qrv.lib.c.dispatch import dispatch_context_alloc, dispatch_create, dispatch_loop
from qrv.lib.c.iofunc import IofuncAttr, iofunc_attr_init, iofunc_func_init
from qrv.lib.c.msg import IoRead
from qrv.lib.c.resmgr import (
    RESMGR_NOREPLY,
    ResmgrConnectFuncs,
    ResmgrIoFuncs,
    resmgr_attach,
    resmgr_detach,
)
from qrv.spec.iomsg import (
    DCMD_ALL_GETFLAGS,
    DCMD_ALL_SETFLAGS,
    DEVDIR_FROM,
    O_APPEND,
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    S_IFBLK,
    S_IFDIR,
    S_IFMT,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
    dcmd,
)
from tests.kernel.system import KQueue
from tests.lib.c.memfs import BLOCK_RO, memfs

T = 5.0
PROCNTO_DEVICES = ["null", "zero"]
"""What /dev lists with no server: procnto's own character devices."""
DATA = bytes(range(256)) * 8


def serve(k, files, uid: int = 0) -> int:
    pid = k.spawn(memfs(files), ["memfs"], uid=uid)
    assert k.wait_ready(pid, None, T)
    return pid


def errno_of(call) -> int:
    with pytest.raises(OSError) as ei:
        call()
    return ei.value.errno


def test_open_read_pread_lseek_stat_close(sysk) -> None:
    k, _ = sysk
    serve(k, {"/dev/blob": (BLOCK_RO, DATA)})
    with k.adopt("client"):
        fd = open("/dev/blob")
        assert read(fd, 10) == DATA[:10]
        assert read(fd, 5) == DATA[10:15]
        assert pread(fd, 4, 1000) == DATA[1000:1004]
        assert read(fd, 1) == DATA[15:16]  # pread did not move the offset
        assert lseek(fd, -6, SEEK_END) == len(DATA) - 6
        assert read(fd, 100) == DATA[-6:]
        assert read(fd, 100) == b""
        assert lseek(fd, 3, SEEK_SET) == 3 and lseek(fd, 2, SEEK_CUR) == 5
        assert errno_of(lambda: lseek(fd, -1, SEEK_SET)) == errno.EINVAL
        assert errno_of(lambda: lseek(fd, 0, 7)) == errno.EINVAL
        st = fstat(fd)
        assert (st.size, st.mode, st.nlink, st.uid, st.gid) == (len(DATA), BLOCK_RO, 1, 0, 0)
        assert stat("/dev/blob") == st
        close(fd)
        assert errno_of(lambda: read(fd, 1)) == errno.EBADF
        assert errno_of(lambda: open("/dev/none")) == errno.ENOENT


def test_access_checks_use_client_credentials(sysk) -> None:
    k, _ = sysk
    serve(k, {"/dev/secret": (S_IFBLK | 0o400, b"x"), "/dev/pub": (S_IFBLK | 0o444, b"y")})
    with k.adopt("user", uid=100, gid=100):
        assert errno_of(lambda: open("/dev/secret")) == errno.EACCES
        assert errno_of(lambda: open("/dev/pub", O_WRONLY)) == errno.EACCES
        assert stat("/dev/secret").mode == S_IFBLK | 0o400  # stat needs no access
        fd = open("/dev/pub")
        assert read(fd, 1) == b"y"
    with k.adopt("root"):
        fd = open("/dev/secret", O_RDWR)  # euid 0 passes
        assert read(fd, 1) == b"x"


def test_read_on_write_only_ocb_is_ebadf_and_write_path(sysk) -> None:
    k, _ = sysk
    serve(k, {"/dev/ram": (S_IFBLK | 0o666, bytes(16))})
    with k.adopt("c"):
        fd = open("/dev/ram", O_WRONLY)
        assert errno_of(lambda: read(fd, 1)) == errno.EBADF
        assert write(fd, b"abc") == 3
        ro = open("/dev/ram")
        assert read(ro, 5) == b"abc\0\0"
        assert errno_of(lambda: write(ro, b"z")) == errno.EBADF


def test_pwrite_keeps_the_offset_and_o_append_writes_at_the_end(sysk) -> None:
    """iofunc_write_at: pwrite leaves the OCB's offset; O_APPEND starts at attr.nbytes
    (here 8 of the 16 bytes held, as a file whose size is 8) whatever the offset."""
    k, _ = sysk
    pid = k.spawn(memfs({"/dev/ram": (S_IFBLK | 0o666, bytes(16))}, {"/dev/ram": 8}), ["m"])
    assert k.wait_ready(pid, None, T)
    with k.adopt("c"):
        fd = open("/dev/ram", O_RDWR)
        assert pwrite(fd, b"xy", 4) == 2
        assert write(fd, b"ab") == 2  # at the OCB's offset 0, not after the pwrite
        assert read(fd, 6) == b"\0\0xy\0\0"
        app = open("/dev/ram", O_WRONLY | O_APPEND)
        assert pwrite(app, b"Z", 0) == 1  # appends, as Linux's pwrite on O_APPEND
        assert lseek(app, 0, SEEK_CUR) == 9
        assert pread(fd, 16, 0) == b"ab\0\0xy\0\0Z" + bytes(7)


def test_devctl_flags_and_unknown(sysk) -> None:
    k, _ = sysk
    serve(k, {"/dev/blob": (BLOCK_RO, DATA)})
    with k.adopt("c"):
        fd = open("/dev/blob", O_RDONLY | O_NONBLOCK)
        flags = int.from_bytes(devctl(fd, DCMD_ALL_GETFLAGS), "little")
        assert flags == O_RDONLY | O_NONBLOCK
        devctl(fd, DCMD_ALL_SETFLAGS, O_APPEND.to_bytes(4, "little"))
        assert int.from_bytes(devctl(fd, DCMD_ALL_GETFLAGS), "little") == O_APPEND
        unknown = dcmd(DEVDIR_FROM, 0x42, 1, 4)
        assert errno_of(lambda: devctl(fd, unknown)) == errno.ENOSYS


def test_dev_is_a_synthesised_directory_listing_names(sysk) -> None:
    k, _ = sysk
    serve(k, {"/dev/b": (BLOCK_RO, b""), "/dev/a": (BLOCK_RO, b""), "/x/y": (BLOCK_RO, b"")})
    with k.adopt("c"):
        st = stat("/dev")
        assert (st.mode & S_IFMT, st.mode & 0o777, st.nlink) == (S_IFDIR, 0o555, 2)
        assert sorted(listdir("/dev")) == ["a", "b", "null", "zero"]  # procnto: null, zero
        assert sorted(listdir("/")) == ["dev", "x"]
        d = opendir("/x")
        assert readdir(d) == "y" and readdir(d) is None
        assert errno_of(lambda: open("/dev", O_WRONLY)) == errno.EISDIR


def test_resmgr_attach_semantics(sysk) -> None:
    k, _ = sysk
    with k.adopt("srv"):
        dpp = dispatch_create()
        assert resmgr_attach(dpp, None, None, 0, 0, None, None, None) == 0
        assert dpp.chid > 0 and listdir("/dev") == PROCNTO_DEVICES
        connect, io = iofunc_func_init()
        attr = IofuncAttr()
        iofunc_attr_init(attr, BLOCK_RO)
        first = resmgr_attach(dpp, None, "/dev/q", 0, 0, connect, io, attr)
        second = resmgr_attach(dpp, None, "/dev/q", 0, 0, connect, io, attr)
        assert first >= 1 and second != first  # QNX unions a second server at a name
        assert k.paths.resolve("/dev/q")[0].handle == second  # newest first
        resmgr_detach(dpp, first)
        assert errno_of(lambda: resmgr_detach(dpp, first)) == errno.EINVAL
        resmgr_detach(dpp, second)
        assert listdir("/dev") == PROCNTO_DEVICES
        third = resmgr_attach(dpp, None, "/dev/q", 0, 0, connect, io, attr)
        assert third not in (first, second) and listdir("/dev") == ["null", "q", "zero"]
    with k.adopt("user", uid=5):
        dpp = dispatch_create()
        assert (
            errno_of(lambda: resmgr_attach(dpp, None, "/dev/u", 0, 0, connect, io, attr))
            == errno.EPERM
        )


def test_names_vanish_when_the_server_dies_and_clients_get_errors(sysk) -> None:
    k, _ = sysk
    pid = serve(k, {"/dev/blob": (BLOCK_RO, DATA)})
    with k.adopt("c"):
        fd = open("/dev/blob")
        k.exit_process(k.process(pid), -11, crashed=True)
        assert listdir("/dev") == PROCNTO_DEVICES
        assert errno_of(lambda: read(fd, 1)) == errno.EBADF  # stale connection
        assert errno_of(lambda: open("/dev/blob")) == errno.ENOENT
        close(fd)  # closing a stale fd still frees it
        assert errno_of(lambda: close(fd)) == errno.EBADF


def test_handler_results_noreply_oserror_and_empty_slot(sysk) -> None:
    k, _ = sysk
    pending: KQueue[int] = KQueue()

    def late_read(ctp, msg, ocb):
        pending.put(ctp.rcvid)
        return RESMGR_NOREPLY  # the client stays REPLY-blocked

    def bad_lseek(ctp, msg, ocb):
        raise OSError(errno.ENOSPC, "full")

    def replier() -> None:
        ipc.MsgReply(pending.get(timeout=T), 4, b"late")  # answered later, by another thread

    def server(argv: list[str]) -> int:
        dpp = dispatch_create()
        connect, io = iofunc_func_init()
        io.read, io.lseek, io.stat = late_read, bad_lseek, None
        attr = IofuncAttr()
        iofunc_attr_init(attr, BLOCK_RO)
        resmgr_attach(dpp, None, "/dev/slow", 0, 0, connect, io, attr)
        pthread_create(replier)
        dispatch_loop(dpp)
        return 0

    pid = k.spawn(server, ["slow"])
    assert k.wait_ready(pid, "/dev/slow", T)
    with k.adopt("client"):
        fd = open("/dev/slow")
        assert read(fd, 4) == b"late"
        assert errno_of(lambda: lseek(fd, 0, SEEK_SET)) == errno.ENOSPC
        assert errno_of(lambda: fstat(fd)) == errno.ENOSYS  # empty slot


def test_connect_funcs_without_open_is_enosys(sysk) -> None:
    k, _ = sysk

    def server(argv: list[str]) -> int:
        dpp = dispatch_create()
        attr = IofuncAttr()
        iofunc_attr_init(attr, BLOCK_RO)
        resmgr_attach(dpp, None, "/dev/n", 0, 0, ResmgrConnectFuncs(), ResmgrIoFuncs(), attr)
        dispatch_context_alloc(dpp)
        dispatch_loop(dpp)
        return 0

    pid = k.spawn(server, ["n"])
    assert k.wait_ready(pid, "/dev/n", T)
    with k.adopt("c"):
        # ENOSYS falls through to the next server; none is left, so the error stays ENOSYS
        assert errno_of(lambda: open("/dev/n")) == errno.ENOSYS


def test_client_death_closes_its_ocbs_and_unbound_io_is_ebadf(sysk) -> None:
    k, _ = sysk
    attr = IofuncAttr()

    def server(argv: list[str]) -> int:
        dpp = dispatch_create()
        connect, io = iofunc_func_init()
        iofunc_attr_init(attr, BLOCK_RO)
        resmgr_attach(dpp, None, "/dev/c", 0, 0, connect, io, attr)
        dispatch_loop(dpp)
        return 0

    spid = k.spawn(server, ["srv"])
    assert k.wait_ready(spid, "/dev/c", T)

    def leaky(argv: list[str]) -> int:
        open("/dev/c")
        open("/dev/c")
        return 0  # exits without close: the kernel's disconnect makes the resmgr close them

    assert k.waitpid(k.spawn(leaky, ["leaky"]), T) == 0
    deadline = time.monotonic() + T
    while attr.count and time.monotonic() < deadline:
        time.sleep(0.005)
    assert attr.count == 0
    with k.adopt("raw"):
        coid = ipc.ConnectAttach(0, spid, k.paths.resolve("/dev/c")[0].chid)
        assert errno_of(lambda: ipc.MsgSend(coid, IoRead(4).pack())) == errno.EBADF
        assert (
            errno_of(lambda: ipc.MsgSend(coid, b"\x01")) == errno.EBADMSG
        )  # shorter than its type
