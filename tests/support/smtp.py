"""A real SMTP server for tests: aiosmtpd on a free local port, in its own thread.

It keeps every message it accepted (envelope and raw bytes), can be told to answer the next
N messages or recipients with a given code (421: try later, 550: refused), to keep the next
N clients waiting past their timeout, to cut the connection of the next N clients at MAIL FROM
or to cut every open connection (a relay closing kept connections), and can be stopped and
started again on the same port to play an outage. It can require STARTTLS or implicit TLS
and a login.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import email
import email.policy
import ssl
import tempfile
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.commands import free_port

_HEADERS = BytesHeaderParser(policy=email.policy.default)


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: tuple[str, int]  # the client's end of the connection it came over
    login: str | None  # the user name it authenticated as, if any

    @property
    def message_id(self) -> str:
        return str(_HEADERS.parsebytes(self.data)["Message-ID"])

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.server._seen(server, tuple(session.peer[:2]))
        if self.server._cut():
            server.transport.abort()  # gone without a word; nothing of the message arrived
            return "421 closing"  # never written: the transport is closed
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        pause = self.server._pause()
        if pause:
            await asyncio.sleep(pause)  # the client gives up waiting; nothing was sent yet
        refusal = self.server._refusal()
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        return self.server._accept(
            Received(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                bytes(envelope.original_content),
                tuple(session.peer[:2]),
                login,
            )
        )


class _Credentials:
    """aiosmtpd authenticator accepting one user name and password."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.username,
            self.password,
        )
        return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)


class SmtpServer:
    """``tls``: "starttls" (offered and required) or "implicit" (TLS from the first byte), with
    a fresh self-signed certificate; ``credentials``: require AUTH (PLAIN/LOGIN) with this
    user name and password."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._options: dict[str, Any] = {}
        if tls == "starttls":
            self._options.update(tls_context=_self_signed_context(host), require_starttls=True)
        elif tls == "implicit":
            self._options.update(ssl_context=_self_signed_context(host))
        if credentials is not None:
            self._options.update(
                authenticator=_Credentials(*credentials),
                auth_required=True,
                auth_require_tls=tls == "starttls",  # aiosmtpd sees no STARTTLS under implicit TLS
            )
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._answers: collections.deque[str] = collections.deque()
        self._pauses: collections.deque[float] = collections.deque()
        self._recipient_refusals: collections.deque[str] = collections.deque()
        self._cuts = 0
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()  # server sides seen at MAIL
        self._peers: set[tuple[str, int]] = set()  # their clients' ends
        self._refused = 0
        self._controller: Controller | None = None

    # -- control --------------------------------------------------------------------------------

    def start(self) -> None:
        assert self._controller is None, "already running"
        controller = Controller(_Handler(self), hostname=self.host, port=self.port, **self._options)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Close the port and every open connection: clients get 'connection refused'."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def fail_next(self, count: int, code: int = 421, text: str | None = None) -> None:
        """Answer the next ``count`` messages (at the end of DATA) with ``code``."""
        default = "Service not available, try again later" if code < 500 else "Mailbox unavailable"
        with self._lock:
            self._answers.extend([f"{code} {text or default}"] * count)

    def hang_next(self, count: int, seconds: float) -> None:
        """Keep the next ``count`` clients waiting ``seconds`` for the answer to RCPT TO (a
        relay that does not answer in time; their message is never transmitted)."""
        with self._lock:
            self._pauses.extend([seconds] * count)

    def refuse_next_recipients(self, count: int, code: int = 550) -> None:
        """Answer the next ``count`` RCPT TO with ``code`` (the envelope stays open: the
        client has to reset it before its next message)."""
        with self._lock:
            self._recipient_refusals.extend([f"{code} Recipient refused"] * count)

    def _refusal(self) -> str | None:
        with self._lock:
            if not self._recipient_refusals:
                return None
            self._refused += 1
            return self._recipient_refusals.popleft()

    def cut_next(self, count: int) -> None:
        """Close the connection of the next ``count`` clients when they send MAIL FROM,
        without an answer (a relay that dropped a kept connection just as it was used)."""
        with self._lock:
            self._cuts += count

    def cut_connections(self) -> None:
        """Close every open client connection now, keeping the port open (a relay ending
        the connections its clients keep between messages)."""
        controller = self._controller
        assert controller is not None, "not running"

        def cut() -> None:
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.abort()

        asyncio.run_coroutine_threadsafe(_call(cut), controller.loop).result(5)

    def _cut(self) -> bool:
        with self._lock:
            if self._cuts:
                self._cuts -= 1
                return True
            return False

    def _seen(self, session: Any, peer: tuple[str, int]) -> None:
        with self._lock:
            self._sessions.add(session)
            self._peers.add(peer)

    def _pause(self) -> float:
        with self._lock:
            return self._pauses.popleft() if self._pauses else 0.0

    # -- what arrived ---------------------------------------------------------------------------

    def _accept(self, received: Received) -> str:
        with self._lock:
            if self._answers:
                self._refused += 1
                return self._answers.popleft()
            self._received.append(received)
            return "250 OK: queued"

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._received)

    @property
    def refused(self) -> int:
        """Messages answered with a failure code (and so not kept)."""
        with self._lock:
            return self._refused

    def message_ids(self) -> collections.Counter[str]:
        """How many copies of each Message-ID arrived."""
        return collections.Counter(m.message_id for m in self.messages)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]

    def connections(self) -> set[tuple[str, int]]:
        """The client connections messages came over (reuse keeps this small)."""
        return {m.peer for m in self.messages}

    def connections_used(self) -> set[tuple[str, int]]:
        """Every client connection that began a message (MAIL FROM), accepted or not."""
        with self._lock:
            return set(self._peers)


async def _call(function: Any) -> None:
    function()


def _self_signed_context(host: str) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="ebok-smtp-tls-"))
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


@contextmanager
def running_smtp(**options: Any) -> Iterator[SmtpServer]:
    server = SmtpServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
