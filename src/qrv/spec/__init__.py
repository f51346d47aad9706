"""qrv.spec"""
