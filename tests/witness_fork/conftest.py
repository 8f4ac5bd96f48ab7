"""The fork tests use the gateway harness of tests/integration."""

from __future__ import annotations

import sys
from pathlib import Path

_INTEGRATION = str(Path(__file__).resolve().parents[1] / "integration")
if _INTEGRATION not in sys.path:  # gateway_harness and farm_logs, shared with those tests
    sys.path.append(_INTEGRATION)
