"""The notifier app factory: wires routes, subscriptions and resources; no logic here."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from ebok_shared import api
from ebok_shared.http.service_tokens import ServiceTokens
from ebok_shared.loops import running
from ebok_shared.service import HTTP, POOL, CleanupContext, ServiceSpec, create_service_app

from . import events, http_customer, http_operator
from .attachments import Attachments, InvoicePdfs
from .campaigns import CampaignWorker
from .intake import Intake
from .render import Brand, Renderer
from .sender import Sender
from .settings import NotifierSettings

SPEC: ServiceSpec[NotifierSettings] = ServiceSpec(
    name="notifier",
    contract=api.notifier.OPERATIONS,
    migrations=Path(__file__).parent / "migrations",
    routes=[*http_operator.routes, *http_customer.routes],
)


def renderer_for(settings: NotifierSettings) -> Renderer:
    return Renderer(
        Brand(
            utility_name=settings.utility_name,
            public_base_url=settings.public_base_url,
            contact_email=settings.contact_email,
            contact_phone=settings.contact_phone,
        )
    )


def intake_for(settings: NotifierSettings) -> Intake:
    return Intake(
        message_id_domain=settings.message_id_domain, campaign_rate=settings.campaign_rate
    )


def delivery(settings: NotifierSettings) -> CleanupContext:
    """The sender and the campaign worker, as a cleanup context (started after the bus)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        pdfs = InvoicePdfs(
            app[HTTP],
            settings.billing_url,
            timeout=settings.billing_timeout,
            max_bytes=settings.max_attachment_bytes,
            tokens=None
            if settings.service_client_secret is None
            else ServiceTokens(
                app[HTTP],
                settings.auth_url,
                settings.service_client_id,
                settings.service_client_secret,
            ),
        )
        sender = Sender(settings, app[POOL], renderer_for(settings), Attachments(pdfs))
        campaigns = CampaignWorker(
            app[POOL],
            dsn=settings.database_url,
            chunk_size=settings.campaign_chunk_size,
            message_id_domain=settings.message_id_domain,
            # Woken by each new campaign; looks on its own as often as the sender looks for
            # dead replicas' claims, for a campaign a dead replica left half materialised.
            poll_interval=settings.sender_reclaim_interval,
        )
        # Cancelled at shutdown; the sender then finishes the e-mails in hand and records
        # them (within shutdown_timeout).
        async with (
            running("notifier:sender", sender.run(), stop_within=settings.shutdown_timeout + 5),
            running("notifier:campaigns", campaigns.run()),
        ):
            yield

    return context


def spec_for(settings: NotifierSettings) -> ServiceSpec[NotifierSettings]:
    """The service as it runs: its subscriptions and sender need the settings."""
    return dataclasses.replace(
        SPEC,
        subscriptions=events.subscriptions(intake_for(settings)),
        # Sending is queue work: the worker role (serve --role worker|all) runs it.
        background=[*SPEC.background, delivery(settings)],
    )


def create_app(settings: NotifierSettings) -> web.Application:
    return create_service_app(spec_for(settings), settings)
