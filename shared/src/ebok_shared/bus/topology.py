"""Names on the broker, in one place.

Each producing service owns a durable topic exchange ``<producer>.events``; the routing key
is the event type. Each consumer owns a durable quorum queue ``<service>.<consumer>``, with
retry tiers ``<queue>.retry.<n>`` that dead-letter back to that queue only, and a parking lot
``<queue>.dlq``. A prefix (``EBOK_BUS_PREFIX``) keeps test runs apart from a local stack.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topology:
    prefix: str = ""

    def exchange(self, producer: str) -> str:
        return f"{self.prefix}{producer}.events"

    def exchange_for(self, event_type: str) -> str:
        return self.exchange(event_type.split(".", 1)[0])

    def queue(self, consumer: str) -> str:
        return f"{self.prefix}{consumer}"

    def retry_queue(self, consumer: str, tier: int) -> str:
        return f"{self.queue(consumer)}.retry.{tier}"

    def dead_letter_queue(self, consumer: str) -> str:
        return f"{self.queue(consumer)}.dlq"

    def backoffice_queue(self, producer: str) -> str:
        """The utility's back-office system reads a producer's events for it from here."""
        return self.queue(f"backoffice.{producer}")
