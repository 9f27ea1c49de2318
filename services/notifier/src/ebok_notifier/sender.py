"""The sender: delivers what the delivery log holds, exactly once as far as SMTP allows.

A dispatcher claims due deliveries (``FOR UPDATE SKIP LOCKED``, committed at once, so several
replicas never take the same row) and hands them to one worker per pooled SMTP connection.
Outcomes are written back by a recorder, many per statement (whatever finished while the
previous write was in progress; no waiting to fill a batch). At most ``sender_batch_size``
deliveries are claimed and not yet recorded: only those can be sent twice, if the process
dies, and they keep their Message-ID.

Each sender holds a session advisory lock on a dedicated connection; its claims carry the
lock's key. A claim whose key is no longer locked belongs to a sender that died: it goes back
to pending at once (no lease to wait out).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from ebok_shared import db
from ebok_shared.clock import clock
from ebok_shared.logs import get_logger
from prometheus_client import Counter

from . import repository as repo
from .attachments import Attachments
from .compose import Prepared, prepare
from .domain import PermanentFailure, RelayUnavailable, RetryPolicy, Status, TemporaryFailure
from .render import Rendered, Renderer, RenderError
from .settings import NotifierSettings
from .transport import SmtpConfig, SmtpConnection

log = get_logger(__name__)

EMAILS = Counter("ebok_notifier_emails_total", "Delivery attempts by outcome", ["kind", "outcome"])
_MAX_RECORD_BATCH = 200
_MAX_RELAY_PAUSE = 10.0  # seconds a worker waits after the relay could not be reached


@dataclass
class _Identity:
    """The dedicated connection holding this sender's advisory lock."""

    conn: asyncpg.Connection
    key: int
    lost: asyncio.Event


class Sender:
    def __init__(
        self,
        settings: NotifierSettings,
        pool: asyncpg.Pool,
        renderer: Renderer,
        attachments: Attachments,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.renderer = renderer
        self.attachments = attachments
        self.policy = RetryPolicy(
            base=settings.delivery_retry_base,
            maximum=settings.delivery_retry_max,
            deadline=settings.delivery_deadline,
        )
        self.smtp = SmtpConfig.from_settings(settings)
        self.sender = settings.sender_address
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._in_flight = 0  # claimed, outcome not yet recorded
        self._todo: asyncio.Queue[repo.Claimed | None] = asyncio.Queue()
        self._done: asyncio.Queue[repo.Outcome] = asyncio.Queue()
        self._campaigns: dict[int, Prepared] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until stopped; a lost database session starts over with a new identity."""
        while not self._stopping.is_set():
            try:
                async with self._identity() as identity:
                    await self._serve(identity)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("sender failed; restarting", error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    @contextlib.asynccontextmanager
    async def _identity(self) -> AsyncIterator[_Identity]:
        conn = await db.connect(self.settings.database_url)
        try:
            while True:
                key = random.randint(1, 2**31 - 1)
                if await repo.try_sender_lock(conn, key):
                    break
            lost = asyncio.Event()

            def on_lost(_conn: object) -> None:
                lost.set()
                self._wake.set()

            conn.add_termination_listener(on_lost)
            await conn.add_listener(repo.DELIVERIES_CHANNEL, lambda *_: self._wake.set())
            await repo.release_claims_of(conn, key)
            freed = await repo.reclaim_orphans(conn)
            if freed:
                log.info("claims of a stopped sender released", count=freed)
            yield _Identity(conn, key, lost)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.close(timeout=2))

    # -- the dispatcher -------------------------------------------------------------------------

    async def _serve(self, identity: _Identity) -> None:
        self._in_flight = 0
        self._todo, self._done = asyncio.Queue(), asyncio.Queue()
        workers = [
            asyncio.create_task(self._work(), name=f"notifier:smtp-{n}")
            for n in range(self.settings.smtp_pool_size)
        ]
        recorder = asyncio.create_task(self._record(identity), name="notifier:recorder")
        loop = asyncio.get_running_loop()
        next_reclaim = loop.time() + self.settings.sender_reclaim_interval
        batch = self.settings.sender_batch_size
        try:
            while not self._stopping.is_set() and not identity.lost.is_set():
                if recorder.done():
                    recorder.result()  # re-raise what stopped it
                self._wake.clear()
                room = batch - self._in_flight
                claimed = 0
                if room * 2 >= batch:  # refill at half, not one row at a time
                    rows = await repo.claim(self.pool, identity.key, room, clock.now())
                    claimed = len(rows)
                    self._in_flight += claimed
                    for row in rows:
                        self._todo.put_nowait(row)
                if loop.time() >= next_reclaim:
                    await repo.reclaim_orphans(identity.conn)
                    next_reclaim = loop.time() + self.settings.sender_reclaim_interval
                if claimed == room and claimed > 0:
                    continue  # more may be due: claim again as soon as there is room
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.sender_poll_interval)
        finally:
            await self._finish(workers, recorder, identity)

    async def _finish(
        self, workers: list[asyncio.Task[None]], recorder: asyncio.Task[None], identity: _Identity
    ) -> None:
        """Let each worker finish the e-mail in hand and its outcome be recorded, then give
        back the claims not started."""
        while not self._todo.empty():
            self._todo.get_nowait()
        for _ in workers:
            self._todo.put_nowait(None)  # one stop sign each, after the e-mail in hand
        grace = self.settings.shutdown_timeout / 2
        _finished, unfinished = await asyncio.wait(workers, timeout=grace)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if not recorder.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.join(), grace)
        recorder.cancel()
        await asyncio.gather(recorder, return_exceptions=True)
        if not identity.lost.is_set():
            with contextlib.suppress(Exception):
                await repo.release_claims_of(identity.conn, identity.key)

    # -- the workers ----------------------------------------------------------------------------

    async def _work(self) -> None:
        connection = SmtpConnection(self.smtp)
        try:
            while True:
                try:
                    row = await asyncio.wait_for(self._todo.get(), self.smtp.idle_seconds)
                except TimeoutError:
                    await connection.close()  # nothing to send for a while
                    continue
                if row is None:
                    return
                outcome = await self._attempt(row, connection)
                self._done.put_nowait(outcome)
                if outcome.relay_unavailable:
                    # Pause rather than burn through every due e-mail while the relay is away.
                    await asyncio.sleep(min(self.policy.base, _MAX_RELAY_PAUSE))
        finally:
            await asyncio.shield(connection.close())

    async def _attempt(self, row: repo.Claimed, connection: SmtpConnection) -> repo.Outcome:
        """One delivery attempt; its outcome, never an exception."""
        try:
            message = await self._build(row)
            answer = await connection.send(
                message, sender=self.sender.addr_spec, recipient=row.recipient
            )
            outcome = repo.Outcome(row.id, Status.SENT, answer)
        except TemporaryFailure as failure:
            outcome = self._retry_or_fail(row, failure.answer)
            outcome.relay_unavailable = isinstance(failure, RelayUnavailable)
        except PermanentFailure as failure:
            outcome = repo.Outcome(row.id, Status.FAILED, failure.answer)
        except Exception as exc:  # a bug, not the relay: retried like a temporary failure
            log.exception("delivery failed unexpectedly", delivery_id=row.id)
            outcome = self._retry_or_fail(row, f"błąd wewnętrzny: {type(exc).__name__}")
        EMAILS.labels(
            row.kind, "retry" if outcome.status is Status.PENDING else str(outcome.status)
        ).inc()
        if outcome.status is not Status.SENT:
            log.info(
                "delivery attempt failed",
                delivery_id=row.id,
                kind=row.kind,
                attempts=row.attempts,
                status=str(outcome.status),
                answer=outcome.answer,
            )
        return outcome

    def _retry_or_fail(self, row: repo.Claimed, answer: str) -> repo.Outcome:
        next_attempt = self.policy.next_attempt(
            attempts=row.attempts, queued_at=row.queued_at, now=clock.now()
        )
        if next_attempt is None:
            return repo.Outcome(row.id, Status.FAILED, f"{answer} (minął termin doręczenia)")
        return repo.Outcome(row.id, Status.PENDING, answer, next_attempt)

    # -- the recorder ---------------------------------------------------------------------------

    async def _record(self, identity: _Identity) -> None:
        """Write outcomes back as they come, many per statement; the database being away
        for a moment must not lose one."""
        while True:
            batch = [await self._done.get()]
            while len(batch) < _MAX_RECORD_BATCH and not self._done.empty():
                batch.append(self._done.get_nowait())
            while True:
                try:
                    await repo.record_outcomes(self.pool, identity.key, batch, clock.now())
                    break
                except (asyncpg.PostgresError, OSError) as exc:
                    if identity.lost.is_set():
                        break  # our claims are released; those rows will be tried again
                    log.warning("recording outcomes failed; retrying", error=repr(exc))
                    await asyncio.sleep(0.5)
            self._in_flight -= len(batch)
            for _ in batch:
                self._done.task_done()
            self._wake.set()

    # -- building the e-mail --------------------------------------------------------------------

    async def _build(self, row: repo.Claimed) -> bytes:
        if row.context is not None:
            rendered = self._render(row.kind, row.context)
            attachments = await self.attachments.for_email(row.kind, row.context)
            prepared = prepare(rendered, sender=self.sender, attachments=attachments)
        else:
            prepared = await self._campaign_email(row)
        return prepared.finish(recipient=row.recipient, message_id=row.message_id, date=clock.now())

    async def _campaign_email(self, row: repo.Claimed) -> Prepared:
        """A campaign's e-mails differ only in To, Message-ID and Date: prepared once."""
        assert row.campaign_id is not None
        prepared = self._campaigns.get(row.campaign_id)
        if prepared is None:
            context = await repo.campaign_context(self.pool, row.campaign_id)
            rendered = self._render(row.kind, context)
            attachments = await self.attachments.for_email(row.kind, context)
            prepared = prepare(rendered, sender=self.sender, attachments=attachments)
            if len(self._campaigns) >= 16:
                self._campaigns.clear()
            self._campaigns[row.campaign_id] = prepared
        return prepared

    def _render(self, kind: str, context: dict[str, Any]) -> Rendered:
        try:
            return self.renderer.render(kind, context)
        except RenderError as exc:
            raise PermanentFailure(f"nie udało się przygotować wiadomości: {exc}") from exc
