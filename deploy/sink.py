"""A local SMTP sink: accepts every message, keeps it in a Maildir, lists it on a web page.

For the local run and tests, never for production (a development tool in ``deploy/``, in
no service image; aiosmtpd is a development dependency only). ``python -m deploy.sink`` reads
``EBOK_SINK_HOST`` (127.0.0.1), ``EBOK_SINK_SMTP_PORT`` (1025), ``EBOK_SINK_HTTP_PORT`` (8025)
and ``EBOK_SINK_MAILDIR`` (``var/mail``). Tests call ``start_sink(...)`` and ``await
sink.stop()``. The web page escapes everything; a message's HTML part is shown only inside a
sandboxed iframe (``srcdoc``, no scripts, no outside resources) and as escaped source.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.policy
import mailbox
import re
import signal
import sys
import warnings
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from ebok_shared import logs
from ebok_shared.config import ConfigError, Settings

log = logs.get_logger(__name__)

LOCAL_TZ = ZoneInfo("Europe/Warsaw")
_KEY_TIME = re.compile(r"^(\d+)\.M(\d+)")
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src data:"
_HEADERS = {
    "Content-Security-Policy": _PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;vertical-align:top}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}iframe{width:100%;height:30em;"
    "border:1px solid #ccc}.meta td:first-child{color:#666;width:8em}"
)


@dataclass(frozen=True, kw_only=True)
class SinkSettings(Settings):
    sink_host: str = "127.0.0.1"
    sink_smtp_port: int = 1025
    sink_http_port: int = 8025
    sink_maildir: str = "var/mail"
    log_level: str = "INFO"


# -- keeping -------------------------------------------------------------------------------------
class MaildirHandler:
    """aiosmtpd handler: every message goes into the Maildir, with its envelope on top."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        trace = (
            f"Return-Path: <{envelope.mail_from}>\nX-Original-To: {', '.join(envelope.rcpt_tos)}\n"
        ).encode("utf-8", errors="replace")
        key = await asyncio.to_thread(self._store, trace + content.replace(b"\r\n", b"\n"))
        log.info("mail kept", key=key, mail_from=envelope.mail_from, rcpt_tos=envelope.rcpt_tos)
        return "250 OK: kept"

    def _store(self, raw: bytes) -> str:
        return mailbox.Maildir(self.maildir, create=True).add(raw)


def _accept_any_login(*_: Any) -> AuthResult:
    return AuthResult(success=True)


# -- reading -------------------------------------------------------------------------------------
def _parse(raw: bytes, *, headers_only: bool = False) -> EmailMessage:
    parser = BytesParser(policy=email.policy.default)
    message = parser.parsebytes(raw, headersonly=headers_only)
    assert isinstance(message, EmailMessage)
    return message


def _header(message: Message, name: str) -> str:
    """The header decoded (RFC 2047 encoded-words included); the raw text if it is broken."""
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except Exception:  # a malformed header must not break the page
        raw = message.get_all(name) or [""]
        return str(raw[0])


def _delivered(key: str) -> dt.datetime:
    match = _KEY_TIME.match(key)
    if not match:
        return dt.datetime.fromtimestamp(0, dt.UTC)
    seconds, micros = int(match[1]), int(match[2])
    return dt.datetime.fromtimestamp(seconds + micros / 1e6, dt.UTC)


def _shown_date(message: Message, key: str) -> str:
    when = _delivered(key)
    with_date = _header(message, "Date")
    if with_date:
        try:
            when = parsedate_to_datetime(with_date)
        except (TypeError, ValueError):
            pass
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Summary:
    key: str
    date: str
    sender: str
    to: str
    subject: str


def list_messages(maildir: Path) -> list[Summary]:
    """Every kept message, newest first."""
    box = mailbox.Maildir(maildir, create=True)
    found = []
    for key in sorted(box.keys(), key=lambda k: (_delivered(k), k), reverse=True):
        try:
            message = _parse(box.get_bytes(key), headers_only=True)
        except KeyError:  # removed meanwhile
            continue
        found.append(
            Summary(
                key=key,
                date=_shown_date(message, key),
                sender=_header(message, "From"),
                to=_header(message, "To") or _header(message, "X-Original-To"),
                subject=_header(message, "Subject"),
            )
        )
    return found


def read_message(maildir: Path, key: str) -> bytes | None:
    try:
        return mailbox.Maildir(maildir, create=True).get_bytes(key)
    except KeyError:
        return None


# -- the web page --------------------------------------------------------------------------------
def _page(title: str, body: str) -> web.Response:
    html = (
        f'<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers=_HEADERS)


def _link(key: str, suffix: str = "") -> str:
    return f"/messages/{quote(key, safe='')}{suffix}"


async def listing(request: web.Request) -> web.Response:
    maildir: Path = request.app[MAILDIR]
    summaries = await asyncio.to_thread(list_messages, maildir)
    rows = "".join(
        f"<tr><td>{escape(s.date)}</td><td>{escape(s.sender)}</td><td>{escape(s.to)}</td>"
        f'<td><a href="{escape(_link(s.key))}">{escape(s.subject) or "(bez tematu)"}</a></td></tr>'
        for s in summaries
    )
    table = (
        "<table><tr><th>Data</th><th>Od</th><th>Do</th><th>Temat</th></tr>" + rows + "</table>"
        if summaries
        else "<p>Brak wiadomości.</p>"
    )
    body = (
        f"<h1>Poczta testowa e-BOK</h1><p>Wiadomości: {len(summaries)}, najnowsze na górze. "
        f"Katalog Maildir: <code>{escape(str(maildir))}</code></p>{table}"
    )
    return _page("Poczta testowa e-BOK", body)


Attachment = tuple[int, str, str, int]  # index in walk(), file name, content type, size


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _parts(message: EmailMessage) -> tuple[list[str], list[str], list[Attachment]]:
    """The text/plain parts, the text/html parts and the attachments of a message."""
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        inline_text = kind in ("text/plain", "text/html")
        if part.get_content_disposition() == "attachment" or not inline_text:
            name = part.get_filename() or "(bez nazwy)"
            attachments.append((index, name, kind, len(_payload(part))))
            continue
        try:
            content = str(part.get_content())
        except (LookupError, ValueError):  # an unknown or lying charset
            content = _payload(part).decode("utf-8", errors="replace")
        (texts if kind == "text/plain" else htmls).append(content)
    return texts, htmls, attachments


async def message_page(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    raw = await asyncio.to_thread(read_message, request.app[MAILDIR], key)
    if raw is None:
        raise web.HTTPNotFound(text="Nie ma takiej wiadomości.")
    message = _parse(raw)
    texts, htmls, attachments = _parts(message)
    fields = [("Data", _shown_date(message, key))] + [
        (label, _header(message, name))
        for label, name in (
            ("Od", "From"),
            ("Do", "To"),
            ("Temat", "Subject"),
            ("Koperta: od", "Return-Path"),
            ("Koperta: do", "X-Original-To"),
            ("Message-ID", "Message-ID"),
        )
    ]
    meta = "".join(
        f"<tr><td>{label}</td><td>{escape(value)}</td></tr>" for label, value in fields if value
    )
    sections = [
        f'<p><a href="/">← Wszystkie wiadomości</a> · <a href="{escape(_link(key, "/raw"))}">'
        "Źródło wiadomości</a></p>",
        f'<table class="meta">{meta}</table>',
    ]
    for text in texts:
        sections.append(f"<h2>Treść tekstowa</h2><pre>{escape(text)}</pre>")
    for html_part in htmls:
        # srcdoc is escaped, and the empty sandbox allows no scripts, forms or same origin.
        frame = f'<iframe sandbox="" srcdoc="{escape(html_part, quote=True)}"></iframe>'
        source = f"<details><summary>Źródło HTML</summary><pre>{escape(html_part)}</pre></details>"
        sections.append(
            f"<h2>Treść HTML</h2><p>Bez skryptów i zasobów z zewnątrz.</p>{frame}{source}"
        )
    if attachments:
        items = "".join(
            f'<li><a href="{escape(_link(key, f"/parts/{index}"))}">{escape(name)}</a> '
            f"({escape(kind)}, {size} B)</li>"
            for index, name, kind, size in attachments
        )
        sections.append(f"<h2>Załączniki</h2><ul>{items}</ul>")
    return _page(_header(message, "Subject") or "(bez tematu)", "".join(sections))


async def message_raw(request: web.Request) -> web.Response:
    raw = await asyncio.to_thread(read_message, request.app[MAILDIR], request.match_info["key"])
    if raw is None:
        raise web.HTTPNotFound(text="Nie ma takiej wiadomości.")
    return web.Response(body=raw, content_type="text/plain", charset="utf-8", headers=_HEADERS)


async def message_part(request: web.Request) -> web.Response:
    """An attachment, always as a download (never rendered in the sink's origin)."""
    raw = await asyncio.to_thread(read_message, request.app[MAILDIR], request.match_info["key"])
    parts = list(_parse(raw).walk()) if raw is not None else []
    index = int(request.match_info["index"])
    if not 0 <= index < len(parts) or parts[index].is_multipart():
        raise web.HTTPNotFound(text="Nie ma takiego załącznika.")
    part = parts[index]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", part.get_filename() or f"part-{index}")
    return web.Response(
        body=_payload(part),
        content_type="application/octet-stream",
        headers={**_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


MAILDIR = web.AppKey("maildir", Path)


def create_web_app(maildir: Path) -> web.Application:
    app = web.Application()
    app[MAILDIR] = maildir
    app.router.add_get("/", listing)
    app.router.add_get("/messages/{key}", message_page)
    app.router.add_get("/messages/{key}/raw", message_raw)
    app.router.add_get(r"/messages/{key}/parts/{index:\d+}", message_part)
    app.router.add_get("/health/live", health)
    app.router.add_get("/health/ready", health)
    return app


# -- running -------------------------------------------------------------------------------------
@dataclass
class RunningSink:
    """A started sink; ``await stop()`` closes both servers."""

    host: str
    smtp_port: int
    http_port: int
    maildir: Path
    _smtp: asyncio.Server
    _web: web.AppRunner

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}/"

    async def stop(self) -> None:
        self._smtp.close()
        await self._smtp.wait_closed()
        await self._web.cleanup()


def _prepare(maildir: Path) -> Path:
    """Create the Maildir (and the folders above it); an empty existing folder is fine too."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    return maildir.absolute()


async def start_sink(
    maildir: Path, *, host: str = "127.0.0.1", smtp_port: int = 0, http_port: int = 0
) -> RunningSink:
    """Start the SMTP server and the web listing; port 0 picks a free port."""
    maildir = await asyncio.to_thread(_prepare, maildir)
    loop = asyncio.get_running_loop()
    handler = MaildirHandler(maildir)
    smtp = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="ebok-sink",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=_accept_any_login,
            loop=loop,
        ),
        host,
        smtp_port,
    )
    runner = web.AppRunner(create_web_app(maildir), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, http_port).start()
    return RunningSink(
        host=host,
        smtp_port=smtp.sockets[0].getsockname()[1],
        http_port=runner.addresses[0][1],
        maildir=maildir,
        _smtp=smtp,
        _web=runner,
    )


async def _serve(settings: SinkSettings) -> None:
    sink = await start_sink(
        Path(settings.sink_maildir),
        host=settings.sink_host,
        smtp_port=settings.sink_smtp_port,
        http_port=settings.sink_http_port,
    )
    log.info(
        "sink listening",
        smtp=f"{sink.host}:{sink.smtp_port}",
        web=sink.url,
        maildir=str(sink.maildir),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sink.stop()
    log.info("sink stopped")


def main() -> None:
    try:
        settings = SinkSettings.from_env()
    except ConfigError as exc:
        print(f"ebok-sink: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure("sink", settings.log_level)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"aiosmtpd\.")
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
