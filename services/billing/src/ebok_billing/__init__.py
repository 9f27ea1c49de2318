"""e-BOK billing: clients, contracts, invoices, payments, interest and e-invoices."""
