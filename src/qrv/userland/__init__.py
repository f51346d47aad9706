"""Programs run in the system: sh and its commands (ls, cat, hexdump, dd, lspci, pidin, echo)."""
