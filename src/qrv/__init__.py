"""qrv: the QRV v0.24 storage stack on a QNX-style microkernel personality, in Python."""

__version__ = "0.24.0"
