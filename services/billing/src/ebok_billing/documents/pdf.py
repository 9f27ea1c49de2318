"""Printable documents: an invoice (the original an e-invoice e-mail carries, or the copy,
"ODPIS", a customer downloads from the portal) and the contract document.

Deterministic: the same data gives the same bytes (fixed creation date and file id, the
packaged DejaVu fonts embedded, so Polish letters print on any machine).
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib import resources
from typing import Any

import segno
from fpdf import FPDF

from ..common.money import format_pln
from ..ledger.domain import Lines, client_bank_account
from ..payments.transfer_qr import TransferQr
from .utility import Utility

_FONTS = resources.files("ebok_billing") / "fonts"
FONT = "DejaVu"
# Latin with Polish letters, ³, no-break space and typographic punctuation: loading only
# these code points makes each document several times faster to build.
_RANGES = ["U+0020-007E", "U+00A0-017F", "U+2010-2027", "U+2030-203A", "U+20AC"]


class _Document(FPDF):
    def __init__(self, doc_id: str, created: date, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._doc_id = hashlib.md5(doc_id.encode(), usedforsecurity=False).hexdigest().upper()
        self.set_creation_date(datetime.combine(created, time(12, 0), tzinfo=UTC))
        self.set_producer("e-BOK")
        self.set_creator("e-BOK")
        self.set_title(title)
        self.set_lang("pl")
        with resources.as_file(_FONTS / "DejaVuSans.ttf") as regular:
            self.add_font(FONT, "", str(regular), unicode_range=_RANGES)
        with resources.as_file(_FONTS / "DejaVuSans-Bold.ttf") as bold:
            self.add_font(FONT, "B", str(bold), unicode_range=_RANGES)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)
        self.add_page()

    def file_id(self) -> str:
        return f"<{self._doc_id}><{self._doc_id}>"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 7)
        self.set_text_color(110)
        self.cell(0, 4, f"Strona {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0)

    def text_line(self, text: str, size: float = 9, style: str = "", h: float = 4.6) -> None:
        self.set_font(FONT, style, size)
        self.multi_cell(0, h, text, new_x="LMARGIN", new_y="NEXT")

    def block(self, x: float, y: float, w: float, heading: str, lines: list[str]) -> float:
        self.set_xy(x, y)
        self.set_font(FONT, "B", 8)
        self.set_text_color(90)
        self.cell(w, 4.5, heading.upper(), new_x="LEFT", new_y="NEXT")
        self.set_text_color(0)
        self.set_font(FONT, "", 9.5)
        for line in lines:
            self.set_x(x)
            self.multi_cell(w, 4.8, line, new_x="LEFT", new_y="NEXT")
        return self.get_y()


def _dmy(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _qty(value: Decimal) -> str:
    return f"{value:,.3f}".replace(",", " ").replace(".", ",")


def _price(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    whole, _, frac = text.partition(".")
    return f"{whole},{(frac + '00')[: max(2, len(frac))]}"


def ksef_qr_url(utility: Utility, issue_date: date, ksef_hash: str) -> str:
    """KSeF verification link (KOD I): seller NIP, issue date, the invoice file's hash."""
    return f"{utility.ksef_qr_base}/{utility.nip}/{issue_date:%d-%m-%Y}/{ksef_hash}"


def _qr_png(data: str) -> io.BytesIO:
    png = io.BytesIO()
    segno.make(data, error="m").save(png, kind="png", scale=4, border=2)
    png.seek(0)
    return png


def _transfer_qr(pdf: _Document, transfer: TransferQr) -> None:
    """The transfer QR code (ZBP 2D standard) with what it holds said beside it."""
    if pdf.get_y() + 36 > pdf.h - 18:
        pdf.add_page()
    y = pdf.get_y()
    pdf.image(_qr_png(transfer.payload()), x=15, y=y, w=32, h=32)
    pdf.set_xy(52, y + 2)
    pdf.set_font(FONT, "B", 9)
    pdf.cell(0, 4.6, "Zapłać kodem QR", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "", 8.5)
    amount = (
        f"na kwotę {format_pln(transfer.amount)}"
        if transfer.amount_fits
        else f"bez kwoty (wpisz {format_pln(transfer.amount)} sam — kod mieści do 9 999,99 zł)"
    )
    pdf.multi_cell(
        140,
        4.4,
        "Zeskanuj kod w aplikacji swojego banku: wypełni przelew na rachunek indywidualny "
        f"({transfer.recipient}, NIP {transfer.nip}) {amount}, tytuł „{transfer.title}”.",
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_y(y + 36)


def invoice_document(inv: Any, client: Any, utility: Utility, *, copy: bool) -> bytes:
    """One invoice as issued, never its later payment status: the original (``copy`` false,
    what an e-invoice is) or the copy stamped "ODPIS" (the customer's download).

    ``client`` is the buyer as on the day of issue (the snapshot kept on the invoice:
    client_number, name, street, postal_code, city, nip), never the client as now."""
    number = inv["invoice_number"]
    title = "Faktura VAT korygująca" if inv["corrects"] else "Faktura VAT"
    document_title = f"Odpis faktury {number}" if copy else f"{title} nr {number}"
    pdf = _Document(f"invoice:{number}:{copy}", inv["issue_date"], document_title)
    pdf.alias_nb_pages()
    if copy:
        pdf.set_font(FONT, "B", 22)
        pdf.set_text_color(160, 0, 0)
        pdf.cell(60, 10, "ODPIS")
        pdf.set_text_color(0)
    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 10, f"{title} nr {number}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    meta = [
        f"Data wystawienia: {_dmy(inv['issue_date'])}",
        f"Okres rozliczeniowy: {_dmy(inv['period_from'])} – {_dmy(inv['period_to'])}",
        f"Termin płatności: {_dmy(inv['due_date'])}",
    ]
    if inv["corrects"]:
        meta.append(f"Korekta faktury nr {inv['corrects']}")
    for line in meta:
        pdf.cell(0, 4.8, line, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    top = pdf.get_y()
    seller = [
        utility.name,
        utility.street,
        f"{utility.postal_code} {utility.city}",
        f"NIP {utility.nip}",
    ]
    buyer = [client["name"], client["street"], f"{client['postal_code']} {client['city']}"]
    if client["nip"]:
        buyer.append(f"NIP {client['nip']}")
    buyer.append(f"Numer klienta: {client['client_number']}")
    end_left = pdf.block(15, top, 85, "Sprzedawca", seller)
    end_right = pdf.block(110, top, 85, "Nabywca", buyer)
    pdf.set_xy(15, max(end_left, end_right) + 3)
    pdf.text_line(f"Umowa nr {inv['contract_number']}", 9)
    pdf.ln(2)

    lines = Lines(
        inv["water_m3"],
        inv["water_price"],
        inv["sewage_m3"],
        inv["sewage_price"],
        inv["subscription_net"],
        inv["vat_rate"],
    )
    vat_rate = f"{inv['vat_rate'].normalize():f}".replace(".", ",") + "%"
    rows = [
        (
            "1",
            "Dostawa wody",
            _qty(lines.water_m3),
            "m³",
            _price(lines.water_price),
            format_pln(inv["water_net"]),
            vat_rate,
        ),
        (
            "2",
            "Odprowadzanie ścieków",
            _qty(lines.sewage_m3),
            "m³",
            _price(lines.sewage_price),
            format_pln(inv["sewage_net"]),
            vat_rate,
        ),
        (
            "3",
            "Opłata abonamentowa",
            "1",
            "okres",
            _price(inv["subscription_net"]),
            format_pln(inv["subscription_net"]),
            vat_rate,
        ),
    ]
    widths = (8, 58, 24, 13, 24, 35, 18)
    heads = ("Lp.", "Nazwa", "Ilość", "J.m.", "Cena netto", "Wartość netto", "VAT")
    aligns = ("C", "L", "R", "C", "R", "R", "C")
    pdf.set_font(FONT, "B", 8.5)
    pdf.set_fill_color(225, 235, 245)
    for w, h in zip(widths, heads, strict=True):
        pdf.cell(w, 7, h, border=1, align="C", fill=True)
    pdf.ln()
    pdf.set_font(FONT, "", 9)
    for row in rows:
        for w, cell, align in zip(widths, row, aligns, strict=True):
            pdf.cell(w, 6.5, cell, border=1, align=align)
        pdf.ln()
    pdf.ln(3)

    totals = [
        ("Razem netto", format_pln(inv["net"])),
        (f"VAT {vat_rate}", format_pln(inv["vat"])),
        ("Razem brutto", format_pln(inv["gross"])),
    ]
    for label, value in totals:
        pdf.set_x(110)
        pdf.set_font(FONT, "B" if label == "Razem brutto" else "", 10)
        pdf.cell(45, 6, label, border="B")
        pdf.cell(40, 6, value, border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FONT, "B", 11)
    pdf.cell(
        0,
        6,
        f"Do zapłaty: {format_pln(inv['gross'])} w terminie do {_dmy(inv['due_date'])}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    account = client_bank_account(utility.bank_prefix, client["client_number"])
    pdf.text_line(f"Rachunek bankowy do wpłat (indywidualny dla klienta): {account}", 9.5)
    pdf.text_line(f"W tytule przelewu prosimy podać numer faktury: {number}", 9)
    pdf.ln(3)
    if inv["gross"] > 0:
        transfer = TransferQr(
            utility.nip, account, inv["gross"], utility.transfer_recipient, f"Faktura {number}"
        )
        _transfer_qr(pdf, transfer)

    if inv["ksef_number"] and inv["ksef_hash"]:
        url = ksef_qr_url(utility, inv["issue_date"], inv["ksef_hash"])
        if pdf.get_y() + 40 > pdf.h - 18:
            pdf.add_page()
        y = pdf.get_y()
        pdf.image(_qr_png(url), x=15, y=y, w=32, h=32)
        pdf.set_xy(15, y + 32.5)
        pdf.set_font(FONT, "", 6.5)
        pdf.cell(60, 3.5, inv["ksef_number"], new_x="LMARGIN", new_y="NEXT")
        pdf.set_xy(52, y + 2)
        pdf.set_font(FONT, "", 8.5)
        pdf.multi_cell(
            140,
            4.4,
            "Faktura wystawiona w Krajowym Systemie e-Faktur (KSeF). Dokumentem "
            "wiążącym jest faktura ustrukturyzowana w KSeF; kod QR prowadzi do jej "
            f"weryfikacji. Numer KSeF: {inv['ksef_number']}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_y(y + 38)
    pdf.set_font(FONT, "", 7.5)
    pdf.set_text_color(90)
    pdf.multi_cell(
        0,
        3.8,
        (
            "Odpis faktury sporządzony w Internetowym Biurze Obsługi Klienta (e-BOK). "
            "Odpis odpowiada treści faktury w dniu jej wystawienia; aktualny stan "
            "rozliczeń jest dostępny w e-BOK."
        )
        if copy
        else "Faktura przesłana w formie elektronicznej (e-faktura) na podstawie zgody "
        "Klienta. Aktualny stan rozliczeń jest dostępny w e-BOK.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())


_CONTRACT_CLAUSES = (
    (
        "§ 1. Przedmiot umowy",
        "Spółka zobowiązuje się do dostarczania wody i odprowadzania ścieków do nieruchomości "
        "wskazanej w umowie, a Klient do terminowego regulowania należności według taryfy "
        "obowiązującej w dniu świadczenia usług.",
    ),
    (
        "§ 2. Pomiar",
        "Ilość dostarczonej wody ustala się na podstawie wskazań wodomierza głównego. Ilość "
        "odprowadzonych ścieków przyjmuje się równą ilości dostarczonej wody, pomniejszonej o "
        "ilość wody bezpowrotnie zużytej, zmierzonej wodomierzem ogrodowym.",
    ),
    (
        "§ 3. Rozliczenia",
        "Należności za usługi wynikają z faktur wystawianych w okresach rozliczeniowych. "
        "Za opóźnienie w zapłacie Spółka nalicza odsetki ustawowe za opóźnienie.",
    ),
    (
        "§ 4. Rozwiązanie umowy",
        "Umowa może zostać rozwiązana przez każdą ze stron z zachowaniem okresu wypowiedzenia "
        "albo za porozumieniem stron.",
    ),
    (
        "§ 5. Postanowienia końcowe",
        "W sprawach nieuregulowanych umową stosuje się przepisy ustawy o zbiorowym zaopatrzeniu "
        "w wodę i zbiorowym odprowadzaniu ścieków oraz Kodeksu cywilnego.",
    ),
)


def contract_document(contract: Any, client: Any, utility: Utility) -> bytes:
    number = contract["contract_number"]
    pdf = _Document(f"contract:{number}", contract["concluded_on"], f"Umowa {number}")
    pdf.alias_nb_pages()
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(
        0,
        7,
        f"Umowa nr {number}\no zaopatrzenie w wodę i odprowadzanie ścieków",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    pdf.text_line(f"zawarta dnia {_dmy(contract['concluded_on'])} pomiędzy:", 10)
    pdf.ln(1)
    pdf.text_line(
        f"{utility.name}, {utility.street}, {utility.postal_code} {utility.city}, "
        f"NIP {utility.nip}, zwanym dalej „Spółką”,",
        10,
    )
    pdf.text_line("a", 10)
    who = f"{client['name']}, {client['street']}, {client['postal_code']} {client['city']}"
    if client["nip"]:
        who += f", NIP {client['nip']}"
    pdf.text_line(f"{who} (numer klienta {client['client_number']}), zwanym dalej „Klientem”.", 10)
    pdf.ln(3)
    pdf.text_line("Dane umowy", 11, "B")
    facts = [
        (
            "Adres nieruchomości",
            f"{contract['street']}, {contract['postal_code']} {contract['city']}",
        ),
        ("Grupa taryfowa", contract["tariff_group"]),
        ("Wodomierze", ", ".join(contract["meter_serials"]) or "—"),
        (
            "Status",
            "rozwiązana z dniem " + _dmy(contract["terminated_on"])
            if contract["terminated_on"]
            else "obowiązująca",
        ),
    ]
    for label, value in facts:
        pdf.set_font(FONT, "B", 9.5)
        pdf.cell(48, 5.5, label + ":")
        pdf.set_font(FONT, "", 9.5)
        pdf.multi_cell(0, 5.5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for heading, text in _CONTRACT_CLAUSES:
        pdf.text_line(heading, 10, "B", 5.5)
        pdf.text_line(text, 9.5, "", 4.8)
        pdf.ln(1.5)
    pdf.ln(8)
    pdf.set_font(FONT, "", 9)
    pdf.cell(90, 5, "……………………………", align="C")
    pdf.cell(90, 5, "……………………………", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(90, 5, "Spółka", align="C")
    pdf.cell(90, 5, "Klient", align="C", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
