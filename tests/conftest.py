"""Test-wide pytest configuration."""

from __future__ import annotations

import sys
from pathlib import Path

# Test helpers that live in tests/ itself (e.g. merkle_reference, the naive
# RFC 6962 tree) are imported by name from test files anywhere below; tests/
# has no __init__.py, so put it on the import path explicitly.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)
