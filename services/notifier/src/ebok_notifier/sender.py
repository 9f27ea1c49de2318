"""The sender: delivers what the delivery log holds, exactly once as far as SMTP allows.

A dispatcher claims due deliveries (``FOR UPDATE SKIP LOCKED``, committed at once, so several
replicas never take the same row) and hands them to one worker per pooled SMTP connection.
Outcomes are written back by a recorder, many per statement: whatever finished while the
previous write was in progress, and, while more e-mails are being sent, what finishes until
a quarter of the batch is in hand (at most ``_RECORD_LINGER``; a statement per two or three
e-mails cost more CPU than building them). At most ``sender_batch_size`` deliveries are
claimed and not yet recorded: only those can be sent twice, if the process dies, and they
keep their Message-ID.

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
from typing import Any, NoReturn

import asyncpg
from ebok_shared import loops
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
# Seconds the recorder waits, at most, for a quarter of the batch while more outcomes are
# coming. 10 ms gathered ~3 outcomes per statement in bench/notifier.py on a busy machine (the
# four workers finish in bunches), each statement a commit and ~150 µs of this process's CPU;
# waiting for the quarter holds nothing up: the workers' queue is topped up by the same
# statement, and the claimed-not-recorded bound (sender_batch_size) is unchanged.
_RECORD_LINGER = 0.1
_MAX_RELAY_PAUSE = 10.0  # seconds a worker waits after the relay could not be reached


SENDER_LOOP = "notifier-sender"  # the loop's name in logs, and its connection's application_name


@dataclass
class _Session:
    """What one database session of the sender holds: the advisory lock ``key`` on ``conn``
    (the loop's LISTEN connection), the workers and the recorder working under it."""

    conn: asyncpg.Connection
    key: int
    workers: list[asyncio.Task[None]]
    recorder: asyncio.Task[None]
    next_reclaim: float


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
        self.sender_path = self.sender.addr_spec  # a property that formats it on each call
        self._wake = asyncio.Event()
        self._session: _Session | None = None
        self._in_flight = 0  # claimed, outcome not yet recorded
        self._todo: asyncio.Queue[repo.Claimed | None] = asyncio.Queue()
        self._done: asyncio.Queue[repo.Outcome] = asyncio.Queue()
        self._claiming = asyncio.Lock()  # one claim at a time: the dispatcher's or the recorder's
        self._campaigns: dict[int, Prepared] = {}
        self._counters: dict[tuple[str, Status], Counter] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> NoReturn:
        """Deliver until cancelled (then: the e-mails in hand finish and are recorded, within
        ``shutdown_timeout``). Woken by new deliveries (``NOTIFY``), by recorded outcomes
        (room to claim more) and every ``sender_poll_interval``; a lost database session
        starts over with a new identity (ebok_shared.loops)."""
        await loops.listen_on(
            SENDER_LOOP,
            self.settings.database_url,
            [repo.DELIVERIES_CHANNEL],
            self._dispatch,
            session=self._identity,
            timeout=self.settings.sender_poll_interval,
            wake=self._wake,
        )

    @contextlib.asynccontextmanager
    async def _identity(self, conn: asyncpg.Connection) -> AsyncIterator[None]:
        """This sender's identity on ``conn`` (a session advisory lock), its claims left by an
        earlier run given back, and the workers and recorder; at the end, each worker
        finishes the e-mail in hand and its outcome is recorded while the lock is held."""
        while True:
            key = random.randint(1, 2**31 - 1)
            if await repo.try_sender_lock(conn, key):
                break
        await repo.release_claims_of(conn, key)
        freed = await repo.reclaim_orphans(conn)
        if freed:
            log.info("claims of a stopped sender released", count=freed)
        self._in_flight = 0
        self._todo, self._done = asyncio.Queue(), asyncio.Queue()
        session = _Session(
            conn,
            key,
            [
                asyncio.create_task(self._work(), name=f"notifier:smtp-{n}")
                for n in range(self.settings.smtp_pool_size)
            ],
            asyncio.create_task(self._record(conn, key), name="notifier:recorder"),
            asyncio.get_running_loop().time() + self.settings.sender_reclaim_interval,
        )
        self._session = session
        try:
            yield
        finally:
            self._session = None
            await self._finish(session)

    # -- the dispatcher -------------------------------------------------------------------------

    async def _dispatch(self, conn: asyncpg.Connection) -> None:
        """One pass: claim due deliveries while there is room, free dead senders' claims now
        and then."""
        session = self._session
        assert session is not None and session.conn is conn
        loop = asyncio.get_running_loop()
        batch = self.settings.sender_batch_size
        while True:
            if session.recorder.done():
                session.recorder.result()  # re-raise what stopped it
            room = batch - self._in_flight
            claimed = 0
            if room * 2 >= batch:  # refill at half, not one row at a time
                async with self._claiming:
                    room = batch - self._in_flight  # the recorder may have claimed meanwhile
                    if room * 2 >= batch:
                        claimed = self._take(
                            await repo.claim(self.pool, session.key, room, clock.now())
                        )
            if loop.time() >= session.next_reclaim:
                await repo.reclaim_orphans(conn)
                session.next_reclaim = loop.time() + self.settings.sender_reclaim_interval
            if claimed < room or claimed == 0:
                return  # nothing more due now, or no room: a notification or outcome wakes us
            self._wake.clear()  # more may be due: claim again as soon as there is room

    def _take(self, rows: list[repo.Claimed]) -> int:
        """Claimed rows to the workers; how many."""
        self._in_flight += len(rows)
        for row in rows:
            self._todo.put_nowait(row)
        return len(rows)

    async def _finish(self, session: _Session) -> None:
        """Let each worker finish the e-mail in hand and its outcome be recorded, then give
        back the claims not started."""
        while not self._todo.empty():
            self._todo.get_nowait()
        for _ in session.workers:
            self._todo.put_nowait(None)  # one stop sign each, after the e-mail in hand
        grace = self.settings.shutdown_timeout / 2
        _finished, unfinished = await asyncio.wait(session.workers, timeout=grace)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*session.workers, return_exceptions=True)
        if not session.recorder.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.join(), grace)
        session.recorder.cancel()
        await asyncio.gather(session.recorder, return_exceptions=True)
        if not session.conn.is_closed():
            with contextlib.suppress(Exception):
                await repo.release_claims_of(session.conn, session.key)

    # -- the workers ----------------------------------------------------------------------------

    async def _work(self) -> None:
        connection = SmtpConnection(self.smtp)
        try:
            while True:
                if not self._todo.empty():
                    # The common case under load: no timer and no task for the wait below.
                    row = self._todo.get_nowait()
                else:
                    try:
                        # A timeout scope, not wait_for: no task per wait.
                        async with asyncio.timeout(self.smtp.idle_seconds):
                            row = await self._todo.get()
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
                message, sender=self.sender_path, recipient=row.recipient
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
        self._counter(row.kind, outcome.status).inc()
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

    def _counter(self, kind: str, status: Status) -> Counter:
        """The e-mails counter of (kind, outcome), its child looked up once (``labels`` takes
        a lock and builds a key each time)."""
        child = self._counters.get((kind, status))
        if child is None:
            outcome = "retry" if status is Status.PENDING else str(status)
            child = self._counters[(kind, status)] = EMAILS.labels(kind, outcome)
        return child

    def _retry_or_fail(self, row: repo.Claimed, answer: str) -> repo.Outcome:
        next_attempt = self.policy.next_attempt(
            attempts=row.attempts, queued_at=row.queued_at, now=clock.now()
        )
        if next_attempt is None:
            return repo.Outcome(row.id, Status.FAILED, f"{answer} (minął termin doręczenia)")
        return repo.Outcome(row.id, Status.PENDING, answer, next_attempt)

    # -- the recorder ---------------------------------------------------------------------------

    async def _record(self, conn: asyncpg.Connection, key: int) -> None:
        """Write outcomes back as they come, many per statement; the database being away
        for a moment must not lose one. With room for a quarter of the batch once they are
        written, the same statement claims the next deliveries (one commit where the dispatcher's
        claim after it would be another, and the workers get them a round trip sooner)."""
        while True:
            batch = await self._outcomes()
            claimed: list[repo.Claimed] | None = None
            while True:
                try:
                    claimed = await self._write(key, batch)
                    break
                except (asyncpg.PostgresError, OSError) as exc:
                    if conn.is_closed():
                        break  # our claims are released; those rows will be tried again
                    log.warning("recording outcomes failed; retrying", error=repr(exc))
                    await asyncio.sleep(0.5)
            self._in_flight -= len(batch)
            if claimed is not None:
                self._take(claimed)
            for _ in batch:
                self._done.task_done()
            if claimed is None:
                self._wake.set()  # room now: the dispatcher claims

    async def _write(self, key: int, outcomes: list[repo.Outcome]) -> list[repo.Claimed] | None:
        """Record ``outcomes``; and claim what there will be room for, if that is a quarter of
        the batch and the dispatcher is not claiming now (else None: nothing claimed). A
        claim here costs no commit of its own, so the workers' queue is topped up at a
        quarter rather than refilled at half."""
        batch = self.settings.sender_batch_size
        if self._session is None or self._claiming.locked():  # stopping, or claiming already
            await repo.record_outcomes(self.pool, key, outcomes, clock.now())
            return None
        async with self._claiming:
            room = batch - (self._in_flight - len(outcomes))
            if room * 4 < batch:
                await repo.record_outcomes(self.pool, key, outcomes, clock.now())
                return None
            return await repo.record_and_claim(self.pool, key, outcomes, room, clock.now())

    async def _outcomes(self) -> list[repo.Outcome]:
        """The next outcomes to record: those waiting, and while e-mails are still being sent
        and fewer than a quarter of the batch are in hand, those that finish within
        ``_RECORD_LINGER`` (a lone e-mail is recorded at once)."""
        batch = [await self._done.get()]
        enough = max(1, self.settings.sender_batch_size // 4)
        # One timeout scope for the whole wait, not one per outcome. An outcome the deadline
        # interrupts the wait for stays in the queue (Queue.get takes it only when it resumes).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_RECORD_LINGER):
                while len(batch) < _MAX_RECORD_BATCH:
                    if not self._done.empty():
                        batch.append(self._done.get_nowait())
                        continue
                    # Claimed, not recorded and not in hand: still queued or being sent.
                    coming = self._in_flight - len(batch) > 0
                    if len(batch) >= enough or not coming:
                        break
                    batch.append(await self._done.get())
        return batch

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
