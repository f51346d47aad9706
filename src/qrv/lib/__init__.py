"""qrv.lib"""
