"""e-BOK gateway: the one public API."""
