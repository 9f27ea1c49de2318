"""E-invoice consents: requests, confirmation by e-mail, withdrawal."""
