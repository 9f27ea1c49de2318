"""The billing run: invoices from accepted readings, for utilities without a back office."""
