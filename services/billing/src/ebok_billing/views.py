"""JSON shapes of billing's answers. Amounts are strings with two decimals; texts meant for
people (labels, descriptions) are Polish."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from .common.money import amount, describe_balance, format_pln, rate
from .interest.compensation import LEGAL_BASIS as COMPENSATION_BASIS
from .interest.compensation import Compensation, EurRate
from .interest.notes import compensation_working
from .interest.rates import InterestKind
from .ledger.domain import (
    Balance,
    CompensationState,
    InvoiceStatus,
    Lines,
    NoteFacts,
    OverdueInvoice,
    client_bank_account,
)
from .payments.domain import BalanceTransfer
from .payments.payment_orders import OrderStatus

ZERO = Decimal("0.00")


def _address(r: Any) -> dict[str, str]:
    return {"street": r["street"], "postal_code": r["postal_code"], "city": r["city"]}


# A status as SQL gives it (``STATUS_SQL``) -> its label: looked up, not built as an enum
# member, for each row of every list.
_STATUS_LABELS = {status.value: status.label for status in InvoiceStatus}


def invoice_item(r: Any) -> dict[str, Any]:
    """An invoice as a list shows it, from a row with all of its columns (Decimal amounts)."""
    outstanding = max(r["gross"] - r["amount_paid"], ZERO) if not r["corrected"] else ZERO
    return _item(
        r,
        amount(r["net"]),
        amount(r["vat"]),
        amount(r["gross"]),
        amount(r["amount_paid"]),
        amount(outstanding),
    )


def invoice_list_item(r: Any) -> dict[str, Any]:
    """The same as ``invoice_item``, from a row of ``ledger.repository.LIST_COLUMNS``: its
    amounts, ``outstanding`` too, already the text the answer carries."""
    return _item(r, r["net"], r["vat"], r["gross"], r["amount_paid"], r["outstanding"])


def _item(
    r: Any, net: str, vat: str, gross: str, amount_paid: str, outstanding: str
) -> dict[str, Any]:
    status = r["status"]
    return {
        "invoice_number": r["invoice_number"],
        "issue_date": r["issue_date"].isoformat(),
        "due_date": r["due_date"].isoformat(),
        "period": {"from": r["period_from"].isoformat(), "to": r["period_to"].isoformat()},
        "net": net,
        "vat": vat,
        "gross": gross,
        "amount_paid": amount_paid,
        "outstanding": outstanding,
        "status": status,
        "status_label": _STATUS_LABELS[status],
        "ksef_number": r["ksef_number"],
        "corrects": r["corrects"],
        "delivery": r["delivery"],
    }


def invoice_detail(
    r: Any,
    payments: list[Any],
    corrections: list[str],
    notes: list[Any],
    bank_prefix: str,
    pdf_path: str,
    today: date | None = None,
) -> dict[str, Any]:
    return {
        **invoice_item(r),
        "client_number": r["client_number"],
        "contract_number": r["contract_number"],
        "vat_rate": rate(r["vat_rate"]),
        "lines": invoice_lines(r),
        "payments": [
            {"paid_on": p["paid_on"].isoformat(), "amount": amount(p["amount"])} for p in payments
        ],
        "corrected_by": corrections,
        "interest_notes": [note(n, today) for n in notes],
        "bank_account": client_bank_account(bank_prefix, r["client_number"]),
        "pdf": pdf_path,
    }


def invoice_lines(r: Any) -> list[dict[str, Any]]:
    """What the invoice charges, line by line (as printed on it)."""
    lines = Lines(
        r["water_m3"],
        r["water_price"],
        r["sewage_m3"],
        r["sewage_price"],
        r["subscription_net"],
        r["vat_rate"],
    )
    return [
        {
            "kind": "water",
            "name": "Dostawa wody",
            "quantity": f"{lines.water_m3:.3f}",
            "unit": "m3",
            "unit_price": f"{lines.water_price.normalize():f}",
            "net": amount(r["water_net"]),
        },
        {
            "kind": "sewage",
            "name": "Odprowadzanie ścieków",
            "quantity": f"{lines.sewage_m3:.3f}",
            "unit": "m3",
            "unit_price": f"{lines.sewage_price.normalize():f}",
            "net": amount(r["sewage_net"]),
        },
        {
            "kind": "subscription",
            "name": "Opłata abonamentowa",
            "quantity": "1",
            "unit": "okres",
            "unit_price": amount(r["subscription_net"]),
            "net": amount(r["subscription_net"]),
        },
    ]


def payment(p: Any) -> dict[str, Any]:
    """A payment and what it paid: invoices' principal or interest notes (art. 451 KC)."""
    allocations = p["allocations"]
    if isinstance(allocations, str):
        allocations = json.loads(allocations)
    return {
        "payment_id": p["payment_id"],
        "invoice_number": p["invoice_number"],  # the invoice the payer named
        "paid_on": p["paid_on"].isoformat(),
        "amount": amount(p["amount"]),
        "posted_at": p["posted_at"].isoformat(),
        "allocated_to": [
            {
                "invoice_number": a["invoice_number"],
                "note_number": a["note_number"],
                "amount": amount(Decimal(a["amount"])),
            }
            for a in allocations
        ],
    }


_REASONS = {"late-payment": "wpłata po terminie", "on-demand": "zaległość na dzień noty"}


_NOTE_STATUS = {
    "unpaid": "nieopłacona",
    "partly_paid": "opłacona częściowo",
    "paid": "opłacona",
    "overdue": "po terminie płatności",
}


def _note_status(total: Decimal, paid: Decimal, payable_by: date, today: date | None) -> str:
    if paid >= total:
        return "paid"
    if today is not None and payable_by < today:
        return "overdue"
    return "partly_paid" if paid > 0 else "unpaid"


def _compensation_text(c: Compensation) -> str:
    return f"{c.text} ({COMPENSATION_BASIS})"


def _rates_in_period_order(periods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each annual rate the note applied with the days it applied to, in the order of the
    periods (a rate that comes back later is listed again: it is another period)."""
    return [
        {"from": p["from"], "to": p["to"], "annual_rate_percent": p["annual_rate_percent"]}
        for p in periods
    ]


def note(n: Any, today: date | None = None) -> dict[str, Any]:
    """An interest note: interest with its working, the recovery compensation charged on
    it (if any) with its working, what it charges in all, and what is paid of it."""
    kind = InterestKind(n["kind"])
    periods = n["periods"]
    comp = compensation_working(n)
    if comp is not None:
        rate_ = EurRate(n["compensation_rate_date"], n["compensation_rate"], comp["rate_table"])
        charged = Compensation(n["compensation_eur"], rate_, n["compensation_pln"])
        comp["text"] = _compensation_text(charged)
        comp["legal_basis"] = COMPENSATION_BASIS
    paid = n["amount_paid"]
    total = n["total"]
    status = _note_status(total, paid, n["payable_by"], today)
    return {
        "note_number": n["note_number"],
        "invoice_number": n["invoice_number"],
        "issue_date": n["issue_date"].isoformat(),
        "reason": n["reason"],
        "reason_label": _REASONS[n["reason"]],
        "period": {"from": periods[0]["from"], "to": n["interest_to"].isoformat()},
        "days": n["days_late"],
        "principal": amount(n["principal"]),
        "due_date": n["due_date"].isoformat(),
        "kind": kind.value,
        "kind_label": kind.polish_name,
        "legal_basis": kind.legal_basis,
        "rates": _rates_in_period_order(periods),
        "periods": periods,
        "amount": amount(n["amount"]),
        "amount_text": f"odsetki {format_pln(n['amount'])}",
        "recovery_compensation": comp,
        "total": amount(total),
        "total_text": (
            f"razem do zapłaty z noty {format_pln(total)} "
            f"(odsetki {format_pln(n['amount'])}"
            + (f" + rekompensata {format_pln(n['compensation_pln'])})" if comp else ")")
        ),
        "payable_by": n["payable_by"].isoformat(),
        "amount_paid": amount(min(paid, total)),
        "outstanding": amount(max(total - paid, ZERO)),
        "status": status,
        "status_label": _NOTE_STATUS[status],
    }


def _position(value: Decimal) -> dict[str, Any]:
    """An amount said without ambiguity: what it means, never a bare signed number."""
    v = value.quantize(Decimal("0.01"))
    position = "due" if v > 0 else "overpaid" if v < 0 else "settled"
    return {"position": position, "amount": amount(abs(v)), "text": describe_balance(v)}


def _compensation_state(c: CompensationState | None) -> dict[str, Any] | None:
    if c is None:
        return None
    if c.charged_on is not None:
        return {
            "state": "charged",
            "note_number": c.charged_on,
            "text": f"rekompensata za koszty odzyskiwania należności naliczona w nocie "
            f"{c.charged_on}",
        }
    if c.due is not None:
        return {
            "state": "due",
            "eur": amount(c.due.eur),
            "eur_pln_rate": f"{c.due.rate.eur_pln:.4f}",
            "rate_date": c.due.rate.rate_date.isoformat(),
            "rate_table": c.due.rate.table_number,
            "pln": amount(c.due.pln),
            "text": f"należna przy zapłacie (naliczana w nocie odsetkowej): "
            f"{_compensation_text(c.due)}",
        }
    return {"state": "rate-missing", "text": c.missing}


def _overdue(o: OverdueInvoice, today: date, kind: InterestKind) -> dict[str, Any]:
    s = o.settlement
    calc = o.interest.outstanding_interest if o.interest is not None else None
    interest: dict[str, Any] = {"available": o.interest is not None}
    comp = o.compensation.due if o.compensation else None
    comp_part = f", {format_pln(comp.pln)} rekompensaty" if comp else ""
    if o.interest is not None:
        accrued = o.accrued_to_today or ZERO
        to_pay = o.to_pay_today
        interest.update(
            {
                "days_late": calc.days_late if calc else 0,
                "periods": [
                    {
                        "from": p.start.isoformat(),
                        "to": p.end.isoformat(),
                        "days": p.days,
                        "annual_rate_percent": rate(p.annual_rate_percent),
                        "amount": amount(p.amount_display),
                    }
                    for p in (calc.periods if calc else ())
                ],
                "accrued_to_today": amount(accrued),
                "accrued_to_today_text": f"odsetki naliczone do dziś: {format_pln(accrued)}",
                "to_pay_if_paid_today": None if to_pay is None else amount(to_pay),
                "to_pay_if_paid_today_text": (
                    f"przy zapłacie dziś: {format_pln(s.outstanding)} należności, "
                    f"{format_pln(accrued)} odsetek{comp_part}, razem {format_pln(to_pay)}"
                    if to_pay is not None
                    else "kwoty przy zapłacie dziś nie można podać: brak kursu EUR NBP "
                    "do przeliczenia rekompensaty"
                ),
            }
        )
    else:
        interest["reason"] = "Brak stopy referencyjnej NBP dla okresu zaległości."
    return {
        "invoice_number": s.invoice_number,
        "due_date": s.due_date.isoformat(),
        "days_late": (today - s.due_date).days,
        "gross": amount(s.gross),
        "paid": amount(s.paid),
        "outstanding": amount(s.outstanding),
        "outstanding_text": f"zaległość {format_pln(s.outstanding)}",
        "interest_kind": kind.value,
        "interest_kind_label": kind.polish_name,
        "legal_basis": kind.legal_basis,
        "interest": interest,
        "recovery_compensation": _compensation_state(o.compensation),
    }


def _overdue_note(n: NoteFacts, today: date) -> dict[str, Any]:
    return {
        "note_number": n.note_number,
        "invoice_number": n.invoice_number,
        "payable_by": n.payable_by.isoformat(),
        "days_late": (today - n.payable_by).days,
        "total": amount(n.total),
        "paid": amount(min(n.paid, n.total)),
        "outstanding": amount(n.outstanding),
        "outstanding_text": f"zaległość z noty odsetkowej {format_pln(n.outstanding)}",
    }


def _to_pay_today(b: Balance, position: dict[str, Any]) -> dict[str, Any]:
    """The headline with what paying today also costs: the balance (``position``, as
    ``_position`` says it), the interest still accruing on overdue invoices (no note charges
    it yet) and recovery compensations due."""
    due = b.to_pay_today
    interest, compensation = b.accruing_interest, b.compensation_due
    parts = {
        "balance": position,
        "accruing_interest": None if interest is None else amount(interest),
        "recovery_compensation": None if compensation is None else amount(compensation),
    }
    if due is None:
        return {
            **parts,
            "available": False,
            "amount": None,
            "text": "kwoty do zapłaty dziś z odsetkami nie można podać: brak stopy "
            "referencyjnej NBP lub kursu EUR NBP dla zaległej faktury",
        }
    text = f"do zapłaty dziś z odsetkami: {format_pln(due)}"
    if interest or compensation:
        text += f" ({describe_balance(b.balance)}"
        text += f", odsetki naliczone do dziś {format_pln(interest or ZERO)}"
        if compensation:
            text += f", rekompensata {format_pln(compensation)}"
        text += ")"
    return {**parts, "available": True, "amount": amount(due), "text": text}


def balance(client_number: str, b: Balance, today: date, kind: InterestKind) -> dict[str, Any]:
    overdue_amount = b.overdue_amount
    position = _position(b.balance)  # said twice, the same: made once (written, never changed)
    notes_total = amount(b.notes_total)
    return {
        "client_number": client_number,
        "as_of": today.isoformat(),
        "balance": position,
        "to_pay_today": _to_pay_today(b, position),
        "invoices_total": amount(b.invoices_total),
        "interest_notes_total": notes_total,
        "payments_total": amount(b.payments_total),
        "formula": "faktury + noty odsetkowe (odsetki i rekompensaty) − wpłaty",
        "overdue": {
            "amount": amount(overdue_amount),
            "text": (
                f"zaległość po terminie: {format_pln(overdue_amount)}"
                if overdue_amount
                else "brak zaległości po terminie"
            ),
            "invoices": [_overdue(o, today, kind) for o in b.overdue],
            "interest_notes": [_overdue_note(n, today) for n in b.overdue_notes],
        },
        "interest_notes": {
            "count": len(b.notes),
            "total": notes_total,
            "interest": amount(b.notes_total - b.compensation_total),
            "recovery_compensation": amount(b.compensation_total),
            "paid": amount(b.notes_paid),
            "outstanding": amount(b.notes_outstanding),
        },
    }


def contract_document_path(number: str) -> str:
    """The contract's document under the API base, the number percent-encoded as one path
    segment: a contract number holds "/" (U/100002/2023), and the link must work as given."""
    return f"/me/contracts/{quote(number, safe='')}/document"


def contract(r: Any, document_path: str) -> dict[str, Any]:
    terminated = r["terminated_on"]
    return {
        "contract_number": r["contract_number"],
        "concluded_on": r["concluded_on"].isoformat(),
        "status": "terminated" if terminated else "active",
        "status_label": "rozwiązana" if terminated else "obowiązująca",
        "terminated_on": terminated.isoformat() if terminated else None,
        "meter_serials": list(r["meter_serials"]),
        "supply_address": _address(r),
        "tariff_group": r["tariff_group"],
        "document": document_path,
    }


_ACTIONS = {
    "requested": "zgłoszenie adresu (oczekuje na potwierdzenie)",
    "confirmed": "potwierdzenie adresu",
    "withdrawn": "wycofanie zgody",
}


def e_invoice(
    client: Any, consent: Any, pending: Any, history: list[Any], message: str | None
) -> dict[str, Any]:
    if client["kind"] == "business":
        return {
            "applies": False,
            "status": "not-applicable",
            "email": None,
            "pending": None,
            "message": message,
            "history": [],
        }
    status = consent["status"] if consent else "none"
    return {
        "applies": True,
        "status": status,
        "status_label": {
            "none": "brak zgody",
            "accepted": "zgoda udzielona",
            "withdrawn": "zgoda wycofana",
        }[status],
        "email": consent["email"] if consent else None,
        "delivery": "e-mail" if status == "accepted" else "paper",
        "pending": None
        if pending is None
        else {
            "email": pending["email"],
            "purpose": pending["purpose"],
            "expires_at": pending["expires_at"].isoformat(),
        },
        "history": [
            {
                "at": h["at"].isoformat(),
                "action": h["action"],
                "action_label": _ACTIONS[h["action"]],
                "email": h["email"],
                "source": h["source"],
            }
            for h in history
        ],
    }


def invoice_summary(r: Any) -> dict[str, Any]:
    """The internal view other services read (notifier, auth)."""
    return {
        "invoice_number": r["invoice_number"],
        "client_number": r["client_number"],
        "issue_date": r["issue_date"].isoformat(),
        "due_date": r["due_date"].isoformat(),
        "net": amount(r["net"]),
        "vat": amount(r["vat"]),
        "gross": amount(r["gross"]),
        "amount_paid": amount(r["amount_paid"]),
        "status": r["status"],
        "ksef_number": r["ksef_number"],
        "delivery": r["delivery"],
        "e_invoice_email": r["e_invoice_email"],
    }


def client_summary(r: Any, consent: Any, active_contracts: int) -> dict[str, Any]:
    accepted = consent is not None and consent["status"] == "accepted"
    return {
        "client_number": r["client_number"],
        "name": r["name"],
        "kind": r["kind"],
        "nip": r["nip"],
        "email": r["email"],
        "address": _address(r),
        "active_contracts": active_contracts,
        "e_invoice": {
            "status": consent["status"] if consent else "none",
            "email": consent["email"] if accepted else None,
        },
    }


def balance_transfer(
    client_number: str, t: BalanceTransfer, today: date, being_booked: Decimal
) -> dict[str, Any]:
    """The transfer that pays the balance today, with its QR payload (ZBP 2D standard);
    ``being_booked``: online payments paid and not yet posted by the back office."""
    qr = t.qr
    return {
        "client_number": client_number,
        "as_of": today.isoformat(),
        "being_booked": amount(being_booked),
        "available": qr is not None,
        "reason": t.reason,
        "amount": None if t.amount is None else amount(t.amount),
        "invoices": list(t.invoices),
        "interest_notes": list(t.notes),
        "transfer": None
        if qr is None
        else {
            "recipient": qr.recipient,
            "nip": qr.nip,
            "account": qr.account,
            "title": qr.title,
            "amount": amount(qr.amount),
            "amount_in_code": qr.amount_fits,
            "qr_payload": qr.payload(),
        },
    }


def payment_order(r: Any) -> dict[str, Any]:
    status = OrderStatus(r["status"])
    return {
        "order_id": str(r["order_id"]),
        "status": status.value,
        "status_label": status.label,
        "scope": r["scope"],
        "amount": amount(r["amount"]),
        "invoice_numbers": list(r["invoice_numbers"]),
        "note_numbers": list(r["note_numbers"]),
        "created_at": r["created_at"].isoformat(),
        "paid_at": r["paid_at"].isoformat() if r["paid_at"] else None,
        "booked": bool(r["booked"]),
        "booking_text": ("zaksięgowana" if r["booked"] else "w trakcie księgowania")
        if status == OrderStatus.PAID
        else None,
        # Where the customer pays: only while the order waits for the payment.
        "redirect_uri": r["redirect_uri"] if status == OrderStatus.PENDING else None,
    }


def orphan_payment(r: Any) -> dict[str, Any]:
    return {
        "payment_id": r["payment_id"],
        "client_number": r["client_number"],
        "invoice_number": r["invoice_number"],
        "paid_on": r["paid_on"].isoformat(),
        "amount": amount(r["amount"]),
        "title": r["title"],
    }
