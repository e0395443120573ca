from __future__ import annotations

import sys

from hadaemon.cli import main

sys.exit(main())
