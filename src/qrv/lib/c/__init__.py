"""qrv.lib.c"""
