"""Clients and their contracts, as the back office sends them."""
