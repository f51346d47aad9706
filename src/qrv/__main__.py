"""`python -m qrv` is the `qrv` command."""

import sys

from qrv.cli import main

sys.exit(main())
