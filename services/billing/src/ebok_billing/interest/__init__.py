"""Late-payment interest: the statutory rate tables, interest notes and the recovery
compensation."""
