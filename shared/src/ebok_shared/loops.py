"""Background loops, written once: periodic ones and ones woken by PostgreSQL ``NOTIFY``.

One error policy for every loop: a pass that raises is logged with the loop's name and tried
again after a pause, so a loop never dies silently and never spins. A periodic loop's pause is
its interval; a LISTEN loop reconnects after 1 s, then 2, 4… up to 30 s while the database
stays away (back to 1 s after a connection that worked). Cancellation is the only way out.

``background(name, start)`` runs such a loop as a cleanup context: started with the app,
cancelled and awaited at shutdown, so the process does not exit under a pass.

``event_loop()`` is the loop every serving process runs on (uvloop).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, NoReturn

import asyncpg
import uvloop
from aiohttp import web

from . import db
from .logs import get_logger

log = get_logger(__name__)

Step = Callable[[], Awaitable[object]]


def event_loop() -> asyncio.AbstractEventLoop:
    """A new loop for a serving process: uvloop's (libuv), whose socket writes, timers and
    callbacks cost a fraction of the standard loop's — on a request path of a few database
    round trips and one answer, the loop itself was the largest single cost."""
    return uvloop.new_event_loop()


RECONNECT_FIRST = 1.0
RECONNECT_MAX = 30.0


async def every(name: str, interval: float | Callable[[], float], step: Step) -> NoReturn:
    """``step`` now and then every ``interval`` seconds after the previous pass ended.

    ``interval`` may be a function, read after each pass (settings a test can change).
    """
    while True:
        try:
            await step()
        except Exception as exc:  # any failure: logged, and the next pass tries again
            log.warning("background pass failed; next one will retry", loop=name, error=repr(exc))
        await asyncio.sleep(interval() if callable(interval) else interval)


async def listen(
    name: str,
    dsn: str,
    channels: Sequence[str],
    step: Step,
    *,
    on_notify: Mapping[str, Callable[[str], object]] | None = None,
    on_connect: Callable[[], object] | None = None,
    timeout: float | None = None,
) -> NoReturn:
    """``step`` once LISTENing and again after each notification on ``channels`` (several
    notifications during a pass make one more pass, not many), or after ``timeout`` seconds
    without one when given.

    ``on_notify`` maps further channels to a callback taking the payload, called as the
    notification arrives (it must not block). ``on_connect`` runs after LISTEN and before the
    first pass: what was missed while not listening is unknown, and nothing can slip in
    between LISTEN and that pass. Any error closes the connection and reconnects.
    """

    async def each_pass(_conn: asyncpg.Connection) -> None:
        await step()

    await listen_on(
        name,
        dsn,
        channels,
        each_pass,
        on_notify=on_notify,
        on_connect=on_connect,
        timeout=timeout,
    )


async def listen_on(
    name: str,
    dsn: str,
    channels: Sequence[str],
    step: Callable[[asyncpg.Connection], Awaitable[object]],
    *,
    on_notify: Mapping[str, Callable[[str], object]] | None = None,
    on_connect: Callable[[], object] | None = None,
    session: Callable[[asyncpg.Connection], contextlib.AbstractAsyncContextManager[object]]
    | None = None,
    timeout: float | None = None,
    wake: asyncio.Event | None = None,
    reconnect_first: float = RECONNECT_FIRST,
    reconnect_max: float = RECONNECT_MAX,
) -> NoReturn:
    """:func:`listen`, with ``step`` given the LISTEN connection to work on (one connection,
    not two: LISTEN and session advisory locks do not survive a pool's reset).

    ``session(conn)``, when given, is entered after LISTEN and before the first pass and
    exited before the connection closes (also on cancellation): what a connection holds while
    it is open, e.g. a session advisory lock and the work done under it. ``wake`` lets the
    caller wake the loop too (set it: one more pass). ``reconnect_first`` and
    ``reconnect_max`` bound the pause before reconnecting.
    """
    wake = wake if wake is not None else asyncio.Event()
    pause = reconnect_first
    while True:
        conn = None
        try:
            conn = await db.connect(dsn, name=name)
            # The loop waits on ``wake``, never on the connection: without this, a connection
            # the server ends (a restart, pg_terminate_backend) would leave it waiting for
            # notifications that can no longer come, for ever.
            conn.add_termination_listener(lambda *_: wake.set())
            for channel in channels:
                await conn.add_listener(channel, lambda *_: wake.set())
            for channel, callback in (on_notify or {}).items():
                await conn.add_listener(channel, _payload_to(callback))
            if on_connect is not None:
                on_connect()
            async with session(conn) if session is not None else _nothing():
                while True:
                    wake.clear()
                    await step(conn)
                    pause = reconnect_first  # this connection worked
                    if not wake.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(wake.wait(), timeout)
                    if conn.is_closed():
                        raise ConnectionError("the LISTEN connection was closed by the server")
        except Exception as exc:  # the connection or a pass failed: reconnect, after a pause
            log.warning("background loop failed; reconnecting", loop=name, error=repr(exc))
            await asyncio.sleep(pause)
            pause = min(pause * 2, reconnect_max)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.close(timeout=2))


@contextlib.asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


def _payload_to(callback: Callable[[str], object]) -> Callable[..., None]:
    def listener(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        callback(payload)

    return listener


def background(
    name: str, start: Callable[[web.Application], Coroutine[Any, Any, object]]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running ``start(app)`` (e.g. a loop above) as a task named ``name``
    for the app's lifetime: cancelled and awaited at shutdown."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        async with running(name, start(app)):
            yield

    return context


# How long a cancelled loop may take to end (a graceful finish included) before shutdown goes
# on without it: a loop that does not end must not hold the process's exit for ever.
STOP_WITHIN = 30.0


@contextlib.asynccontextmanager
async def running(
    name: str, loop: Coroutine[Any, Any, object], *, stop_within: float = STOP_WITHIN
) -> AsyncIterator[asyncio.Task[object]]:
    """``loop`` as a task while the block runs; cancelled and awaited when it ends (for at
    most ``stop_within`` seconds: then it is logged as an error and left behind)."""
    task = asyncio.create_task(loop, name=name)
    try:
        yield task
    finally:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=stop_within)
        if not done:
            log.error("background loop did not stop in time; left behind", loop=name)
        elif not task.cancelled() and task.exception() is not None:
            log.error("background loop had ended", loop=name, error=repr(task.exception()))
