"""A lean load generator for the services' benchmarks: plain HTTP/1.1 GETs and JSON POSTs
over kept-alive connections, one per concurrent caller (the way wrk loads a server).

The bare side of a service's ratio is loaded by asyncpg, a client in C; aiohttp's client
spent about as much CPU per request in the benchmark's process as the service did in its
own, on the same two cores, so the ratio measured the load generator as much as the
service. This one costs a fraction of it; each benchmark prints the client's CPU per call.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

_LENGTH = re.compile(rb"(?im)^content-length:\s*(\d+)")


class KeepAliveClient:
    def __init__(self, host: str, port: int, headers: Mapping[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self._host_line = f"Host: {host}:{port}\r\n"
        self._common = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self, size: int) -> None:
        """``size`` connections: as many as callers at once."""
        for _ in range(size):
            self._idle.append(await asyncio.open_connection(self.host, self.port))

    async def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """The status and body of ``GET path`` (the service answers with a length)."""
        return await self.request("GET", path, headers)

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """The status and body of ``POST path`` with a JSON ``body``."""
        return await self.request(
            "POST",
            path,
            {
                **(headers or {}),
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
            },
            body,
        )

    async def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> tuple[int, bytes]:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        request = (
            f"{method} {path} HTTP/1.1\r\n{self._host_line}{self._common}{extra}\r\n".encode()
            + body
        )
        reader, writer = self._idle.pop()
        try:
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as closed:
                if closed.partial:
                    raise
                # The server closed a connection kept idle too long: once more on a new one.
                writer.close()
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
            length = _LENGTH.search(head)
            assert length is not None, head
            body = await reader.readexactly(int(length[1]))
        except BaseException:
            writer.close()
            raise
        self._idle.append((reader, writer))
        return int(head[9:12]), body

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()
