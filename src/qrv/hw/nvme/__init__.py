"""qrv.hw.nvme"""
