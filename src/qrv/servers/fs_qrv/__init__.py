"""fs-qrv: the QRV filesystem (qrvfs) served on a partition node (docs/qrvfs.md)."""
