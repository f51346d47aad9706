"""qrv.userland"""
