"""farmtrace consumer_web (see README)."""
