"""Files uploaded in a multipart/form-data request, read as a stream, judged by their bytes.

One magic-number table (``ebok_shared.filetypes``) says which media type a file's first
bytes prove; the name and the declared Content-Type are never believed. A file part is read
in chunks and refused the moment it passes its field's size limit (the rest is never read),
a request the moment all its parts together pass the request's limit; a file of a type the
field does not accept, an empty file or an encoded part is refused naming the field. Each
service keeps its own limits, accepted types and wording (a ``FileRule`` per file field).
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from multidict import CIMultiDictProxy

from ..filetypes import SNIFF_BYTES, sniff
from .problems import Problem

READ_CHUNK = 256 * 1024
_IDENTITY = ("", "identity", "binary", "7bit", "8bit")


def size_pl(limit: int) -> str:
    """A limit as people read it: ``10 MB``, ``64 KB``."""
    mb = limit / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{limit // 1024} KB"


def refusal(status: int, field_name: str, reason: str, code: str, detail: str) -> Problem:
    """A problem naming the one field it is about."""
    return Problem(status, detail, code=code, errors=[{"field": field_name, "reason": reason}])


@dataclass(frozen=True)
class FileRule:
    """What one file field accepts, and how its refusals read (``{size}`` is the limit,
    ``{types}`` the accepted types, ``{name}`` the file's name as sent)."""

    accepted: tuple[str, ...]
    max_bytes: int
    types_pl: str  # the accepted types in a sentence: "PDF, JPEG lub PNG"
    wrong_type_status: int = 415
    wrong_type_code: str = "unsupported-file-type"
    wrong_type_reason: str = "niedozwolony typ pliku (dozwolone: {types})"
    wrong_type_detail: str = "Plik „{name}” nie jest plikiem {types}."
    too_large_code: str = "payload-too-large"
    too_large_reason: str = "rozmiar przekracza {size}"
    too_large_detail: str = "{field}: przekroczono dopuszczalny rozmiar ({size})."
    empty_code: str = "validation"
    empty_detail: str = "{field}: plik jest pusty"

    def _text(self, template: str, field_name: str, name: str) -> str:
        return template.format(
            size=size_pl(self.max_bytes), types=self.types_pl, name=name, field=field_name
        )

    def too_large(self, field_name: str, name: str) -> Problem:
        return refusal(
            413,
            field_name,
            self._text(self.too_large_reason, field_name, name),
            self.too_large_code,
            self._text(self.too_large_detail, field_name, name),
        )

    def wrong_type(self, field_name: str, name: str) -> Problem:
        return refusal(
            self.wrong_type_status,
            field_name,
            self._text(self.wrong_type_reason, field_name, name),
            self.wrong_type_code,
            self._text(self.wrong_type_detail, field_name, name),
        )

    def empty(self, field_name: str, name: str) -> Problem:
        detail = self._text(self.empty_detail, field_name, name)
        return refusal(422, field_name, "plik jest pusty", self.empty_code, detail)


@dataclass
class UploadedFile:
    """A file as read: the type its bytes proved, its size and SHA-256, and its bytes
    spooled (memory up to a threshold, then a temporary file; the caller closes it)."""

    filename: str | None
    media_type: str
    size: int
    sha256: str
    spool: IO[bytes] = field(repr=False)

    def read(self) -> bytes:
        self.spool.seek(0)
        return self.spool.read()


class FormBudget:
    """What all parts of one request may weigh together: counted as chunks arrive."""

    def __init__(self, max_bytes: int | None, too_large: Callable[[], Problem]) -> None:
        self.max_bytes = max_bytes
        self.too_large = too_large
        self.used = 0

    def declared(self, request: web.Request) -> None:
        """Refuse at once a request whose declared length is over the limit."""
        length = request.content_length
        if self.max_bytes is not None and length is not None and length > self.max_bytes:
            raise self.too_large()

    def take(self, size: int) -> None:
        self.used += size
        if self.max_bytes is not None and self.used > self.max_bytes:
            raise self.too_large()


def check_encoding(part: BodyPartReader, field_name: str) -> None:
    """Parts come as they are: no transfer or content encoding to undo (415)."""
    transfer = part.headers.get("Content-Transfer-Encoding", "").strip().lower()
    encoding = part.headers.get("Content-Encoding", "").strip().lower()
    if transfer not in _IDENTITY or encoding not in ("", "identity"):
        raise refusal(
            415,
            field_name,
            "kodowanie części formularza nie jest obsługiwane",
            "unsupported-encoding",
            "Pliki wysyła się w formularzu bez dodatkowego kodowania.",
        )


async def read_file(
    part: BodyPartReader,
    field_name: str,
    rule: FileRule,
    *,
    spool_memory: int,
    budget: FormBudget | None = None,
    shown_name: str | None = None,
) -> UploadedFile:
    """One file part, in chunks: refused (413) once past ``rule.max_bytes`` or the
    request's ``budget``, judged by its first bytes (``rule.wrong_type_status``), refused
    when empty (422)."""
    check_encoding(part, field_name)
    shown = shown_name or (part.filename or field_name)[:100]
    spool = tempfile.SpooledTemporaryFile(max_size=spool_memory)
    digest = hashlib.sha256()
    head = b""
    media_type: str | None = None
    size = 0
    try:
        while chunk := await part.read_chunk(READ_CHUNK):
            size += len(chunk)
            if size > rule.max_bytes:  # refused here: the rest of the part is never read
                raise rule.too_large(field_name, shown)
            if budget is not None:
                budget.take(len(chunk))
            if media_type is None:
                head += chunk[:SNIFF_BYTES]
                if len(head) >= SNIFF_BYTES:
                    media_type = _proven(head, field_name, rule, shown)
            digest.update(chunk)
            spool.write(chunk)
        if size == 0:
            raise rule.empty(field_name, shown)
        if media_type is None:
            media_type = _proven(head, field_name, rule, shown)
    except BaseException:
        spool.close()
        raise
    return UploadedFile(part.filename, media_type, size, digest.hexdigest(), spool)


def _proven(head: bytes, field_name: str, rule: FileRule, shown: str) -> str:
    media_type = sniff(head, rule.accepted)
    if media_type is None:
        raise rule.wrong_type(field_name, shown)
    return media_type


async def read_text(
    part: BodyPartReader,
    field_name: str,
    max_bytes: int,
    too_large: Callable[[], Problem],
    budget: FormBudget | None = None,
) -> bytes:
    """A text part's bytes, in chunks, refused once past ``max_bytes``."""
    check_encoding(part, field_name)
    raw = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK):
        raw.extend(chunk)
        if budget is not None:
            budget.take(len(chunk))
        if len(raw) > max_bytes:
            raise too_large()
    return bytes(raw)


def form_of_body(headers: CIMultiDictProxy[str], body: bytes) -> MultipartReader:
    """A multipart reader over a body already read (and capped), e.g. by the idempotency
    layer that needed its bytes first."""
    loop = asyncio.get_running_loop()
    stream = StreamReader(BaseProtocol(loop), max(2**16, len(body)), loop=loop)
    stream.feed_data(body)
    stream.feed_eof()
    return MultipartReader(headers, stream)
