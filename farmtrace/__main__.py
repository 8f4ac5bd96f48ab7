"""``python -m farmtrace``: the same as the ``farmtrace`` command."""

import sys

from farmtrace.cli import main

sys.exit(main())
