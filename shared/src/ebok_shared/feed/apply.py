"""Applying a batch whole or not at all, once per content: the flow every feed shares.

The service reads and checks its rows first (errors go into a ``LineErrors``), then hands
``apply_batch`` two steps of its own: ``lock`` (the advisory locks its batches take, so two
batches about the same records do not interleave) and ``apply`` (the rows into its tables,
with its events in the outbox; a row the rules refuse is one more line error). Both run in
one transaction with the batch's record: the very same bytes already applied answer with
that first result and change nothing; a batch with any error is rolled back and recorded as
rejected, with its errors.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

from ..logs import correlation_id_var, get_logger
from . import BatchResult, Counts, LineErrors, checksum
from . import repository as repo

log = get_logger(__name__)

Lock = Callable[[repo.Conn], Awaitable[None]]
Apply = Callable[[repo.Conn, uuid.UUID, LineErrors], Awaitable[Counts]]


class _Refused(Exception):
    """Rolls the savepoint of a batch that met an error back."""


async def apply_batch(
    conn: repo.Conn,
    *,
    kind: str,
    body: bytes,
    fmt: str,
    row_count: int,
    errors: LineErrors,
    submitted_by: str,
    lock: Lock,
    apply: Apply,
    received_at: dt.datetime | None = None,
) -> BatchResult:
    """``errors`` holds what reading the rows found; ``apply`` runs only when it is empty.
    ``received_at`` is the database's clock unless given."""
    digest = checksum(body)
    token = None
    if correlation_id_var.get() is None:  # the command line: the batch's events share one id
        token = correlation_id_var.set(f"feed-{digest[:16]}")
    try:
        return await _apply(
            conn, kind, body, fmt, digest, row_count, errors, submitted_by, lock, apply, received_at
        )
    finally:
        if token is not None:
            correlation_id_var.reset(token)


async def _apply(
    conn: repo.Conn,
    kind: str,
    body: bytes,
    fmt: str,
    digest: str,
    row_count: int,
    errors: LineErrors,
    submitted_by: str,
    lock: Lock,
    apply: Apply,
    received_at: dt.datetime | None,
) -> BatchResult:
    batch_id = uuid.uuid4()
    async with conn.transaction():
        await lock(conn)
        prior = await repo.applied_batch(conn, kind, digest)
        if prior is not None:
            return BatchResult.from_record(prior, replayed=True)
        counts = Counts()
        if not errors:
            try:
                async with conn.transaction():  # a savepoint: refused means nothing applied
                    counts = await apply(conn, batch_id, errors)
                    if errors:
                        raise _Refused
            except _Refused:
                counts = Counts()
        status = "rejected" if errors else "applied"
        row = await repo.record_batch(
            conn,
            batch_id=batch_id,
            kind=kind,
            checksum=digest,
            fmt=fmt,
            status=status,
            row_count=row_count,
            applied=counts.applied,
            unchanged=counts.unchanged,
            submitted_by=submitted_by,
            received_at=received_at,
            summary=counts.summary,
            error_count=errors.count,
            errors=errors.to_list(),
        )
    log.info(
        "feed batch",
        kind=kind,
        batch_id=str(batch_id),
        status=status,
        rows=row_count,
        errors=errors.count,
    )
    return BatchResult.from_record(row, replayed=False)
