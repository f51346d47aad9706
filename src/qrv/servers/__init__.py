"""Servers: resource managers the boot starts (pci-server)."""
