"""Redis commands on the hot paths over a connection of the process's own: commands pipelined
on one connection (Redis answers each connection's commands in order, so each reply goes to
the oldest waiting call), those asked in one turn of the event loop written at once, and the
replies parsed by hiredis.

Why: redis-py's asyncio client costs 100–140 µs of CPU per command here (a connection taken
from its pool and given back, retries, its observability hooks), this lane about 20 µs. Only
the commands of every request go this way: web's session read of every page
(``SessionStore.load``) and the gateway's rate limit (``RateLimiter.hit``); every other
command stays with redis-py, which owns the rest.

A call that gets no reply within ``timeout`` fails with redis-py's ``TimeoutError`` and ends
the connection (what is on it is unknown); a lost connection fails every call waiting on it
with ``ConnectionError``; the next call connects again. An error reply is ``ResponseError``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any

import hiredis
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = str | bytes | int


def pack(args: tuple[Arg, ...]) -> bytes:
    """A command as RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False
        # Commands asked in one turn of the event loop go in one write at its end: the requests
        # that came in together send theirs with one system call, not one each.
        self._pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's stream transports are not asyncio.Transport's subclasses (no isinstance)
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if not self._waiting:  # nothing asked this: the stream is not ours to read
                self.close()
                return
            waiter = self._waiting.popleft()
            if waiter.done():  # its caller gave up (timed out): the reply is its all the same
                continue
            if isinstance(reply, ResponseError):
                waiter.set_exception(reply)
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(RedisConnectionError("connection to Redis lost"))

    def send(self, command: bytes) -> asyncio.Future[Any]:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append(command)
        self._waiting.append(waiter)
        return waiter

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if self.transport is not None and not self.lost:
            self.transport.write(b"".join(pending))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.connection_lost(None)


class RedisLane:
    def __init__(self, url: str, timeout: float) -> None:
        self._options = parse_url(url)
        self.timeout = timeout
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()

    async def call(self, *args: Arg) -> Any:
        connection = self._connection
        if connection is None or connection.lost:
            connection = await self._connect()
        return await self._ask(connection, args)

    async def _ask(self, connection: _Connection, args: tuple[Arg, ...]) -> Any:
        waiter = connection.send(pack(args))
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.timeout, self._expire, connection, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()

    def _expire(self, connection: _Connection, waiter: asyncio.Future[Any]) -> None:
        if not waiter.done():
            waiter.set_exception(RedisTimeoutError("no reply from Redis in time"))
            connection.close()  # what else is on it is unknown: a new one for the next call

    async def _connect(self) -> _Connection:
        async with self._connecting:
            if self._connection is not None and not self._connection.lost:
                return self._connection  # another call connected meanwhile
            connection = await asyncio.wait_for(self._open(), self.timeout)
            self._connection = connection
            return connection

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        options = self._options
        try:
            if "path" in options:
                _, connection = await loop.create_unix_connection(_Connection, options["path"])
            else:
                secure = ssl.create_default_context() if _uses_tls(options) else None
                _, connection = await loop.create_connection(
                    _Connection,
                    options.get("host", "localhost"),
                    int(options.get("port", 6379)),
                    ssl=secure,
                )
        except OSError as exc:
            raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
        try:
            if options.get("password"):
                login = [options["username"]] if options.get("username") else []
                await self._ask(connection, ("AUTH", *login, options["password"]))
            if int(options.get("db") or 0):
                await self._ask(connection, ("SELECT", options["db"]))
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _uses_tls(options: dict[str, Any]) -> bool:
    connection_class = options.get("connection_class")
    return connection_class is not None and "SSL" in connection_class.__name__
