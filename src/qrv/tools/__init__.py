"""qrv.tools"""
