"""libpci: the QNX 8.0 <pci/pci.h> API over pci-server's /dev/pci (SPEC.md 3.3).

QNX names (``pci_device_find``, ``pci_device_attach``, ``PCI_BDF``,
``PCI_ERR_*``, and the types ``pci_bdf_t``, ``pci_devhdl_t``, ``pci_err_t``, ...)
are re-exported here; C out-parameters are return values
(see :mod:`qrv.lib.pci.api`).  :class:`PciDevice` and :func:`find_all` are a
Pythonic layer that raises :class:`PciLibError`.
"""

from qrv.lib.pci.api import (
    PciBa,
    PciDevHdl,
    pci_ba_t,
    pci_bdf,
    pci_capabilities,
    pci_devhdl_t,
    pci_device_attach,
    pci_device_cfg_rd8,
    pci_device_cfg_rd16,
    pci_device_cfg_rd32,
    pci_device_cfg_rd64,
    pci_device_cfg_wr8,
    pci_device_cfg_wr16,
    pci_device_cfg_wr32,
    pci_device_cfg_wr64,
    pci_device_detach,
    pci_device_find,
    pci_device_find_capid,
    pci_device_find_capid_next,
    pci_device_info,
    pci_device_is_multi_func,
    pci_device_owners,
    pci_device_read_ba,
    pci_device_read_capid,
    pci_device_read_ccode,
    pci_device_read_clsize,
    pci_device_read_cmd,
    pci_device_read_did,
    pci_device_read_hdrType,
    pci_device_read_irq,
    pci_device_read_latency,
    pci_device_read_revid,
    pci_device_read_ssid,
    pci_device_read_ssvid,
    pci_device_read_status,
    pci_device_read_vid,
    pci_device_write_cmd,
)
from qrv.lib.pci.device import PciDevice, PciLibError, find_all, pci_strerror
from qrv.lib.pci.msix import (
    PciCap,
    cap_msix_get_nirq,
    cap_msix_mask_irq_entry,
    cap_msix_set_nirq,
    cap_msix_unmask_irq_entry,
    pci_cap_t,
    pci_device_cfg_cap_disable,
    pci_device_cfg_cap_enable,
    pci_device_read_cap,
    pci_reqType_e_ADVISORY,
    pci_reqType_e_MANDATORY,
)
from qrv.lib.pci.transport import disconnect as pci_disconnect
from qrv.spec.pci_msg import (
    PCI_BDF,
    PCI_BDF_NONE,
    PCI_BUS,
    PCI_CCODE,
    PCI_CCODE_ANY,
    PCI_CCODE_CLASS,
    PCI_CCODE_REG_IF,
    PCI_CCODE_REG_IF_ANY,
    PCI_CCODE_SUBCLASS,
    PCI_CCODE_SUBCLASS_ANY,
    PCI_DEV,
    PCI_DID_ANY,
    PCI_FUNC,
    PCI_VID_ANY,
    AsAttr,
    AsType,
    PciAttachFlags,
    PciErr,
    pci_attachFlags_DEFAULT,
    pci_attachFlags_EXCLUSIVE_OWNER,
    pci_attachFlags_MULTI_OWNER,
    pci_attachFlags_OWNER,
    pci_attachFlags_t,
    pci_bdf_t,
    pci_ccode_t,
    pci_did_t,
    pci_err_t,
    pci_irq_t,
    pci_vid_t,
)

# QNX spellings of the enum members
PCI_ERR_OK = PciErr.OK
PCI_ERR_EINVAL = PciErr.EINVAL
PCI_ERR_ENODEV = PciErr.ENODEV
PCI_ERR_ENOENT = PciErr.ENOENT
PCI_ERR_EIO = PciErr.EIO
PCI_ERR_NOT_OWNER = PciErr.NOT_OWNER
PCI_ERR_ATTACH_LIMIT = PciErr.ATTACH_LIMIT
PCI_ERR_ATTACH_EXCLUSIVE = PciErr.ATTACH_EXCLUSIVE
PCI_ERR_ATTACH_SHARED = PciErr.ATTACH_SHARED
PCI_ERR_ATTACH_OWNED = PciErr.ATTACH_OWNED
PCI_ERR_ASPACE_NOT_AVAIL = PciErr.ASPACE_NOT_AVAIL
PCI_ERR_ASPACE_INVALID = PciErr.ASPACE_INVALID
PCI_ERR_CFG_ACCESS = PciErr.CFG_ACCESS
PCI_ERR_IRQ_NOT_AVAIL = PciErr.IRQ_NOT_AVAIL
PCI_ERR_CAP_ENOTSUP = PciErr.CAP_ENOTSUP
PCI_ERR_CAP_NIRQ = PciErr.CAP_NIRQ
PCI_ERR_MSI_ENABLED = PciErr.MSI_ENABLED
PCI_ERR_MSIX_ENABLED = PciErr.MSIX_ENABLED
PCI_ERR_SERVER_NOT_AVAILABLE = PciErr.SERVER_NOT_AVAILABLE
pci_attachFlags_e_SHARED = PciAttachFlags.SHARED
pci_attachFlags_e_EXCLUSIVE = PciAttachFlags.EXCLUSIVE
pci_attachFlags_e_OWNER = PciAttachFlags.OWNER
pci_attachFlags_e_MULTI = PciAttachFlags.MULTI
pci_attachFlags_e_DETACH_DISCONNECT = PciAttachFlags.DETACH_DISCONNECT
pci_attachFlags_e_FULL_CONFIG_ACCESS = PciAttachFlags.FULL_CONFIG_ACCESS
PCI_INIT_BASE0 = PciAttachFlags.INIT_BASE0
PCI_INIT_BASE1 = PciAttachFlags.INIT_BASE1
PCI_INIT_BASE2 = PciAttachFlags.INIT_BASE2
PCI_INIT_BASE3 = PciAttachFlags.INIT_BASE3
PCI_INIT_BASE4 = PciAttachFlags.INIT_BASE4
PCI_INIT_BASE5 = PciAttachFlags.INIT_BASE5
PCI_MASTER_ENABLE = PciAttachFlags.MASTER_ENABLE
PCI_INIT_IRQ = PciAttachFlags.INIT_IRQ
PCI_USE_MSIX = PciAttachFlags.USE_MSIX
pci_asType_e_NONE = AsType.NONE
pci_asType_e_MEM = AsType.MEM
pci_asType_e_IO = AsType.IO

__all__ = [
    "PCI_BDF",
    "PCI_BDF_NONE",
    "PCI_BUS",
    "PCI_CCODE",
    "PCI_CCODE_ANY",
    "PCI_CCODE_CLASS",
    "PCI_CCODE_REG_IF",
    "PCI_CCODE_REG_IF_ANY",
    "PCI_CCODE_SUBCLASS",
    "PCI_CCODE_SUBCLASS_ANY",
    "PCI_DEV",
    "PCI_DID_ANY",
    "PCI_ERR_ASPACE_INVALID",
    "PCI_ERR_ASPACE_NOT_AVAIL",
    "PCI_ERR_ATTACH_EXCLUSIVE",
    "PCI_ERR_ATTACH_LIMIT",
    "PCI_ERR_ATTACH_OWNED",
    "PCI_ERR_ATTACH_SHARED",
    "PCI_ERR_CAP_ENOTSUP",
    "PCI_ERR_CAP_NIRQ",
    "PCI_ERR_CFG_ACCESS",
    "PCI_ERR_EINVAL",
    "PCI_ERR_EIO",
    "PCI_ERR_ENODEV",
    "PCI_ERR_ENOENT",
    "PCI_ERR_IRQ_NOT_AVAIL",
    "PCI_ERR_MSIX_ENABLED",
    "PCI_ERR_MSI_ENABLED",
    "PCI_ERR_NOT_OWNER",
    "PCI_ERR_OK",
    "PCI_ERR_SERVER_NOT_AVAILABLE",
    "PCI_FUNC",
    "PCI_INIT_BASE0",
    "PCI_INIT_BASE1",
    "PCI_INIT_BASE2",
    "PCI_INIT_BASE3",
    "PCI_INIT_BASE4",
    "PCI_INIT_BASE5",
    "PCI_INIT_IRQ",
    "PCI_MASTER_ENABLE",
    "PCI_USE_MSIX",
    "PCI_VID_ANY",
    "AsAttr",
    "AsType",
    "PciAttachFlags",
    "PciBa",
    "PciCap",
    "PciDevHdl",
    "PciDevice",
    "PciErr",
    "PciLibError",
    "cap_msix_get_nirq",
    "cap_msix_mask_irq_entry",
    "cap_msix_set_nirq",
    "cap_msix_unmask_irq_entry",
    "find_all",
    "pci_asType_e_IO",
    "pci_asType_e_MEM",
    "pci_asType_e_NONE",
    "pci_attachFlags_DEFAULT",
    "pci_attachFlags_EXCLUSIVE_OWNER",
    "pci_attachFlags_MULTI_OWNER",
    "pci_attachFlags_OWNER",
    "pci_attachFlags_e_DETACH_DISCONNECT",
    "pci_attachFlags_e_EXCLUSIVE",
    "pci_attachFlags_e_FULL_CONFIG_ACCESS",
    "pci_attachFlags_e_MULTI",
    "pci_attachFlags_e_OWNER",
    "pci_attachFlags_e_SHARED",
    "pci_attachFlags_t",
    "pci_ba_t",
    "pci_bdf",
    "pci_bdf_t",
    "pci_cap_t",
    "pci_capabilities",
    "pci_ccode_t",
    "pci_devhdl_t",
    "pci_device_attach",
    "pci_device_cfg_cap_disable",
    "pci_device_cfg_cap_enable",
    "pci_device_cfg_rd8",
    "pci_device_cfg_rd16",
    "pci_device_cfg_rd32",
    "pci_device_cfg_rd64",
    "pci_device_cfg_wr8",
    "pci_device_cfg_wr16",
    "pci_device_cfg_wr32",
    "pci_device_cfg_wr64",
    "pci_device_detach",
    "pci_device_find",
    "pci_device_find_capid",
    "pci_device_find_capid_next",
    "pci_device_info",
    "pci_device_is_multi_func",
    "pci_device_owners",
    "pci_device_read_ba",
    "pci_device_read_cap",
    "pci_device_read_capid",
    "pci_device_read_ccode",
    "pci_device_read_clsize",
    "pci_device_read_cmd",
    "pci_device_read_did",
    "pci_device_read_hdrType",
    "pci_device_read_irq",
    "pci_device_read_latency",
    "pci_device_read_revid",
    "pci_device_read_ssid",
    "pci_device_read_ssvid",
    "pci_device_read_status",
    "pci_device_read_vid",
    "pci_device_write_cmd",
    "pci_did_t",
    "pci_disconnect",
    "pci_err_t",
    "pci_irq_t",
    "pci_reqType_e_ADVISORY",
    "pci_reqType_e_MANDATORY",
    "pci_strerror",
    "pci_vid_t",
]
