"""What billing's use cases share: the refusal they raise and the way they add events."""

from __future__ import annotations

from ebok_shared.bus import Event, Outbox

from . import repository as repo

EVENT_CHUNK = 5000


class OperationError(Exception):
    """A request the current state does not allow; ``code`` and Polish ``detail``."""

    def __init__(self, status: int, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.field = status, code, detail, field


class BatchRefused(Exception):
    """A feed batch that passed its checks but cannot be applied: ``errors`` are
    ``(line, field, reason)``; the batch is then rejected as a whole."""

    def __init__(self, errors: list[tuple[int, str, str]]) -> None:
        super().__init__(errors[0][2] if errors else "batch refused")
        self.errors = errors


async def publish(conn: repo.Conn, outbox: Outbox, batch: list[tuple[Event, str | None]]) -> None:
    for start in range(0, len(batch), EVENT_CHUNK):
        await outbox.add_events(conn, batch[start : start + EVENT_CHUNK])  # type: ignore[arg-type]
