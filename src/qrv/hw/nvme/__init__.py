"""The NVMe controller model: a PCIe function over image-file namespaces.

Split like QEMU's hw/nvme: ``registers`` (register file, enable checks), ``queues``,
``prp`` (data pointers), ``admin`` and ``features`` (admin command set), ``io`` (NVM
command set), ``namespace`` (storage), ``logs`` (error/SMART logs, async events),
``pci`` (identity, BAR0 layout, capabilities) and ``controller`` (the PciFunction).
"""

from qrv.hw.nvme.controller import NvmeController
from qrv.hw.nvme.namespace import Namespace, NamespaceError, namespace_ranges
from qrv.hw.nvme.state import Faults, NvmeConfig, PowerCut

__all__ = [
    "Faults",
    "Namespace",
    "NamespaceError",
    "NvmeConfig",
    "NvmeController",
    "PowerCut",
    "namespace_ranges",
]
