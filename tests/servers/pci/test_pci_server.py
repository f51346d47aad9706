"""pci-server end to end on the built-in board, through libpci (the way drivers reach it)."""

from __future__ import annotations

import errno
import io

import pytest

from qrv.hw.board import VirtBoard
from qrv.hw.fdt import Node, build_dtb, cells, pairs
from qrv.kernel import Kernel, Stdio
from qrv.lib import pci
from qrv.servers.pci import main as pci_server
from qrv.spec.pci import Cfg, Command, Type1
from tests.kernel.system import KEvent
from tests.servers.pci.pcibus import (
    IO_WINDOW,
    MARK,
    MEM32_WINDOW,
    MEM64_WINDOW,
    nvme_like,
    populated_board,
    running,
)

ANY = (pci.PCI_VID_ANY, pci.PCI_DID_ANY, pci.PCI_CCODE_ANY)
B = pci.PCI_BDF


class NoPciMachine:
    """A machine whose device tree has memory but no PCIe host bridge."""

    def __init__(self) -> None:
        self.board = VirtBoard(ram_size=1 << 20)

    @property
    def bus(self):  # type: ignore[no-untyped-def]
        return self.board.bus

    ram_base = 0x8000_0000
    ram_size = 1 << 20

    def device_tree(self) -> bytes:
        root = Node("", {"#address-cells": cells(2), "#size-cells": cells(2)})
        root.add(Node("memory@80000000", {"reg": pairs([(0x8000_0000, 1 << 20)], 2, 2)}))
        return build_dtb(root)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("machine", [None, NoPciMachine()], ids=["no-machine", "no-pcie-node"])
def test_no_host_bridge_exits_enodev(machine: NoPciMachine | None) -> None:
    out = io.BytesIO()
    kernel = Kernel(machine, stdio=Stdio(io.BytesIO(), out, out))  # type: ignore[arg-type]
    try:
        kernel.load_hwinfo()
        pid = kernel.spawn(pci_server, ["pci-server"])
        assert kernel.waitpid(pid, timeout=10) == errno.ENODEV
    finally:
        kernel.shutdown()
    assert b"ECAM: no PCIe host bridge in syspage hwinfo" in out.getvalue()


def test_no_server_means_server_not_available() -> None:
    kernel = Kernel(VirtBoard(ram_size=1 << 20))
    try:
        with kernel.adopt("client"):
            assert pci.pci_device_find(0, *ANY) == pci.PCI_BDF_NONE
            assert pci.pci_device_read_vid(0) == (pci.PCI_ERR_SERVER_NOT_AVAILABLE, 0)
            assert pci.pci_device_attach(0, 0) == (None, pci.PCI_ERR_SERVER_NOT_AVAILABLE)
    finally:
        kernel.shutdown()


def test_enumeration_finds_every_function() -> None:
    board, _ = populated_board()
    with running(board, ["pci-server", "-v"]) as (kernel, _pid, out), kernel.adopt("client"):
        found = list(pci.find_all())
        assert found == [B(0, 0, 0), B(0, 1, 0), B(0, 2, 0), B(0, 2, 1), B(0, 3, 0), B(1, 0, 0)]
        assert pci.pci_device_read_vid(B(1, 0, 0)) == (pci.PCI_ERR_OK, 0x1AF4)
        assert pci.pci_device_is_multi_func(B(0, 2, 0))
        assert not pci.pci_device_is_multi_func(B(0, 1, 0))
        # the bridge got bus numbers: primary 0, secondary 1, subordinate 1
        assert pci.pci_device_cfg_rd32(B(0, 3, 0), Type1.PRIMARY_BUS)[1] & 0xFFFFFF == 0x010100
        assert pci.pci_device_read_vid(B(0, 4, 1)) == (pci.PCI_ERR_ENODEV, 0)
    assert b"6 function(s)" in out.getvalue()


def test_find_by_class_and_ids_with_wildcards() -> None:
    board, _ = populated_board()
    with running(board) as (kernel, _pid, _out), kernel.adopt("client"):
        nvme = pci.PCI_CCODE(0x01, 0x08, pci.PCI_CCODE_REG_IF_ANY)
        assert pci.pci_device_find(0, pci.PCI_VID_ANY, pci.PCI_DID_ANY, nvme) == B(0, 1, 0)
        assert pci.pci_device_find(1, pci.PCI_VID_ANY, pci.PCI_DID_ANY, nvme) == pci.PCI_BDF_NONE
        net = pci.PCI_CCODE(0x02, pci.PCI_CCODE_SUBCLASS_ANY, pci.PCI_CCODE_REG_IF_ANY)
        assert list(pci.find_all(ccode=net)) == [B(0, 2, 0), B(1, 0, 0)]
        assert list(pci.find_all(vid=0x8086)) == [B(0, 2, 0), B(0, 2, 1)]
        assert list(pci.find_all(vid=0x8086, did=0x1235)) == [B(0, 2, 1)]
        assert list(pci.find_all(vid=0x8086, ccode=pci.PCI_CCODE(2, 0, 0))) == [B(0, 2, 0)]


def test_bars_inside_windows_aligned_and_disjoint() -> None:
    board, fns = populated_board()
    windows = {pci.AsType.IO: [IO_WINDOW], pci.AsType.MEM: [MEM32_WINDOW, MEM64_WINDOW]}
    names = {B(0, 1, 0): "nvme", B(0, 2, 0): "f0", B(0, 2, 1): "f1", B(1, 0, 0): "behind"}
    reported: list[tuple[str, int, int]] = []
    with running(board) as (kernel, _pid, _out), kernel.adopt("client"):
        spans = []
        for bdf in pci.find_all():
            err, _irq, bas = pci.pci_device_info(bdf)
            assert err is pci.PCI_ERR_OK
            for ba in bas:
                assert ba.addr % ba.size == 0 or ba.type is pci.AsType.IO
                assert any(b <= ba.addr and ba.addr + ba.size <= b + s for b, s in windows[ba.type])
                spans.append((ba.type, ba.addr, ba.addr + ba.size))
                reported.append((names[bdf], ba.bar_num, ba.addr))
        # every implemented BAR got an address: 1 + 2 + 2 + 1
        assert len(spans) == 6
        for i, (t1, a1, e1) in enumerate(spans):
            for t2, a2, e2 in spans[i + 1 :]:
                assert t1 != t2 or e1 <= a2 or e2 <= a1, "overlapping BARs"
    # the BAR registers (read through the model) hold what the server reports
    for name, bar, addr in reported:
        pci_addr = addr - IO_WINDOW[0] if fns[name].bars[bar].kind.value == "io" else addr
        assert fns[name].bar_address(bar) == pci_addr
    assert not fns["nvme"].memory_enabled  # decode stays off until a driver attaches


def test_attach_with_init_flags_enables_decode_and_mastering() -> None:
    board = VirtBoard(ram_size=1 << 20)
    nvme = nvme_like()
    board.plug_pci(nvme, dev=1)
    with running(board) as (kernel, _pid, _out), kernel.adopt("devb-nvme"):
        bdf = pci.pci_device_find(0, pci.PCI_VID_ANY, pci.PCI_DID_ANY, pci.PCI_CCODE(1, 8, 2))
        hdl, err = pci.pci_device_attach(bdf, pci.PCI_INIT_BASE0 | pci.PCI_MASTER_ENABLE)
        assert err is pci.PCI_ERR_OK and hdl is not None
        err, bas = pci.pci_device_read_ba(hdl)
        assert err is pci.PCI_ERR_OK
        (ba,) = bas
        # QEMU's firmware-less virt: the first BAR lands at the start of the 32-bit window
        assert (ba.addr, ba.size, ba.bar_num, ba.type) == (0x4000_0000, 0x4000, 0, pci.AsType.MEM)
        assert ba.is_64bit and not ba.prefetchable and ba.enabled
        cmd = pci.pci_device_read_cmd(bdf)[1]
        assert cmd & Command.MEMORY_SPACE and cmd & Command.BUS_MASTER
        assert board.bus.load(ba.addr + 0x10, 4) == MARK | 0x10
        assert pci.pci_device_read_irq(hdl) == (pci.PCI_ERR_OK, [0x21])  # slot 1 INTA (dts)
        assert nvme.config[Cfg.INTERRUPT_LINE] == 0x21


class Holder:
    """A client process that attaches, then stays alive (holding the attach) until released."""

    def __init__(self, kernel: Kernel, bdf: int, flags: int) -> None:
        self.attached = KEvent()
        self.release = KEvent()
        self.result: tuple[object, pci.PciErr] | None = None
        self.bdf, self.flags = bdf, flags
        self.pid = kernel.spawn(self.run, ["holder"])
        self.kernel = kernel
        assert self.attached.wait(10)

    def run(self, argv: list[str]) -> int:
        self.result = pci.pci_device_attach(self.bdf, self.flags)
        self.attached.set()
        self.release.wait(10)
        return 0

    def stop(self) -> None:
        self.release.set()
        assert self.kernel.waitpid(self.pid, timeout=10) == 0


def test_attach_rules() -> None:
    board, _ = populated_board()
    nvme = B(0, 1, 0)
    with running(board) as (kernel, _pid, _out):
        holder = Holder(kernel, nvme, pci.pci_attachFlags_EXCLUSIVE_OWNER)
        assert holder.result is not None and holder.result[1] is pci.PCI_ERR_OK
        with kernel.adopt("b"):
            assert pci.pci_device_attach(nvme, 0)[1] is pci.PCI_ERR_ATTACH_EXCLUSIVE
            assert pci.pci_device_attach(B(9, 0, 0), 0)[1] is pci.PCI_ERR_ENODEV
            bad = pci.pci_attachFlags_EXCLUSIVE_OWNER | pci.pci_attachFlags_e_MULTI
            assert pci.pci_device_attach(B(0, 2, 0), bad)[1] is pci.PCI_ERR_EINVAL
            multi_alone = pci.pci_attachFlags_e_MULTI
            assert pci.pci_device_attach(B(0, 2, 0), multi_alone)[1] is pci.PCI_ERR_EINVAL
            shared, err = pci.pci_device_attach(B(0, 2, 0), pci.pci_attachFlags_e_SHARED)
            assert shared is not None
            excl_req = pci.pci_attachFlags_EXCLUSIVE_OWNER
            assert pci.pci_device_attach(B(0, 2, 0), excl_req)[1] is pci.PCI_ERR_ATTACH_SHARED
            owner, err = pci.pci_device_attach(B(0, 2, 0), pci.pci_attachFlags_DEFAULT)
            assert owner is not None
            again = pci.pci_device_attach(B(0, 2, 0), pci.pci_attachFlags_DEFAULT)
            assert again[1] is pci.PCI_ERR_ATTACH_OWNED
            # MULTI only works when the first owner set it too
            assert pci.pci_device_attach(B(0, 2, 0), pci.pci_attachFlags_MULTI_OWNER)[1] is (
                pci.PCI_ERR_ATTACH_OWNED
            )
            multi, _ = pci.pci_device_attach(B(0, 2, 1), pci.pci_attachFlags_MULTI_OWNER)
            co, err = pci.pci_device_attach(B(0, 2, 1), pci.pci_attachFlags_MULTI_OWNER)
            assert multi is not None and co is not None and err is pci.PCI_ERR_OK
            assert pci.pci_device_attach(B(0, 2, 1), pci.pci_attachFlags_DEFAULT)[1] is (
                pci.PCI_ERR_ATTACH_OWNED
            )
            assert pci.pci_device_detach(owner) is pci.PCI_ERR_OK
            assert pci.pci_device_detach(owner) is pci.PCI_ERR_EINVAL
            after, err = pci.pci_device_attach(B(0, 2, 0), pci.pci_attachFlags_DEFAULT)
            assert after is not None
        holder.stop()  # its exit releases the exclusive attach
        with kernel.adopt("c"):
            assert pci.pci_device_attach(nvme, 0)[1] is pci.PCI_ERR_OK


def test_owner_only_operations() -> None:
    board, fns = populated_board()
    f0 = B(0, 2, 0)
    with running(board) as (kernel, _pid, _out):
        holder = Holder(kernel, f0, pci.pci_attachFlags_DEFAULT)
        assert holder.result is not None
        theirs = holder.result[0]
        assert isinstance(theirs, pci.PciDevHdl)
        with kernel.adopt("sharer"):
            shared, _ = pci.pci_device_attach(f0, pci.pci_attachFlags_e_SHARED)
            assert shared is not None
            assert pci.pci_device_cfg_wr8(shared, Cfg.CACHE_LINE_SIZE, 8)[0] is (
                pci.PCI_ERR_NOT_OWNER
            )
            assert pci.pci_device_write_cmd(shared, 0x6)[0] is pci.PCI_ERR_NOT_OWNER
            assert pci.pci_device_read_ba(shared) == (pci.PCI_ERR_NOT_OWNER, [])
            assert pci.pci_device_read_irq(shared) == (pci.PCI_ERR_NOT_OWNER, [])
            # another client's handle is not ours to use
            assert pci.pci_device_write_cmd(theirs, 0x6)[0] is pci.PCI_ERR_EINVAL
            assert pci.pci_device_read_clsize(f0) == (pci.PCI_ERR_OK, 0)  # reads need no attach
        holder.stop()
        with kernel.adopt("owner"):
            owner, _ = pci.pci_device_attach(f0, pci.pci_attachFlags_DEFAULT)
            assert owner is not None
            assert pci.pci_device_cfg_wr8(owner, Cfg.CACHE_LINE_SIZE, 8) == (pci.PCI_ERR_OK, 8)
            assert pci.pci_device_cfg_wr32(owner, Cfg.BAR0, 0)[0] is pci.PCI_ERR_CFG_ACCESS
            assert pci.pci_device_cfg_wr16(owner, 3, 1)[0] is pci.PCI_ERR_EINVAL  # misaligned
            err, cmd = pci.pci_device_write_cmd(owner, Command.MEMORY_SPACE | Command.IO_SPACE)
            assert err is pci.PCI_ERR_OK and cmd == Command.MEMORY_SPACE | Command.IO_SPACE
    assert fns["f0"].config[Cfg.CACHE_LINE_SIZE] == 8
    assert fns["f0"].memory_enabled and fns["f0"].io_enabled


def test_client_exit_detaches() -> None:
    board, _ = populated_board()

    def holder(argv: list[str]) -> int:
        hdl, _err = pci.pci_device_attach(B(0, 1, 0), pci.pci_attachFlags_EXCLUSIVE_OWNER)
        return 0 if hdl is not None else 1

    with running(board) as (kernel, _pid, _out):
        pid = kernel.spawn(holder, ["holder"])
        assert kernel.waitpid(pid, timeout=10) == 0
        with kernel.adopt("next"):
            _hdl, err = pci.pci_device_attach(B(0, 1, 0), pci.pci_attachFlags_EXCLUSIVE_OWNER)
            assert err is pci.PCI_ERR_OK


def test_config_reads() -> None:
    board, _ = populated_board()
    with running(board) as (kernel, _pid, _out), kernel.adopt("client"):
        nvme = B(0, 1, 0)
        assert pci.pci_device_cfg_rd32(nvme, 0) == (pci.PCI_ERR_OK, 0x0010_1B36)
        # status 0x0010 (capability list, PCI 3.0 6.2.3), command 0, device 0010, vendor 1b36
        assert pci.pci_device_cfg_rd64(nvme, 0) == (pci.PCI_ERR_OK, 0x0010_0000_0010_1B36)
        assert pci.pci_device_cfg_rd32(nvme, 8) == (pci.PCI_ERR_OK, 0x0108_0202)
        assert pci.pci_device_read_ccode(nvme) == (pci.PCI_ERR_OK, 0x010802)
        assert pci.pci_device_read_revid(nvme) == (pci.PCI_ERR_OK, 2)
        assert pci.pci_device_read_ssvid(nvme) == (pci.PCI_ERR_OK, 0x1AF4)
        assert pci.pci_device_read_ssid(nvme) == (pci.PCI_ERR_OK, 0x1100)
        assert pci.pci_device_read_hdrType(B(0, 3, 0)) == (pci.PCI_ERR_OK, 1)
        assert pci.pci_device_read_latency(nvme) == (pci.PCI_ERR_OK, 0)
        assert pci.pci_device_cfg_rd16(nvme, 1) == (pci.PCI_ERR_EINVAL, 0)
        assert pci.pci_device_cfg_rd32(nvme, 4096) == (pci.PCI_ERR_EINVAL, 0)
        assert pci.pci_device_find_capid(nvme, 0x11) == 0
        assert pci.pci_device_find_capid(nvme, 0x10) == 1
        assert pci.pci_device_find_capid(nvme, 0x05) == -1
        assert pci.pci_device_find_capid_next(nvme, 0x11, 0) == -1
        assert pci.pci_device_read_capid(nvme, 1) == (pci.PCI_ERR_OK, 0x10)
        assert pci.pci_device_read_capid(nvme, 2)[0] is pci.PCI_ERR_ENOENT


def test_device_behind_bridge_is_reachable_after_attach() -> None:
    board, fns = populated_board()
    with running(board) as (kernel, _pid, _out), kernel.adopt("drv"):
        hdl, err = pci.pci_device_attach(B(1, 0, 0), pci.PCI_INIT_BASE1)
        assert hdl is not None, err
        (ba,) = pci.pci_device_read_ba(hdl)[1]
        assert ba.bar_num == 1 and ba.size == 0x4000
        assert board.bus.load(ba.addr + 8, 4) == MARK | 1 << 12 | 8
        assert pci.pci_device_attach(B(0, 2, 1), pci.PCI_INIT_BASE0)[1] is (
            pci.PCI_ERR_ASPACE_INVALID
        )
    assert fns["bridge"].memory_enabled
