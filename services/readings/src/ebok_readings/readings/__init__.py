"""Readings: a meter's readings (the customer's, the back office's), their rules and
plausibility, consumption."""
