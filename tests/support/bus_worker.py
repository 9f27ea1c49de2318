"""A bus component in a child process, for tests where it has to die for real.

    python -m tests.support.bus_worker ROLE DSN AMQP_URL PREFIX

Roles:
  consumer-dies-on-ack      consume with the counting handler; where the consumer would ack
                            (after its transaction committed) the process exits at once.
  relay-dies-before-delete  run the outbox relay; once a batch is published and confirmed,
                            where the relay would delete the rows, the process exits at once.
  consumer-echoes           JSON logs at DEBUG on stdout; the handler records the event and adds
                            a ``test.counter.echoed`` to the outbox. Runs until SIGTERM.

The dying roles exit with ``DIED`` from ``os._exit``: no cleanup, no goodbye to the broker or
the database, as with a killed process. The patches live here only, never in the library.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiormq
import asyncpg
from ebok_shared import db, logs
from ebok_shared.bus import Consumer, Event, Outbox, OutboxRelay, Subscription, Topology

from tests.support.bus import CATALOGUE, ECHOED, FAST_RETRY, INCREMENTED, connect, record

DIED = 86
REPO_ROOT = Path(__file__).resolve().parents[2]


async def spawn(
    role: str, dsn: str, amqp_url: str, prefix: str, publish_path: str = "fast"
) -> asyncio.subprocess.Process:
    """Start a worker (a relay publishing by ``publish_path``, one of PUBLISH_PATHS); its
    stdout and stderr are pipes the caller reads."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.bus_worker",
        role,
        dsn,
        amqp_url,
        prefix,
        publish_path,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def _die(*_: Any, **__: Any) -> None:
    os._exit(DIED)


async def _echo(conn: asyncpg.Connection, event: Event) -> None:
    logs.get_logger(__name__).info("echoing", n=event.payload["n"])
    await record(conn, event)
    await Outbox(CATALOGUE).add(conn, ECHOED, {"n": event.payload["n"]})


async def main(role: str, dsn: str, amqp_url: str, prefix: str, publish_path: str) -> None:
    topology = Topology(prefix)
    connection = await connect(amqp_url, name=f"bus-worker:{role}")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if role == "relay-dies-before-delete":
        execute = asyncpg.Connection.execute

        async def execute_or_die(
            self: asyncpg.Connection, query: str, *args: Any, **kw: Any
        ) -> Any:
            if query.lstrip().startswith("DELETE FROM outbox"):
                _die()
            return await execute(self, query, *args, **kw)

        # a fault injected into asyncpg for this worker process only
        asyncpg.Connection.execute = execute_or_die  # type: ignore[method-assign]
        fast_path = publish_path == "fast"
        relay = OutboxRelay(
            dsn, connection, topology=topology, poll_interval=0.1, fast_path=fast_path
        )
        assert relay.fast_path == fast_path
        await relay.run()
        return
    if role == "consumer-dies-on-ack":
        # a fault injected into aiormq for this worker process only
        aiormq.Channel.basic_ack = _die  # type: ignore[method-assign, assignment]
        handler = record
    elif role == "consumer-echoes":
        logs.configure("bus-worker", "DEBUG")  # "event handled" is a debug line
        handler = _echo
    else:
        raise SystemExit(f"unknown role {role}")
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    consumer = Consumer(
        "counter",
        pool=pool,
        connection=connection,
        subscriptions=[Subscription(INCREMENTED, handler)],
        topology=topology,
        catalogue=CATALOGUE,
        retry=FAST_RETRY,
    )
    await consumer.start()
    print('{"worker": "ready"}', flush=True)
    await stop.wait()
    await consumer.stop()
    await pool.close()
    await connection.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
