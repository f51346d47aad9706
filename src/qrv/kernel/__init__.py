"""qrv.kernel"""
