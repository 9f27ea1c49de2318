"""The ledger: invoices, payments and their allocation to debts (art. 451 KC), the balance."""
