"""qrv.drivers.devb_nvme"""
