"""qrv.servers"""
