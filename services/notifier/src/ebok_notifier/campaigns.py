"""Campaigns: one event, an e-mail to every active user, materialised into the delivery log
in chunks. Each chunk's rows (unique per event and recipient) and the cursor after it are one
transaction, so a crash resumes at the cursor with no gap and no duplicate. The campaign's
rate is its schedule: the n-th e-mail is due at start + n / rate.

The worker is woken by the campaign's creation (``NOTIFY`` in the consumer's transaction) and
looks on its own only every ``poll_interval`` besides, for a campaign a replica left half
materialised when it died (no notification comes for that)."""

from __future__ import annotations

from typing import NoReturn

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.logs import get_logger
from ebok_shared.loops import listen

from . import repository as repo
from .domain import campaign_slot, message_id

log = get_logger(__name__)


class CampaignWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        dsn: str,
        chunk_size: int,
        message_id_domain: str,
        poll_interval: float,
    ) -> None:
        self.pool = pool
        self.dsn = dsn
        self.chunk_size = chunk_size
        self.domain = message_id_domain
        self.poll_interval = poll_interval

    async def run(self) -> NoReturn:
        # LISTEN, not a poll at the sender's pace: a pass is a transaction (BEGIN, a locking
        # read, COMMIT), and polling every second (every 0.2 s in bench/notifier.py) cost the
        # process as much CPU as taking in the events did, with no campaign waiting.
        await listen(
            "notifier:campaigns",
            self.dsn,
            [repo.CAMPAIGNS_CHANNEL],
            self.materialise_waiting,
            timeout=self.poll_interval,
        )

    async def materialise_waiting(self) -> None:
        while await self.materialise_chunk():
            pass

    async def materialise_chunk(self) -> bool:
        """Materialise the next chunk of some campaign; False when none is waiting."""
        async with self.pool.acquire() as conn, conn.transaction():
            chunk = await repo.lock_next_campaign(conn, self.chunk_size)
            if chunk is None:
                return False
            ordinals = range(chunk.first_ordinal, chunk.first_ordinal + len(chunk.recipients))
            finished = len(chunk.recipients) < self.chunk_size
            await repo.add_campaign_chunk(
                conn,
                chunk,
                message_ids=[
                    message_id(chunk.event_id, r, self.domain) for _, r in chunk.recipients
                ],
                due=[campaign_slot(chunk.starts_at, n, chunk.rate) for n in ordinals],
                finished=finished,
                now=clock.now(),
            )
        if finished:
            log.info("campaign materialised", campaign_id=chunk.campaign_id)
        return True
