"""What programs link against: libc (lib.c), libpci (lib.pci), libgpt (lib.gpt)."""
