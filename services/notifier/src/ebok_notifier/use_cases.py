"""What operators and customers ask of the notifier over HTTP, one function each. The
e-mails themselves come from consumed events (``intake``), go out through the ``sender`` and
campaigns through the ``campaigns`` worker. Refusals are ``ebok_shared.refusals``."""

from __future__ import annotations

from typing import Any

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.refusals import Refusal, conflict, not_found

from . import repository as repo
from .domain import Status


def _no_delivery() -> Refusal:
    return not_found("Nie ma takiej wysyłki.", code="delivery-not-found")


async def deliveries(
    pool: asyncpg.Pool, status: Status | None, before_id: int | None, limit: int
) -> dict[str, Any]:
    """The delivery log, newest first; ``next_before_id`` pages on when the page is full."""
    items = await repo.list_deliveries(
        pool, status=None if status is None else status.value, before_id=before_id, limit=limit
    )
    body: dict[str, Any] = {"items": items}
    if len(items) == limit:
        body["next_before_id"] = items[-1]["id"]
    return body


async def delivery(pool: asyncpg.Pool, delivery_id: int) -> dict[str, Any]:
    found = await repo.get_delivery(pool, delivery_id)
    if found is None:
        raise _no_delivery()
    return found


async def resend(pool: asyncpg.Pool, delivery_id: int) -> dict[str, Any]:
    """Send a failed e-mail again (same Message-ID), with a fresh retry deadline."""
    if not await repo.requeue_failed(pool, delivery_id, clock.now()):
        found = await repo.get_delivery(pool, delivery_id)
        if found is None:
            raise _no_delivery()
        raise conflict(
            "delivery-not-failed",
            "Ponownie wysłać można tylko wiadomość, której wysyłka się nie powiodła"
            f" (ta ma status: {found['status']}).",
        )
    return await delivery(pool, delivery_id)


async def campaigns(pool: asyncpg.Pool, limit: int) -> dict[str, Any]:
    return {"items": await repo.list_campaigns(pool, limit)}


async def campaign(pool: asyncpg.Pool, campaign_id: int) -> dict[str, Any]:
    """Progress: how many of the campaign's e-mails were sent, failed, or still wait."""
    found = await repo.campaign_progress(pool, campaign_id)
    if found is None:
        raise not_found("Nie ma takiej kampanii.", code="campaign-not-found")
    details, counts = found["campaign"], found["counts"]
    waiting = counts.get(Status.PENDING, 0) + counts.get(Status.SENDING, 0)
    materialised = details["status"] == "queued"
    return {
        **details,
        "sent": counts.get(Status.SENT, 0),
        "failed": counts.get(Status.FAILED, 0),
        "cancelled": counts.get(Status.CANCELLED, 0),
        "waiting": waiting,
        "done": materialised and waiting == 0,
    }


async def export(pool: asyncpg.Pool, client_number: str) -> dict[str, Any]:
    """This service's part of the customer's data export (the gateway's ``/me/export``)."""
    data = await repo.export(pool, client_number)
    return {
        "service": "notifier",
        "generated_at": clock.now().isoformat(),
        "client_number": client_number,
        **data,
    }
