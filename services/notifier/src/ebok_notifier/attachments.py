"""What some e-mails carry: the e-invoice PDF, fetched from billing's internal API when the
e-mail is sent (so a slow or absent PDF delays that e-mail, never the event's handling)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from ebok_shared.http.service_tokens import ServiceTokenError, ServiceTokens

from .compose import Attachment
from .domain import Kind, PermanentFailure, TemporaryFailure


class InvoicePdfs:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout: float,
        max_bytes: int,
        tokens: ServiceTokens | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_bytes = max_bytes
        self.tokens = tokens

    async def fetch(self, invoice_number: str) -> Attachment:
        url = f"{self.base_url}/internal/invoices/{quote(invoice_number, safe='')}/pdf"
        try:
            headers = {"Accept": "application/pdf"}
            if self.tokens is not None:
                headers.update(await self.tokens.authorization())
            async with self.session.get(url, timeout=self.timeout, headers=headers) as resp:
                if resp.status == 200:
                    data = await resp.content.read(self.max_bytes + 1)
                    if len(data) > self.max_bytes:
                        raise PermanentFailure(f"PDF faktury {invoice_number} jest za duży")
                    if not data.startswith(b"%PDF"):
                        raise TemporaryFailure(
                            f"billing: odpowiedź dla {invoice_number} to nie PDF"
                        )
                    return Attachment(f"faktura-{invoice_number}.pdf", "application/pdf", data)
                answer = f"billing: HTTP {resp.status} dla faktury {invoice_number}"
                # 404: billing may not have the PDF yet; 401/403: our token (configuration,
                # not this e-mail); 408/429/5xx: billing is busy or down. All: try again later.
                if resp.status in (401, 403, 404, 408, 429) or resp.status >= 500:
                    raise TemporaryFailure(answer)
                raise PermanentFailure(answer)
        except ServiceTokenError as exc:
            raise TemporaryFailure(f"brak tokenu usługi: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryFailure(f"billing niedostępny: {type(exc).__name__}: {exc}") from exc


class Attachments:
    """The attachments of an e-mail, by its kind."""

    def __init__(self, invoices: InvoicePdfs) -> None:
        self.invoices = invoices

    async def for_email(self, kind: str, context: Mapping[str, Any]) -> list[Attachment]:
        if kind == Kind.E_INVOICE:
            return [await self.invoices.fetch(context["invoice_number"])]
        return []
