"""SMTP to the configured relay with aiosmtplib: one reusable connection per sender worker,
and every failure sorted into temporary (retry later) or permanent (never retry)."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib.typing import SMTPStatus

from .compose import ascii_address, crlf_only
from .domain import PermanentFailure, RelayUnavailable, TemporaryFailure
from .settings import NotifierSettings


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str
    password: str
    validate_certs: bool
    timeout: float
    max_messages: int  # per connection, then a fresh one
    idle_seconds: float

    @classmethod
    def from_settings(cls, settings: NotifierSettings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.reveal(),
            validate_certs=settings.smtp_validate_certs,
            timeout=settings.smtp_timeout,
            max_messages=settings.smtp_max_messages_per_connection,
            idle_seconds=settings.smtp_idle_seconds,
        )


_LOCAL_HOSTNAME = socket.gethostname()  # EHLO name; getfqdn() may wait on DNS


class SmtpConnection:
    """A connection opened on first use and kept for the next messages."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._client: aiosmtplib.SMTP | None = None
        self._sent = 0
        self._last_used = time.monotonic()
        self._sender: str | None = None
        self._mail_from = b""

    async def send(self, message: bytes, *, sender: str, recipient: str) -> str:
        """Send one message (its bytes, CRLF line ends); returns the server's answer.
        Raises RelayUnavailable (no session with the relay), TemporaryFailure or
        PermanentFailure."""
        if self._connected_now() and self._sent >= self.config.max_messages:
            await self.close()
        reused = self._connected_now()
        if sender != self._sender:  # the same sender for every e-mail: checked once
            self._sender, self._mail_from = sender, b"FROM:" + _path(sender)
        envelope = (self._mail_from, b"TO:" + _path(recipient))
        try:
            client = await self._connected()
            try:
                return await self._transaction(client, message, envelope)
            except _NothingSent as lost:
                if not reused:
                    raise lost.cause from None
                # The relay closed a connection we kept, before it took anything of this
                # message (MAIL or RCPT found it gone): one more try on a fresh one, which
                # cannot deliver it twice.
                self._drop()
                client = await self._connected()
                try:
                    return await self._transaction(client, message, envelope)
                except _NothingSent as again:
                    raise again.cause from None
        except aiosmtplib.SMTPException as exc:
            if not self._connected_now():
                self._drop()
            raise classify(exc) from exc
        except (OSError, TimeoutError) as exc:
            self._drop()
            raise TemporaryFailure(f"połączenie z serwerem SMTP: {_describe(exc)}") from exc
        finally:
            self._last_used = time.monotonic()

    async def _transaction(
        self, client: aiosmtplib.SMTP, message: bytes, envelope: tuple[bytes, bytes]
    ) -> str:
        """MAIL, RCPT and DATA, the commands ``sendmail`` sends, without what it spends per
        message on our already checked single-recipient envelope (the addresses parsed four
        times, the message's line ends normalised twice): about half the client's CPU time
        per e-mail. A refusal before DATA resets the envelope, so the connection can carry
        the next message."""
        mail_from, rcpt_to = envelope
        try:
            options = [b"SIZE=%d" % len(message)] if client.supports_extension("size") else []
            answer = await client.execute_command(b"MAIL", mail_from, *options)
            if answer.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPSenderRefused(answer.code, answer.message, _text(mail_from))
            answer = await client.execute_command(b"RCPT", rcpt_to)
            if answer.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                raise aiosmtplib.SMTPRecipientRefused(answer.code, answer.message, _text(rcpt_to))
        except aiosmtplib.SMTPServerDisconnected as exc:
            raise _NothingSent(exc) from exc
        except aiosmtplib.SMTPResponseException:
            await self._reset(client)
            raise
        try:
            # From here the relay may have the message even if we never hear its answer: a
            # lost connection is a temporary failure, tried again later (same Message-ID).
            answer = await send_data(client, message)
        except aiosmtplib.SMTPResponseException:
            await self._reset(client)
            raise
        self._sent += 1
        return f"{answer.code} {answer.message}".strip()

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        """RSET after a refused envelope or content; a relay that will not is dropped (the
        next message gets a fresh connection)."""
        if not client.is_connected:
            return
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            self._drop()

    def _connected_now(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def _connected(self) -> aiosmtplib.SMTP:
        """The open session, or a new one: connect, EHLO (or HELO), STARTTLS or TLS, login."""
        if self._client is not None and self._client.is_connected:
            return self._client
        self._drop()
        cfg = self.config
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            use_tls=cfg.security == "tls",
            start_tls=cfg.security == "starttls",
            username=cfg.username or None,
            password=cfg.password or None,
            validate_certs=cfg.validate_certs,
            timeout=cfg.timeout,
            local_hostname=_LOCAL_HOSTNAME,
        )
        try:
            await client.connect()
            if client.is_ehlo_or_helo_needed:  # no STARTTLS or login asked for it
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await client.helo()
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise RelayUnavailable(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            client.close()
            raise RelayUnavailable(f"połączenie z serwerem SMTP: {_describe(exc)}") from exc
        self._client, self._sent = client, 0
        return client

    def idle_too_long(self) -> bool:
        return (
            self._client is not None
            and time.monotonic() - self._last_used > self.config.idle_seconds
        )

    async def close(self) -> None:
        """QUIT politely; a connection that is already gone is just dropped."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await client.quit(timeout=5)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            client.close()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


async def send_data(client: aiosmtplib.SMTP, message: bytes) -> aiosmtplib.SMTPResponse:
    """DATA and ``message`` on a connected, greeted ``client``: the conversation and the
    errors of ``client.data``. That puts the whole message through two regular expressions
    (line ends made CRLF, then dot-stuffing), ~50 µs for a 4 kB e-mail, the largest single
    cost of building and sending one. A message whose line ends are all CRLF already (ours:
    compose writes them so, and marks them as such: compose.CrlfMessage) needs only its dots
    stuffed, done here with substring searches (~10 µs, 4 µs for a marked one); any other
    message, or an aiosmtplib whose protocol no longer has the parts
    used here, goes through ``client.data`` as before."""
    protocol = client.protocol
    lock = getattr(protocol, "_command_lock", None)
    if (
        protocol is None
        or not isinstance(lock, asyncio.Lock)
        or not hasattr(protocol, "_response_pending")
        or not crlf_only(message)
    ):
        return await client.data(message)
    if b"\n." in message:
        message = message.replace(b"\n.", b"\n..")
    if message.startswith(b"."):
        message = b"." + message
    try:
        # protocol.execute_data_command without its rewriting of the message.
        async with lock:
            protocol._response_pending = True
            protocol.write(b"DATA\r\n")
            start = await protocol.read_response(timeout=client.timeout)
            if start.code != SMTPStatus.start_input:
                raise aiosmtplib.SMTPDataError(start.code, start.message)
            protocol._response_pending = True
            protocol.write(message + b".\r\n")
            answer = await protocol.read_response(timeout=client.timeout)
            if answer.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPDataError(answer.code, answer.message)
            return answer
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()  # as client.data does: a connection out of step is not used again
        raise


def classify(exc: aiosmtplib.SMTPException) -> TemporaryFailure | PermanentFailure:
    """A 5xx answer to this message (sender, recipient, content) is permanent; a 4xx, a lost
    connection, a timeout or a refusal of the relay itself (greeting, EHLO, login: our
    configuration, not this e-mail) is temporary."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refusals = exc.recipients
        answer = "; ".join(f"{r.code} {r.message}" for r in refusals)
        if refusals and all(r.code >= 500 for r in refusals):
            return PermanentFailure(answer)
        return TemporaryFailure(answer)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        answer = f"{exc.code} {exc.message}"
        per_message = isinstance(
            exc,
            aiosmtplib.SMTPSenderRefused
            | aiosmtplib.SMTPDataError
            | aiosmtplib.SMTPRecipientRefused,
        )
        if exc.code >= 500 and per_message:
            return PermanentFailure(answer)
        return TemporaryFailure(answer)
    return TemporaryFailure(f"SMTP: {_describe(exc)}")


class _NothingSent(Exception):
    """The connection was lost before the relay took any part of the message."""

    def __init__(self, cause: aiosmtplib.SMTPServerDisconnected) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _path(address: str) -> bytes:
    """``<address>`` for MAIL FROM / RCPT TO, as in the To header (compose.ascii_address)."""
    return f"<{ascii_address(address)}>".encode("ascii")


def _text(path: bytes) -> str:
    return path.split(b":", 1)[1].strip(b"<>").decode("ascii")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
