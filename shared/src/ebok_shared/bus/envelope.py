"""The event envelope every message on the bus carries."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..clock import clock
from ..logs import correlation_id_var


@dataclass(frozen=True)
class Event:
    type: str  # "<producer>.<entity>.<fact>", e.g. "billing.invoice.issued"; the routing key
    payload: dict[str, Any]
    version: int = 1
    producer: str = ""
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: dt.datetime = field(default_factory=clock.now)
    correlation_id: str = ""

    @classmethod
    def new(cls, type: str, payload: dict[str, Any], *, version: int = 1) -> Event:
        """An event raised now, inside the current request or message context."""
        return cls(
            type=type,
            payload=payload,
            version=version,
            producer=type.split(".", 1)[0],
            correlation_id=correlation_id_var.get() or str(uuid.uuid4()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
        }

    def to_json(self) -> bytes:
        return encode(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            id=uuid.UUID(data["id"]),
            type=data["type"],
            version=data["version"],
            occurred_at=dt.datetime.fromisoformat(data["occurred_at"]),
            producer=data["producer"],
            correlation_id=data["correlation_id"],
            payload=data["payload"],
        )


def encode(envelope: dict[str, Any]) -> bytes:
    """An envelope (``Event.to_dict``) as it goes on the wire: compact UTF-8 JSON, by orjson
    (a twentieth of the standard library's time; every reading submitted encodes one). What
    orjson refuses and the standard library takes (an integer past 64 bits, a key that is
    not a string) is encoded by the standard library, as before."""
    try:
        return orjson.dumps(envelope)
    except TypeError:
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
