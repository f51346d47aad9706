"""pci-server: hwinfo discovery, enumeration, BAR assignment, the /dev/pci resource manager."""

from qrv.servers.pci.main import main

__all__ = ["main"]
