"""Simulated farms: barn climate, feeders, water meters and birds, driven as devices."""
