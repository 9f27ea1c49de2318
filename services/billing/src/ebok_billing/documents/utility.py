"""The utility as its documents name it: seller, bank account prefix, KSeF link base.

Apart from ``pdf`` so that what only passes it along (the settings, payments, the use cases)
does not import fpdf: about 0.5 s CPU of every billing process's start-up, needed only by a
process that renders a document (``rendering`` imports ``pdf`` on the first one).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Utility:
    name: str
    street: str
    postal_code: str
    city: str
    nip: str
    bank_prefix: str
    ksef_qr_base: str
    transfer_recipient: str = "MPWiK Warszawa"
