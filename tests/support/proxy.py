"""TCP proxies on 127.0.0.1 that break connections the way networks and servers do.

``TcpProxy`` stands between a client and one server (PostgreSQL, RabbitMQ, SMTP). Its modes
(``set_mode``), each as a network or a server would misbehave:
  pass       bytes flow both ways
  delay      every chunk waits ``delay`` seconds before it is passed on
  blackhole  connections are accepted and held, nothing is passed on (a partition)
  reset      every live connection is aborted (RST) and new ones are aborted at once
  refuse     the listening socket is closed: connections are refused
  smtp-421   (SMTP only) the greeting is "421 service not available" and the line is closed
  smtp-550   (SMTP only) a tiny SMTP dialogue that refuses every recipient with 550
Going back to ``pass`` aborts whatever the previous mode held, so clients reconnect. ``cut()``
aborts every live connection while the proxy keeps listening (both sides see a reset).

``Balancer`` stands in front of a cluster, as ops put one in front of RabbitMQ.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MODES = ("pass", "delay", "blackhole", "reset", "refuse", "smtp-421", "smtp-550")


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes one way until either side ends; then the other side is ended too."""
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


def via(url: str, port: int) -> str:
    """``url`` (credentials, path) pointed at 127.0.0.1:``port`` instead of its server."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@127.0.0.1:{port}" if auth else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.mode = "pass"
        self.delay = 0.5
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._writers: set[asyncio.StreamWriter] = set()  # the clients' and the server's
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()  # cleared while in blackhole: the pumps hold
        self._flowing.set()

    @classmethod
    def for_url(cls, url: str) -> TcpProxy:
        parts = urlsplit(url)
        return cls(parts.port or 5672, parts.hostname or "127.0.0.1")

    def url(self, url: str) -> str:
        """``url`` pointed at the proxy instead of its server."""
        return via(url, self.port)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def set_mode(self, mode: str, delay: float = 0.5) -> None:
        assert mode in MODES, mode
        self.mode, self.delay = mode, delay
        if mode == "blackhole":
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode in ("reset", "refuse", "pass"):
            self.cut()
        if mode == "refuse":
            await self._stop_listening()
        elif self._server is None:
            await self.start()

    def cut(self) -> int:
        """Abort every live connection; how many clients were connected."""
        live = sum(not writer.transport.is_closing() for writer in self._clients)
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        self._clients.clear()
        return live

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        mode = self.mode
        if mode == "reset":
            writer.transport.abort()
            return
        self._clients.add(writer)
        self._writers.add(writer)
        if mode == "blackhole":
            return  # held open, never answered, until the mode changes
        if mode == "smtp-421":
            writer.write(b"421 4.3.2 Service not available, closing channel\r\n")
            with contextlib.suppress(OSError):
                await writer.drain()
            writer.close()
            return
        if mode == "smtp-550":
            self._spawn(self._smtp_refusing(reader, writer))
            return
        try:
            up_r, up_w = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_w)
        self._spawn(self._pump(reader, up_w))
        self._spawn(self._pump(up_r, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                if self.mode == "delay":
                    await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

    @staticmethod
    async def _smtp_refusing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Enough SMTP for a client to reach RCPT TO, which is refused for good."""
        with contextlib.suppress(OSError, asyncio.CancelledError):
            writer.write(b"220 fault.local ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    await writer.drain()
                    break
                if verb == b"RCPT":
                    writer.write(b"550 5.1.1 Mailbox unavailable\r\n")
                elif verb == b"DATA":
                    writer.write(b"554 5.5.1 No valid recipients\r\n")
                elif verb == b"EHLO":
                    writer.write(b"250-fault.local\r\n250 8BITMIME\r\n")
                else:
                    writer.write(b"250 2.0.0 OK\r\n")
                await writer.drain()
        writer.transport.abort()

    async def close(self) -> None:
        await self._stop_listening()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Balancer:
    """A TCP load balancer on 127.0.0.1 in front of a cluster (as ops put one in front of
    RabbitMQ): each new connection goes to the next node in turn that accepts it, so clients
    with one address reconnect to a live node when theirs dies. It keeps no state of its own
    and never cuts a connection: a dying node does that."""

    def __init__(self, target_ports: list[int]) -> None:
        self.targets = list(target_ports)
        self.port = 0
        self.by_target: dict[int, int] = dict.fromkeys(target_ports, 0)  # connections made
        self._next = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, url: str) -> str:
        return via(url, self.port)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(len(self.targets)):
            target = self.targets[self._next % len(self.targets)]
            self._next += 1
            try:
                up_r, up_w = await asyncio.open_connection("127.0.0.1", target)
            except OSError:
                continue
            self.by_target[target] += 1
            self._writers.update((writer, up_w))
            for source, sink in ((reader, up_w), (up_r, writer)):
                task = asyncio.create_task(_relay(source, sink))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return
        writer.transport.abort()  # no node answers

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in self._writers:
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
