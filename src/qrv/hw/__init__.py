"""qrv.hw"""
