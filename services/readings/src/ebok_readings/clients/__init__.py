"""The projection of billing's contracts, a customer's export and account deletion."""
