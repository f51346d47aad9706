"""qrv.servers.pci"""
