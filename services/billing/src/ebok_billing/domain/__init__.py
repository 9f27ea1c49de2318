"""Billing's rules: pure functions and values, no I/O (one module per area)."""
