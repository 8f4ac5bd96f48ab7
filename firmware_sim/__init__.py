"""farmtrace firmware_sim (see README)."""
