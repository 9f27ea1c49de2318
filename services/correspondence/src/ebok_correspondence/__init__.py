"""e-BOK correspondence: customers' letters, complaints and failure reports."""
