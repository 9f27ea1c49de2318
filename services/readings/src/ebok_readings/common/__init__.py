"""What readings' sub-domains share: values (``values``: m³, dates, numbers) and the
connection and row types every repository takes (``connection``)."""
