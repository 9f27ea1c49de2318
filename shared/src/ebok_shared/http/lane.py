"""Bodiless GETs over plain kept-alive HTTP/1.1 connections of the caller's own, to one
server (``HttpLane``: web's to the gateway, the gateway's to each service).

Why: aiohttp's client spends about 100 µs of CPU on a call (its request and response
objects, tracing hooks, cookie jar, URL building by yarl, timers and the connector's
bookkeeping), none of which such a call needs; here a call costs about a third of that: the
request written as bytes, the answer's head parsed and its body read by ``Content-Length``.
Web asks the gateway on every page, the gateway asks four services for every dashboard.

Only what this can do exactly goes this way: a GET of an address made of plain URL
characters, headers without line breaks, an answer whose end its head tells (a length, or a
status without a body). Anything else (``https``, chunked or compressed answers, an
interim 1xx, a redirect, the cap of open connections reached) is ``None``: the caller asks
through aiohttp instead, which a GET allows (RFC 9110 9.2.2); the connection of an answer
left unread is closed, never used again. A kept connection the server had closed meanwhile
(the request met the close, no byte came back) is tried once more on a new one (RFC 9112
9.3.1), as every HTTP client does. A call that gets no answer within its timeout raises
``TimeoutError``; a connection lost or refused raises ``aiohttp.ClientConnectionError``:
the errors callers of aiohttp already handle.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

# What an address may hold to be written as it is (RFC 3986's unreserved and reserved
# characters and percent-escapes): anything else is aiohttp's to encode.
_PLAIN_TARGET = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$")
_NO_BODY = (204, 304)


class _Unsupported(Exception):
    """An answer this lane does not read (its connection is closed, the call goes by aiohttp)."""


class _Stale(Exception):
    """A kept connection closed by the server before any byte of the answer came."""


class _Answer:
    __slots__ = ("body", "headers", "keep", "status")

    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes, keep: bool) -> None:
        self.status, self.headers, self.body, self.keep = status, headers, body, keep


# A header line as this lane reads it: a token, a colon, the value without the spaces around
# it. A head with any other line is left to aiohttp (``_Unsupported``).
_HEADER_LINE = re.compile(
    r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n]*?)[ \t]*\r\n", re.MULTILINE
)


def _head(raw: bytes) -> tuple[int, CIMultiDict[str], int, bool]:
    """The status, headers, body length and whether the connection may be kept, of a head."""
    text = raw.decode("latin-1")
    first, _, rest = text.partition("\r\n")
    version, _, after = first.partition(" ")
    code = after[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not code.isdigit():
        raise _Unsupported(f"status line {first[:40]!r}")
    status = int(code)
    # every line read in one pass (the head comes without its last CRLF: one added); a line
    # the pattern skips leaves fewer found than there are lines
    found = _HEADER_LINE.findall(rest + "\r\n") if rest else []
    if rest and len(found) != rest.count("\n") + 1:
        raise _Unsupported("header line")
    headers: CIMultiDict[str] = CIMultiDict(found)
    if status < 200 or "Transfer-Encoding" in headers:
        raise _Unsupported(f"status {status} or a transfer coding")
    if 300 <= status < 400 and status != 304:
        raise _Unsupported("a redirect")  # aiohttp follows it: the caller's answer as before
    if headers.get("Content-Encoding", "identity").lower() != "identity":
        raise _Unsupported("a content coding")
    if status in _NO_BODY:
        length = 0
    else:
        lengths = set(headers.getall("Content-Length", ()))
        if len(lengths) != 1 or not (length_text := lengths.pop()).isdigit():
            raise _Unsupported("no single Content-Length")  # the body would end at close
        length = int(length_text)
    connection = headers.get("Connection", "").lower()
    keep = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    return status, headers, length, keep


def _expire(waiter: asyncio.Future[_Answer]) -> None:
    """A call's deadline passed before its answer came."""
    if not waiter.done():
        waiter.set_exception(TimeoutError("no answer in time"))


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.idle_since = 0.0
        self.forgotten = False  # counted out of the lane's open connections
        self._buffer = bytearray()
        self._head: tuple[int, CIMultiDict[str], int, bool] | None = None
        self._waiter: asyncio.Future[_Answer] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's stream transports are not asyncio.Transport's subclasses (no isinstance)
        self.transport = transport  # type: ignore[assignment]

    def exchange(self, request: bytes) -> asyncio.Future[_Answer]:
        assert self.transport is not None
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        self._buffer.clear()
        self._head = None
        self.transport.write(request)
        return waiter

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # nothing asked: the stream is not ours to read
            self.close()
            return
        try:
            if self._head is None and not self._buffer:
                # The usual: the head (and, often, the whole answer) in one piece, read from
                # it as it came, not copied into the buffer and out again.
                end = data.find(b"\r\n\r\n")
                if end >= 0:
                    self._head = _head(data[:end])
                    data = data[end + 4 :]
                    if len(data) == self._head[2]:
                        self._answer(waiter, data)
                        return
            self._buffer += data
            if self._head is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                self._head = _head(bytes(self._buffer[:end]))
                del self._buffer[: end + 4]
            length = self._head[2]
            if len(self._buffer) < length:
                return
            if len(self._buffer) > length:
                raise _Unsupported("bytes beyond the answer")
        except _Unsupported as exc:
            waiter.set_exception(exc)
            self.close()
            return
        self._answer(waiter, bytes(self._buffer))
        self._buffer.clear()

    def _answer(self, waiter: asyncio.Future[_Answer], body: bytes) -> None:
        assert self._head is not None
        status, headers, _, keep = self._head
        self._waiter = None
        waiter.set_result(_Answer(status, headers, body, keep))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            if self._head is None and not self._buffer:
                waiter.set_exception(_Stale())
            else:
                waiter.set_exception(aiohttp.ServerDisconnectedError("answer cut short"))

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.close()
        self.connection_lost(None)


class HttpLane:
    """Bodiless GETs to the server at ``base_url`` (its path a prefix of every call's),
    at most ``limit`` connections open; ``timeout`` bounds a call unless it gives its own."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        connect_timeout: float = 2.0,
        limit: int = 200,
        keepalive: float = 30.0,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        self.usable = parts.scheme == "http" and parts.hostname is not None
        self._host = parts.hostname or ""
        self._port = parts.port or 80
        self._prefix = parts.path
        self._host_line = f"Host: {parts.netloc}\r\n"
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.limit, self.keepalive = limit, keepalive
        self._idle: list[_Connection] = []
        self._open = 0  # connections now open: idle, connecting or in a call

    def request_bytes(self, path: str, headers: Mapping[str, str]) -> bytes | None:
        """The request as written, or None when it cannot be written as it is."""
        target = self._prefix + path
        if not _PLAIN_TARGET.match(target):
            return None
        lines = [f"GET {target} HTTP/1.1\r\n", self._host_line]
        lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
        lines.append("\r\n")
        head = "".join(lines)
        # a line break in a name or a value would be one more line than written
        if head.count("\n") != len(lines) or head.count("\r") != len(lines):
            return None
        try:
            return head.encode("latin-1")
        except UnicodeEncodeError:
            return None

    async def get(
        self, path: str, headers: Mapping[str, str], *, timeout: float | None = None
    ) -> tuple[int, CIMultiDict[str], bytes] | None:
        """The server's answer to ``GET <base_url>path``: status, headers, body; None when
        this lane does not make the call (the caller then asks by aiohttp). The answer comes
        within ``timeout`` (the lane's own when not given), connecting included."""
        if not self.usable:
            return None
        request = self.request_bytes(path, headers)
        if request is None:
            return None
        # One deadline for the call, kept by a timer on the answer's future (asyncio.timeout's
        # context manager cost about a tenth of a call's CPU here).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        connection = self._take()
        if connection is None:
            if self._open >= self.limit:
                return None
            connection = await self._connect(deadline)
            return await self._exchange(connection, request, deadline, kept=False)
        try:
            return await self._exchange(connection, request, deadline, kept=True)
        except _Stale:
            # the server closed the kept connection as the request went: once more
            connection = await self._connect(deadline)
            return await self._exchange(connection, request, deadline, kept=False)

    async def _exchange(
        self, connection: _Connection, request: bytes, deadline: float, *, kept: bool
    ) -> tuple[int, CIMultiDict[str], bytes] | None:
        waiter = connection.exchange(request)
        timer = asyncio.get_running_loop().call_at(deadline, _expire, waiter)
        try:
            answer = await waiter
        except _Unsupported:
            self._forget(connection)
            return None
        except _Stale:
            self._forget(connection)
            if kept:
                raise
            raise aiohttp.ServerDisconnectedError("closed before answering") from None
        except BaseException:  # timed out, cancelled, lost: what is on it is unknown
            connection.close()
            self._forget(connection)
            raise
        finally:
            timer.cancel()
        if answer.keep and not connection.lost and len(self._idle) < self.limit:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
            self._forget(connection)
        return answer.status, answer.headers, answer.body

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely closed
            if not connection.lost and now - connection.idle_since < self.keepalive:
                return connection
            connection.close()
            self._forget(connection)
        return None

    async def _connect(self, deadline: float) -> _Connection:
        """A new connection within ``connect_timeout`` (else an error to connect, as aiohttp's)
        and the call's ``deadline`` (else the call's ``TimeoutError``)."""
        loop = asyncio.get_running_loop()
        self._open += 1
        try:
            async with asyncio.timeout_at(min(deadline, loop.time() + self.connect_timeout)):
                _, connection = await loop.create_connection(_Connection, self._host, self._port)
        except OSError as exc:  # TimeoutError too
            self._open -= 1
            if isinstance(exc, TimeoutError) and loop.time() >= deadline:
                raise  # the call's own time is up
            raise aiohttp.ClientConnectionError(f"cannot connect to {self._host}: {exc}") from exc
        except BaseException:
            self._open -= 1
            raise
        return connection

    def _forget(self, connection: _Connection) -> None:
        """A connection closed for good (once: a closed one is never kept again)."""
        if not connection.forgotten:
            connection.forgotten = True
            self._open -= 1

    def close(self) -> None:
        while self._idle:
            connection = self._idle.pop()
            connection.close()
            self._forget(connection)
