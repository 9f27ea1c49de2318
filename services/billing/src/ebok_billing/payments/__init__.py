"""Paying: the transfer QR code, online payment orders and the payment provider (PayU)."""
