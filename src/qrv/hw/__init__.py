"""The machines: physical address space, RAM, PCIe, the NVMe model, the built-in board and QEMU."""
