"""Clients and their contracts: the shapes billing keeps and the rules their fields follow.

Pure: no I/O. The feed's rows are these values plus the line they came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

CLIENT_NUMBER_RE = re.compile(r"^\d{6}$")
INVOICE_NUMBER_RE = re.compile(r"^\d{10,20}$")
CONTRACT_NUMBER_RE = re.compile(r"^[A-Z0-9/-]{3,40}$")
METER_SERIAL_RE = re.compile(r"^[A-Z0-9-]{3,30}$")
POSTAL_CODE_RE = re.compile(r"^\d{2}-\d{3}$")
NIP_RE = re.compile(r"^\d{10}$")
KSEF_NUMBER_RE = re.compile(r"^\d{10}-\d{8}-[0-9A-F]{12}-[0-9A-F]{2}$")
KSEF_HASH_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256, no padding
NOTE_NUMBER_RE = re.compile(r"^NO/\d{10,20}/\d{2}$")

_NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


def valid_nip(nip: str) -> bool:
    """A Polish tax id: ten digits, the last a mod-11 checksum of the others."""
    if not NIP_RE.match(nip):
        return False
    check = sum(int(d) * w for d, w in zip(nip, _NIP_WEIGHTS, strict=False)) % 11
    return check != 10 and check == int(nip[9])


def nip_with_checksum(first_nine: str) -> str | None:
    """Complete nine digits to a valid NIP (None when no check digit fits)."""
    check = sum(int(d) * w for d, w in zip(first_nine, _NIP_WEIGHTS, strict=True)) % 11
    return None if check == 10 else first_nine + str(check)


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    postal_code: str
    city: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientData:
    """A client as billing keeps it."""

    client_number: str
    name: str
    kind: str  # household | business
    nip: str | None
    email: str | None
    address: Address


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractData:
    """A contract as billing keeps it."""

    contract_number: str
    client_number: str
    concluded_on: date
    terminated_on: date | None
    address: Address
    tariff_group: str
    meter_serials: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Buyer:
    """The buyer as an invoice keeps it: the client's data on the day of issue."""

    name: str
    street: str
    postal_code: str
    city: str
    nip: str | None
