"""e-BOK web: the customer portal and the operator console."""
