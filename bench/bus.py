"""Bus benchmark: the full outbox → relay → broker → consumer path, against plain publishing
to the broker.

    .venv/bin/python bench/bus.py [--events N] [--seconds S] [--aio-pika]

(a) raw: aio-pika publishing persistent messages with publisher confirms to a quorum queue,
    1,000 in flight at a time, one ``publish`` call each (what a plain aio-pika publisher
    gets; the relay, which writes a batch's frames at once, can beat it).
(b) end to end: events committed to the outbox in transactions of 500; the shared
    OutboxRelay publishes them; the shared Consumer (with its inbox) applies them, its
    batched handler inserting one row per event (one statement per run). As in production,
    the consumer is another process (another service) than the producer and its relay.
    Throughput, and latency from the outbox commit to the consumer's commit (the handler's
    row carries ``clock_timestamp()``): at full load (the producer stays at most a few
    transactions ahead, watching ``max(seq)`` of the handler's table, an index lookup) and
    at half that rate. And the CPU time per event at full load of each process (the
    producer's and its relay's, the consumer's): it moves far less than throughput when
    other work shares the machine, so it is the better figure to compare changes by.

It makes its own database and a unique bus prefix, and removes both afterwards.
PostgreSQL and RabbitMQ: ``EBOK_TEST_PG_DSN`` / ``EBOK_TEST_AMQP_URL`` or the local servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support: the test catalogue and the counting handler

import aio_pika  # noqa: E402
import asyncpg  # noqa: E402
import report  # noqa: E402  # bench/report.py, beside this script
from ebok_shared import db, logs  # noqa: E402
from ebok_shared.bus import (  # noqa: E402
    Consumer,
    Event,
    Outbox,
    OutboxRelay,
    RetryPolicy,
    Subscription,
    Topology,
)
from ebok_shared.loops import event_loop  # noqa: E402

from tests.support.bus import (  # noqa: E402
    CATALOGUE,
    INCREMENTED,
    PRODUCER,
    connect,
    consumer_queues,
    delete_bus_objects,
    prepare_database,
    record_many,
)
from tests.support.infra import DEFAULT_AMQP, DEFAULT_PG, dsn_for  # noqa: E402

TARGET_RATE = 5_000.0  # events/s end to end
TARGET_RATIO = 0.5  # end to end / raw
TRANSACTION = 500  # events per outbox transaction at full load
AHEAD = 2_000  # at full load the producer stays at most this many events ahead
CONSUMER = "bench"


@dataclass(frozen=True)
class Result:
    events: int
    seconds: float
    latencies: tuple[float, ...] = ()  # sorted, seconds
    cpu: tuple[float, float] = (0.0, 0.0)  # CPU seconds: producer and relay, consumer

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def percentile(self, p: float) -> float:
        values = self.latencies
        return values[min(len(values) - 1, int(p / 100 * len(values)))]


def _body() -> bytes:
    """A message the size of a real event on the wire."""
    return Event.new(INCREMENTED, {"n": 123456, "batch": 42}).to_json()


async def raw_publish(amqp_url: str, prefix: str, events: int, seconds: float | None) -> Result:
    """Publisher confirms to a quorum queue, 1,000 publishes in flight at a time."""
    connection = await aio_pika.connect(amqp_url)
    queue = f"{prefix}raw"
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
        body = _body()
        sent = 0
        started = time.perf_counter()
        deadline = started + seconds if seconds else None
        while (time.perf_counter() < deadline) if deadline else (sent < events):
            window = 1000 if deadline else min(1000, events - sent)
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        queue,
                    )
                    for _ in range(window)
                )
            )
            sent += window
        elapsed = time.perf_counter() - started
        await delete_bus_objects(connection, [queue], [])
        return Result(sent, elapsed)
    finally:
        await connection.close()


class Pipeline:
    """Producer and relay here; the consumer in a child process (``--consumer``)."""

    def __init__(self, dsn: str, pool: asyncpg.Pool, consumer: asyncio.subprocess.Process) -> None:
        self.dsn = dsn
        self.pool = pool
        self.consumer = consumer
        self.outbox = Outbox(CATALOGUE)
        self.batches = 0

    async def progress(self) -> int:
        """The newest applied row's ``seq``: one index lookup. (A count(*) scans the growing
        table; polled every few milliseconds it took PostgreSQL a good part of a core away
        from the pipeline under test.)"""
        return int(await self.pool.fetchval("SELECT coalesce(max(seq), 0) FROM applied"))

    async def consumer_cpu(self) -> float:
        """The consumer process's CPU time so far (it answers SIGUSR1 on its stdout, where
        its log lines go too)."""
        assert self.consumer.stdout is not None
        self.consumer.send_signal(signal.SIGUSR1)
        while not (line := await self.consumer.stdout.readline()).startswith(b"cpu "):
            if not line:
                raise RuntimeError("the consumer process ended")
        return float(line.split()[1])

    async def applied_since(self, seq: int) -> int:
        """Rows applied after ``seq``, counted exactly (a rolled-back insert leaves a gap in
        ``seq``, so ``progress`` alone could end a run early)."""
        return int(await self.pool.fetchval("SELECT count(*) FROM applied WHERE seq > $1", seq))

    async def run(self, events: int, seconds: float | None, *, rate: float | None = None) -> Result:
        """Commit ``events`` (or for ``seconds``), at ``rate`` events/s or as fast as the
        pipeline takes them; wait until all are applied."""
        size = TRANSACTION if rate is None else max(1, min(TRANSACTION, int(rate / 50)))
        base = await self.progress()
        first_batch = self.batches
        committed: dict[int, float] = {}  # batch → wall-clock time of its commit
        cpu = (time.process_time(), await self.consumer_cpu())
        started = time.time()
        deadline = started + seconds if seconds else None
        produced = 0
        while (time.time() < deadline) if deadline else (produced < events):
            if rate is not None:  # paced: batch k is due at started + k * size / rate
                await asyncio.sleep(max(0.0, started + produced / rate - time.time()))
            else:
                while produced - (await self.progress() - base) > AHEAD:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            count = size if deadline else min(size, events - produced)
            rows: list[tuple[Event, str | None]] = [
                (Event.new(INCREMENTED, {"n": produced + i, "batch": self.batches}), None)
                for i in range(count)
            ]
            async with self.pool.acquire() as conn, conn.transaction():
                await self.outbox.add_events(conn, rows)
            committed[self.batches] = time.time()
            produced += count
            self.batches += 1
        # Polling: the consumer is another process; the database is what we share.
        while await self.progress() - base < produced:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        while await self.applied_since(base) < produced:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        cpu = (time.process_time() - cpu[0], await self.consumer_cpu() - cpu[1])
        applied = await self.pool.fetch(
            "SELECT batch, extract(epoch FROM applied_at)::float8 AS at FROM applied"
            " WHERE batch >= $1",
            first_batch,
        )
        latencies = sorted(r["at"] - committed[r["batch"]] for r in applied)
        finished = max(r["at"] for r in applied)
        return Result(len(applied), finished - started, tuple(latencies), cpu)


@contextlib.asynccontextmanager
async def pipeline(
    dsn: str, amqp_url: str, prefix: str, fast_path: bool = True
) -> AsyncIterator[Pipeline]:
    await prepare_database(dsn)
    topology = Topology(prefix)
    pool = await db.create_pool(dsn, min_size=2, max_size=4)
    connection = await connect(amqp_url, "bench-producer")
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--consumer",
        dsn,
        amqp_url,
        prefix,
        stdout=asyncio.subprocess.PIPE,
    )
    relay_task: asyncio.Task[None] | None = None
    try:
        assert child.stdout is not None
        if await child.stdout.readline() != b"ready\n":  # queue declared, consuming
            raise RuntimeError("the consumer process did not start")
        relay = OutboxRelay(dsn, connection, topology=topology, fast_path=fast_path)
        relay_task = asyncio.create_task(relay.run())
        yield Pipeline(dsn, pool, child)
    finally:
        if relay_task is not None:
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
        await child.wait()
        await delete_bus_objects(
            connection,
            consumer_queues(topology, CONSUMER, RetryPolicy()),  # the consumer's default
            [topology.exchange(PRODUCER)],
        )
        await connection.close()
        await pool.close()


async def consume(dsn: str, amqp_url: str, prefix: str) -> None:
    """The consuming service: the shared Consumer with the counting handler, until SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: print("cpu", time.process_time(), flush=True))
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    connection = await connect(amqp_url, "bench-consumer")
    consumer = Consumer(
        CONSUMER,
        pool=pool,
        connection=connection,
        topology=Topology(prefix),
        catalogue=CATALOGUE,
        subscriptions=[Subscription(INCREMENTED, record_many, batched=True)],
    )
    await consumer.start()
    print("ready", flush=True)
    await stop.wait()
    await consumer.stop()
    await connection.close()
    await pool.close()


async def main(events: int, seconds: float | None, fast_path: bool) -> int:
    pg = os.environ.get("EBOK_TEST_PG_DSN", DEFAULT_PG)
    amqp_url = os.environ.get("EBOK_TEST_AMQP_URL", DEFAULT_AMQP)
    run = uuid.uuid4().hex[:8]
    prefix = f"bench{run}."
    name = f"ebok_bench_{run}"
    await db.ensure_database(pg, name)
    try:
        raw = await raw_publish(amqp_url, prefix, events, seconds)
        print(
            f"raw publish (confirms, quorum queue):  {raw.rate:7.0f} msg/s"
            f"  ({raw.events} in {raw.seconds:.1f} s)",
            flush=True,
        )
        async with pipeline(dsn_for(pg, name), amqp_url, prefix, fast_path) as pipe:
            e2e = await pipe.run(events, seconds)
            half = await pipe.run(
                int(e2e.rate * 5), 5.0 if seconds is None else seconds / 2, rate=e2e.rate / 2
            )
    finally:
        await db.drop_database(pg, name)
    ratio = e2e.rate / raw.rate
    print(f"relay publishing path:                 {'fast' if fast_path else 'aio-pika'}")
    print(
        f"end to end (outbox→relay→consumer):    {e2e.rate:7.0f} events/s"
        f"  ({e2e.events} in {e2e.seconds:.1f} s)"
    )
    print(f"ratio end to end / raw:                {ratio:7.2f}")
    for label, result in (("full load", e2e), (f"{half.rate:.0f} events/s", half)):
        print(
            f"latency commit→applied at {label}: p50 {result.percentile(50) * 1000:.0f} ms,"
            f" p99 {result.percentile(99) * 1000:.0f} ms"
        )
    producer, consumer = (seconds / e2e.events * 1e6 for seconds in e2e.cpu)
    print(
        f"CPU per event at full load: producer and relay {producer:.0f} µs,"
        f" consumer {consumer:.0f} µs"
    )
    ok = report.ratio(
        "bus-end-to-end", e2e.rate, raw.rate, TARGET_RATIO, "events/s", cpu_us=producer + consumer
    )
    ok = report.bound("bus-events", e2e.rate, TARGET_RATE, "events/s", at_least=True) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per phase")
    parser.add_argument("--seconds", type=float, help="run each phase this long instead")
    parser.add_argument(
        "--consumer", nargs=3, metavar=("DSN", "AMQP_URL", "PREFIX"), help=argparse.SUPPRESS
    )  # the child process
    parser.add_argument(
        "--aio-pika",
        action="store_true",
        help="the relay publishes through aio-pika, not its fast path (the fallback)",
    )
    args = parser.parse_args()
    logs.configure("bench", "WARNING")
    # Every process on the event loop the services serve on (uvloop), as in production.
    with asyncio.Runner(loop_factory=event_loop) as runner:
        if args.consumer:
            runner.run(consume(*args.consumer))
            raise SystemExit(0)
        raise SystemExit(runner.run(main(args.events, args.seconds, not args.aio_pika)))
