"""How every subcommand ends on an error: ``farmtrace COMMAND: message`` on stderr, an exit code."""

from __future__ import annotations

import sys

__all__ = ["fail"]


def fail(command: str, message: object, code: int = 2) -> int:
    """Print ``farmtrace COMMAND: message`` on stderr; return ``code`` (default 2, bad usage)."""
    print(f"farmtrace {command}: {message}", file=sys.stderr)
    return code
