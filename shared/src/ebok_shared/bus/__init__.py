"""The bus: events over RabbitMQ with a transactional outbox and idempotent consumers."""

from .catalogue import Catalogue, SchemaError, default_catalogue
from .consumer import Consumer, RetryPolicy, Subscription
from .envelope import Event
from .outbox import Outbox
from .relay import OutboxRelay
from .topology import Topology

__all__ = [
    "Catalogue",
    "Consumer",
    "Event",
    "Outbox",
    "OutboxRelay",
    "RetryPolicy",
    "SchemaError",
    "Subscription",
    "Topology",
    "default_catalogue",
]
