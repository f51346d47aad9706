"""The built-in ``virt`` board: QEMU 7.2 riscv64 ``virt``'s memory map, in Python.

What it has (addresses from QEMU's hw/riscv/virt.c memmap, as seen in
reference/qemu-7.2-riscv64-virt-nvme.dts):

* RAM at 0x8000_0000 (256 MiB by default);
* a generic ECAM PCIe host bridge (``pci-host-ecam-generic``): ECAM at
  0x3000_0000 (256 MiB, buses 0-255), PIO window CPU 0x0300_0000 -> PCI 0
  (64 KiB), 32-bit MMIO window 0x4000_0000 (1 GiB, identity-mapped), 64-bit
  MMIO window 0x4_0000_0000 (16 GiB, identity-mapped);
* the host bridge's own function 00:00.0 (1b36:0008, class 060000, as QEMU's
  ``gpex-root``);
* more PCI functions through :meth:`VirtBoard.plug_pci`.

* the PLIC at 0x0C00_0000 (hw/plic.py, QEMU's register layout; contexts 0/1 are hart
  0's M/S modes); every PCI function's INTx pin reaches it through the host bridge's
  swizzle and ``interrupt-map``: source ``32 + (pin - 1 + device) % 4`` (virt.c
  ``create_pcie_irq_map``), functions sharing a source wired-OR;
* an MSI target at 0x2800_0000 (hw/msi.py: an IMSIC-style S-level interrupt file, where
  QEMU's ``aia=aplic-imsic`` puts one) that MSI/MSI-X writes from functions reach.

The device tree it emits describes the same things with the properties QEMU
writes for them, including the PLIC the PCI ``interrupt-map`` points at, plus an
``imsics`` node for the MSI target.  :attr:`VirtBoard.interrupts` is what the
kernel claims and completes interrupts through (hw/intc.py).
"""

from __future__ import annotations

from collections.abc import Callable

from qrv.errors import MachineError
from qrv.hw.bus import AddressSpace, PhysicalBus, Region
from qrv.hw.clock import VirtualClock
from qrv.hw.fdt import EMPTY, Node, build_dtb, cells, pairs, split, strings
from qrv.hw.intc import BoardInterrupts
from qrv.hw.memory import GuestRam
from qrv.hw.msi import IMSIC_PAGE, IMSIC_S_BASE, MsiTarget
from qrv.hw.pcibridge import PciBridge
from qrv.hw.pcidev import BarKind, PciFunction, PciIdentity
from qrv.hw.pcie import PcieHostBridge, Window
from qrv.hw.plic import Plic
from qrv.spec.fdt import PCI_ADDRESS_CELLS, PCI_HI_DEVICE_SHIFT, PCI_SIZE_CELLS, PciSpace
from qrv.spec.fdt import pci_phys_hi as phys_hi
from qrv.spec.interrupt import MSI_IDS
from qrv.spec.pci import (
    DEVICE_REDHAT_PCIE_HOST,
    MAX_BUS,
    MAX_DEVICE,
    MAX_FUNCTION,
    SUBSYSTEM_ID_QEMU,
    SUBSYSTEM_VENDOR_QEMU,
    VENDOR_REDHAT,
    Cfg,
    ClassCode,
)

MiB = 1 << 20
GiB = 1 << 30
PAGE_SIZE = 4096

# QEMU hw/riscv/virt.c virt_memmap[] (7.2)
RAM_BASE = 0x8000_0000
DEFAULT_RAM_SIZE = 256 * MiB
PLIC_BASE = 0x0C00_0000
PLIC_SIZE = 0x60_0000
PLIC_NDEV = 0x60  # VIRT_IRQCHIP_NUM_SOURCES
ECAM_BASE = 0x3000_0000
ECAM_SIZE = 0x1000_0000  # 256 buses x 1 MiB
PIO_BASE = 0x0300_0000
PIO_SIZE = 0x1_0000
MMIO32_BASE = 0x4000_0000
MMIO32_SIZE = 0x4000_0000
MMIO64_BASE = 0x4_0000_0000
MMIO64_SIZE = 0x4_0000_0000
MAX_RAM_SIZE = MMIO64_BASE - RAM_BASE  # RAM must end below the 64-bit window

PCIE_IRQ = 0x20  # first PLIC source of INTA..INTD (virt.c PCIE_IRQ)
PCI_NUM_PINS = 4
INTX_MAP_MASK = (0x3 << PCI_HI_DEVICE_SHIFT, 0, 0, 0x7)  # interrupt-map-mask

# phandles of the interrupt controllers (the values QEMU 7.2 gives them)
PHANDLE_CPU0 = 1
PHANDLE_CPU_INTC = 2
PHANDLE_PLIC = 3
PHANDLE_IMSIC = 4
RISCV_IRQ_S_EXT = 9  # supervisor external interrupt (RISC-V privileged spec, mip.SEIP)
RISCV_IRQ_M_EXT = 11
TIMEBASE_HZ = 10_000_000

ROOT_CELLS = 2  # #address-cells / #size-cells of / and /soc


class HostBridgeFunction(PciFunction):
    """Function 00:00.0: the host bridge's own header (QEMU hw/pci-host/gpex.c gpex-root)."""

    def __init__(self) -> None:
        class_code = int(ClassCode.BRIDGE) << 16  # 060000: host bridge
        identity = PciIdentity(
            VENDOR_REDHAT,
            DEVICE_REDHAT_PCIE_HOST,
            class_code,
            subsystem_vendor_id=SUBSYSTEM_VENDOR_QEMU,
            subsystem_id=SUBSYSTEM_ID_QEMU,
        )
        super().__init__(identity, interrupt_pin=0)


class VirtBoard:
    """The built-in board; implements :class:`qrv.hw.bus.Machine`."""

    def __init__(self, ram_size: int = DEFAULT_RAM_SIZE) -> None:
        if ram_size <= 0 or ram_size % PAGE_SIZE or ram_size > MAX_RAM_SIZE:
            raise MachineError(
                f"RAM size {ram_size:#x}: expected a positive multiple of {PAGE_SIZE} "
                f"up to {MAX_RAM_SIZE:#x}"
            )
        self.clock = VirtualClock()
        """The board's time: virtual, advanced by the kernel that runs on it."""
        self.space = AddressSpace()
        self.ram = GuestRam(ram_size)
        self.space.add(Region("ram", RAM_BASE, ram_size, ram=self.ram))
        self.pcie = PcieHostBridge(self.space, ECAM_BASE, ECAM_SIZE)
        self.windows = (
            Window("pio", PIO_BASE, 0, PIO_SIZE, BarKind.IO),
            Window("mmio32", MMIO32_BASE, MMIO32_BASE, MMIO32_SIZE, BarKind.MEM32),
            Window("mmio64", MMIO64_BASE, MMIO64_BASE, MMIO64_SIZE, BarKind.MEM64),
        )
        for window in self.windows:
            self.pcie.add_window(window)
        self.plic = Plic()
        self.space.add(Region("plic", PLIC_BASE, PLIC_SIZE, mmio=self.plic))
        self.msi = MsiTarget()
        msi_region = Region("imsic-s", IMSIC_S_BASE, IMSIC_PAGE, mmio=self.msi)
        self.space.add(msi_region)
        self.pcie.add_msi_target(msi_region)
        self.interrupts = BoardInterrupts(self.plic, self.msi)
        """The hart's external interrupt, as the kernel claims it (hw/irq.InterruptInput)."""
        self._intx_lines: dict[int, set[int]] = {}
        self.host_bridge = HostBridgeFunction()
        self.pcie.plug(self.host_bridge, dev=0)
        self._closed = False

    # -- Machine protocol ------------------------------------------------------------

    @property
    def bus(self) -> PhysicalBus:
        return self.space

    @property
    def ram_base(self) -> int:
        return RAM_BASE

    @property
    def ram_size(self) -> int:
        return self.ram.size

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    # -- wiring ----------------------------------------------------------------------

    def plug_pci(self, fn: PciFunction, dev: int, func: int = 0, bus: int = 0) -> None:
        """Plug a function into slot bus:dev.func (the bus number as software will see it)."""
        if not (0 <= bus < MAX_BUS and 0 <= dev < MAX_DEVICE and 0 <= func < MAX_FUNCTION):
            raise MachineError(f"bad PCI slot {bus:02x}:{dev:02x}.{func}")
        if (bus, dev, func) in self.pcie.functions:
            raise MachineError(f"PCI slot {bus:02x}:{dev:02x}.{func} is already taken")
        self.pcie.plug(fn, dev, func, bus)
        if bus == 0:
            self._wire_intx(fn, dev, lambda pin: pin)

    def _wire_intx(self, fn: PciFunction, dev: int, swizzle: Callable[[int], int]) -> None:
        """Connect `fn`'s INTx (and, through a bridge, its children's: plugged behind it
        before the bridge is plugged here) to the PLIC source its root slot and pin reach.
        `swizzle` maps a pin at `fn`'s bus to the pin at the root bus."""
        pin = fn.config_read(Cfg.INTERRUPT_PIN, 1)
        if 1 <= pin <= PCI_NUM_PINS:
            fn.intx = self._intx_wire(intx_source(dev, swizzle(pin)), id(fn))
        if isinstance(fn, PciBridge):
            for (child_dev, _func), child in fn.children.items():
                self._wire_intx(child, dev, _behind(swizzle, child_dev))

    def _intx_wire(self, source: int, who: int) -> Callable[[bool], None]:
        """A function's INTx wire into PLIC `source`, wired-OR with the others on it."""

        def drive(high: bool) -> None:
            drivers = self._intx_lines.setdefault(source, set())
            if high:
                drivers.add(who)
            else:
                drivers.discard(who)
            self.plic.set_irq(source, bool(drivers))

        return drive

    # -- device tree -----------------------------------------------------------------

    def device_tree(self) -> bytes:
        """The board's DTB (what QEMU's ``-machine virt,dumpdtb=`` gives for QEMU)."""
        root = Node(
            "",
            {
                "#address-cells": cells(ROOT_CELLS),
                "#size-cells": cells(ROOT_CELLS),
                "compatible": strings("riscv-virtio"),
                "model": strings("qrv,virt (built-in board)"),
            },
        )
        root.add(Node("chosen"))
        root.add(
            Node(
                f"memory@{RAM_BASE:x}",
                {
                    "device_type": strings("memory"),
                    "reg": pairs([(RAM_BASE, self.ram.size)], ROOT_CELLS, ROOT_CELLS),
                },
            )
        )
        root.add(_cpus())
        soc = root.add(
            Node(
                "soc",
                {
                    "#address-cells": cells(ROOT_CELLS),
                    "#size-cells": cells(ROOT_CELLS),
                    "compatible": strings("simple-bus"),
                    "ranges": EMPTY,
                },
            )
        )
        soc.add(_plic())
        soc.add(_imsic())
        soc.add(self._pcie_node())
        return build_dtb(root)

    def _pcie_node(self) -> Node:
        spaces = {BarKind.IO: PciSpace.IO, BarKind.MEM32: PciSpace.MEM32}
        ranges: list[int] = []
        for w in self.windows:
            hi = phys_hi(spaces.get(w.kind, PciSpace.MEM64))
            ranges += [hi, *split(w.pci_base, 2), *split(w.cpu_base, 2), *split(w.size, 2)]
        intmap: list[int] = []
        for slot in range(PCI_NUM_PINS):
            for pin in range(PCI_NUM_PINS):
                irq = PCIE_IRQ + (pin + slot) % PCI_NUM_PINS  # virt.c create_pcie_irq_map
                intmap += [slot << PCI_HI_DEVICE_SHIFT, 0, 0, pin + 1, PHANDLE_PLIC, irq]
        return Node(
            f"pci@{ECAM_BASE:x}",
            {
                "#address-cells": cells(PCI_ADDRESS_CELLS),
                "#interrupt-cells": cells(1),
                "#size-cells": cells(PCI_SIZE_CELLS),
                "compatible": strings("pci-host-ecam-generic"),
                "device_type": strings("pci"),
                "linux,pci-domain": cells(0),
                "bus-range": cells(0, MAX_BUS - 1),
                "dma-coherent": EMPTY,
                "reg": pairs([(ECAM_BASE, ECAM_SIZE)], ROOT_CELLS, ROOT_CELLS),
                "ranges": cells(*ranges),
                "interrupt-map": cells(*intmap),
                "interrupt-map-mask": cells(*INTX_MAP_MASK),
            },
        )


def _cpus() -> Node:
    intc = Node(
        "interrupt-controller",
        {
            "#interrupt-cells": cells(1),
            "interrupt-controller": EMPTY,
            "compatible": strings("riscv,cpu-intc"),
            "phandle": cells(PHANDLE_CPU_INTC),
        },
    )
    cpu = Node(
        "cpu@0",
        {
            "phandle": cells(PHANDLE_CPU0),
            "device_type": strings("cpu"),
            "reg": cells(0),
            "status": strings("okay"),
            "compatible": strings("riscv"),
            "riscv,isa": strings("rv64imafdc_zicsr_zifencei"),
            "mmu-type": strings("riscv,sv48"),
        },
        [intc],
    )
    return Node(
        "cpus",
        {
            "#address-cells": cells(1),
            "#size-cells": cells(0),
            "timebase-frequency": cells(TIMEBASE_HZ),
        },
        [cpu],
    )


def _behind(swizzle: Callable[[int], int], dev: int) -> Callable[[int], int]:
    """The root pin of INTx `pin` of device `dev` behind a bridge whose pins map by `swizzle`
    (PCI-to-PCI Bridge Spec 1.2, 9.1: pin (pin - 1 + dev) % 4 + 1 on the bridge's bus)."""
    return lambda pin: swizzle((pin - 1 + dev) % PCI_NUM_PINS + 1)


def intx_source(dev: int, pin: int) -> int:
    """The PLIC source INTx `pin` (1..4 = INTA..INTD) of a bus-0 device reaches."""
    return PCIE_IRQ + (pin - 1 + dev) % PCI_NUM_PINS


def _imsic() -> Node:
    return Node(
        f"imsics@{IMSIC_S_BASE:x}",
        {
            "phandle": cells(PHANDLE_IMSIC),
            "riscv,num-ids": cells(MSI_IDS),
            "reg": pairs([(IMSIC_S_BASE, IMSIC_PAGE)], ROOT_CELLS, ROOT_CELLS),
            "interrupts-extended": cells(PHANDLE_CPU_INTC, RISCV_IRQ_S_EXT),
            "msi-controller": EMPTY,
            "interrupt-controller": EMPTY,
            "compatible": strings("riscv,imsics"),
            "#interrupt-cells": cells(0),
        },
    )


def _plic() -> Node:
    return Node(
        f"plic@{PLIC_BASE:x}",
        {
            "phandle": cells(PHANDLE_PLIC),
            "riscv,ndev": cells(PLIC_NDEV),
            "reg": pairs([(PLIC_BASE, PLIC_SIZE)], ROOT_CELLS, ROOT_CELLS),
            "interrupts-extended": cells(
                PHANDLE_CPU_INTC, RISCV_IRQ_M_EXT, PHANDLE_CPU_INTC, RISCV_IRQ_S_EXT
            ),
            "interrupt-controller": EMPTY,
            "compatible": strings("sifive,plic-1.0.0", "riscv,plic0"),
            "#address-cells": cells(0),
            "#interrupt-cells": cells(1),
        },
    )
