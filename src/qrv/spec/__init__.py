"""Interfaces shared by both sides: NVMe, PCI, the /dev/pci protocol, QNX messages, GPT, FDT."""
