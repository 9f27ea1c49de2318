"""E-invoices by e-mail (terms III.c): the rules of a household's consent. Pure."""

from __future__ import annotations

import hashlib
from datetime import timedelta

# How long the link e-mailed to confirm an address is valid.
CONFIRMATION_VALID = timedelta(days=7)
BUSINESS_E_INVOICE = (
    "Dla klientów prowadzących działalność gospodarczą (z numerem NIP) fakturą jest faktura "
    "ustrukturyzowana wystawiana w Krajowym Systemie e-Faktur (KSeF) — to ona jest dokumentem "
    "wiążącym prawnie i jest dostępna w KSeF. Zgoda na e-fakturę e-mailem dotyczy wyłącznie "
    "klientów indywidualnych (gospodarstw domowych)."
)


def token_hash(token: str) -> str:
    """Only the hash of a confirmation token is kept; the token itself goes by e-mail."""
    return hashlib.sha256(token.encode()).hexdigest()
