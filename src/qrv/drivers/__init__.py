"""qrv.drivers"""
