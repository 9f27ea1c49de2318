"""e-BOK readings: meters, readings and garden-meter requests."""
