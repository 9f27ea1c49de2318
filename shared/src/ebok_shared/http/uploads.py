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
import collections
import functools
import hashlib
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from aiohttp import BodyPartReader, MultipartReader, hdrs, multipart, web
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


def media_type(request: web.Request) -> str:
    """The request's media type without its parameters, as ``request.content_type`` says it.
    Read directly: aiohttp's property runs the e-mail header parser, and caches its answers
    by the whole header, which a form's boundary makes new on every request (0.1 ms each)."""
    raw = request.headers.get(hdrs.CONTENT_TYPE)
    return "application/octet-stream" if raw is None else raw.partition(";")[0].strip().lower()


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


class Spool:
    """A file's bytes as read. In memory: the pieces as they arrived (views of the request's
    own chunks, not copies), joined into one buffer of the file's size the first time they
    are read (one copy; no buffer allocated and zero-filled ahead, none regrown); past
    ``memory`` bytes, a temporary file. Read as views of that buffer rather than copies. Used
    like the file it replaces (``with``, ``read``, ``seek``, ``close``)."""

    def __init__(self, memory: int) -> None:
        self.memory = memory
        self._pieces: list[bytes | memoryview] = []
        self._whole: bytes | None = None  # the pieces joined, once read
        self._size = 0
        self._file: IO[bytes] | None = None
        self._position = 0
        self.closed = False

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes | bytearray | memoryview) -> int:
        assert not self.closed, "write to a closed spool"
        n = len(data)
        if self._file is None and self._size + n > self.memory:
            self._roll_over()
        if self._file is not None:
            self._file.write(data)
        else:
            if self._whole is not None:  # written to after a read: the joined bytes first
                self._pieces, self._whole = [self._whole], None
            # A view is kept only of bytes that cannot change under it.
            if isinstance(data, bytes) or (
                isinstance(data, memoryview) and isinstance(data.obj, bytes)
            ):
                self._pieces.append(data)
            else:
                self._pieces.append(bytes(data))
        self._size += n
        return n

    def _roll_over(self) -> None:
        file = tempfile.TemporaryFile()
        for piece in [self._whole] if self._whole is not None else self._pieces:
            file.write(piece)
        self._pieces, self._whole, self._file = [], None, file

    def _joined(self) -> bytes:
        assert not self.closed, "read from a closed spool"
        if self._whole is None:
            pieces = self._pieces
            if len(pieces) == 1 and isinstance(pieces[0], bytes):
                self._whole = pieces[0]
            else:
                self._whole = b"".join(pieces)
            self._pieces = []
        return self._whole

    def views(self, size: int) -> Iterator[bytes | memoryview]:
        """The bytes in pieces of ``size``: views of the joined buffer (no copy), or reads of
        the temporary file."""
        if self._file is None:
            whole = memoryview(self._joined())
            for start in range(0, self._size, size):
                yield whole[start : min(start + size, self._size)]
            return
        self._file.seek(0)
        while data := self._file.read(size):
            yield data

    def seek(self, position: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._size}[whence]
        self._position = max(0, base + position)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, n: int = -1) -> bytes:
        end = self._size if n < 0 else min(self._size, self._position + n)
        start, self._position = self._position, max(self._position, end)
        if self._file is not None:
            self._file.seek(start)
            return self._file.read(end - start)
        whole = self._joined()
        return whole if start == 0 and end >= len(whole) else whole[start:end]

    def close(self) -> None:
        self.closed = True
        self._pieces, self._whole = [], None  # a view still held keeps its bytes alive
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass
class UploadedFile:
    """A file as read: the type its bytes proved, its size and SHA-256, and its bytes
    spooled (memory up to a threshold, then a temporary file; the caller closes it)."""

    filename: str | None
    media_type: str
    size: int
    sha256: str
    spool: Spool = field(repr=False)

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


def disposition(part: BodyPartReader) -> tuple[str | None, str | None]:
    """The part's field name and file name, as aiohttp's ``part.name`` and ``part.filename``
    read them from its Content-Disposition, remembered by the header's text (the same on
    every form a client sends): aiohttp's parser rebuilds its escaped character set on
    every call, and each of the two properties parses the header again."""
    return _disposition(part.headers.get(hdrs.CONTENT_DISPOSITION))


@functools.lru_cache(maxsize=512)
def _disposition(header: str | None) -> tuple[str | None, str | None]:
    _, params = multipart.parse_content_disposition(header)
    return (
        multipart.content_disposition_filename(params, "name"),
        multipart.content_disposition_filename(params, "filename"),
    )


async def next_part(form: MultipartReader) -> MultipartReader | BodyPartReader | None:
    """The form's next part: ``form.next()``, step for step, except that the name it looks at
    for RFC 7578's ``_charset_`` part is read through ``disposition``'s cache. aiohttp parses
    the part's Content-Disposition again for that, on every part (its "first part" test holds
    for each, the previous part being released just before): its parser joins an escaped set
    of 128 characters on each call, ~50 µs, twice for a letter with one file. The fields and
    steps are aiohttp's own (pinned); a release without them is asked ``form.next()``."""
    if not _steppable(form):
        return await form.next()
    if form._at_eof:
        return None
    await form._maybe_release_last_part()
    if form._at_bof:
        await form._read_until_first_boundary()
        form._at_bof = False
    else:
        await form._read_boundary()
    if form._at_eof:  # the closing boundary
        return None
    part = await form.fetch_next_part()
    if (
        form._last_part is None
        and form._mimetype.subtype == "form-data"
        and isinstance(part, BodyPartReader)
        and _charset_part(part.headers.get(hdrs.CONTENT_DISPOSITION))
    ):
        # As aiohttp does it: the part's text is the form's default charset.
        charset = await part.read_chunk(32)
        if len(charset) > 31:
            raise RuntimeError("Invalid default charset")
        form._default_charset = charset.strip().decode()
        part = await form.fetch_next_part()
    form._last_part = part
    return part


@functools.lru_cache(maxsize=512)
def _charset_part(header: str | None) -> bool:
    """aiohttp's own test of a part's name for ``_charset_`` (its plain ``name`` parameter
    only), remembered by the header's text."""
    return multipart.parse_content_disposition(header)[1].get("name") == "_charset_"


def _steppable(form: MultipartReader) -> bool:
    """The reader has the fields and steps ``next_part`` takes (aiohttp's, pinned)."""
    try:
        return (
            isinstance(form._at_eof, bool)
            and isinstance(form._at_bof, bool)
            and hasattr(form, "_last_part")
            and hasattr(form, "_default_charset")
            and isinstance(form._mimetype.subtype, str)
            and callable(form._maybe_release_last_part)
            and callable(form._read_until_first_boundary)
            and callable(form._read_boundary)
            and callable(form.fetch_next_part)
        )
    except AttributeError:
        return False


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
    when empty (422). Each byte is hashed as it arrives and copied once, when the spool is
    first read."""
    check_encoding(part, field_name)
    filename = disposition(part)[1]
    shown = shown_name or (filename or field_name)[:100]
    spool = Spool(spool_memory)
    digest = hashlib.sha256()
    head = b""
    media_type: str | None = None
    size = 0

    def take(chunk: bytes | memoryview) -> None:
        nonlocal head, media_type, size
        size += len(chunk)
        if size > rule.max_bytes:  # refused here: the rest of the part is never read
            raise rule.too_large(field_name, shown)
        if budget is not None:
            budget.take(len(chunk))
        if media_type is None:
            head += bytes(chunk[:SNIFF_BYTES])
            if len(head) >= SNIFF_BYTES:
                media_type = _proven(head, field_name, rule, shown)
        digest.update(chunk)
        spool.write(chunk)

    try:
        if _scannable(part):
            await _scan_part(part, take)
        else:
            while chunk := await part.read_chunk(READ_CHUNK):
                take(chunk)
        if size == 0:
            raise rule.empty(field_name, shown)
        if media_type is None:
            media_type = _proven(head, field_name, rule, shown)
    except BaseException:
        spool.close()
        raise
    return UploadedFile(filename, media_type, size, digest.hexdigest(), spool)


def _scannable(part: BodyPartReader) -> bool:
    """A form-data part not yet read, as the multipart reader hands it over: its body can be
    scanned for the boundary straight from the request's stream (``_scan_part``). The fields
    read are aiohttp's own (pinned); a release without them is read by its public reader."""
    try:
        return (
            part._length is None
            and part._prev_chunk is None
            and not part._unread
            and not part.at_eof()
            and isinstance(part._content, StreamReader)
            and isinstance(part._boundary, bytes)
            and _takeable(part._content)
        )
    except AttributeError:
        return False


def _takeable(stream: StreamReader) -> bool:
    """The stream has the fields ``_take_chunk`` and ``_hand_back`` use (aiohttp's, pinned)."""
    return (
        isinstance(stream._buffer, collections.deque)
        and isinstance(stream._buffer_offset, int)
        and isinstance(stream._size, int)
        and isinstance(stream._cursor, int)
        and isinstance(stream._low_water, int)
        and isinstance(stream._eof_counter, int)
        and hasattr(stream, "_http_chunk_splits")
        and hasattr(stream, "_exception")
        and callable(stream._protocol.resume_reading)
    )


async def _scan_part(part: BodyPartReader, take: Callable[[bytes | memoryview], None]) -> None:
    """The part's body handed to ``take`` in views of the chunks as they arrived, up to the
    delimiter (CRLF, ``--`` and the boundary). aiohttp's ``read_chunk`` finds the same end,
    but copies every byte once more (each chunk is joined to the one before to look for a
    boundary across the two) and slices again; here only the few bytes that may begin a
    delimiter are held back from one chunk to the next. What follows the body is handed back
    to the stream (from the boundary on, as aiohttp leaves it) and the part marked as read,
    so the form's next part is read as before. A chunk is taken, and handed back, with the
    offset where its unread bytes begin (``_take_chunk``, ``_hand_back``): slicing it would
    copy up to a read's worth (256 KB) of the next part twice, once here and once when its
    headers had been read from the same chunk."""
    stream: StreamReader = part._content
    delimiter = b"\r\n" + part._boundary
    keep = len(delimiter) - 1
    # aiohttp's reader looks for the delimiter in CRLF + body (a body that starts with the
    # boundary is empty): the same two bytes lead here, and are not the body's.
    held, skip = b"\r\n", 2

    def finish(before: bytes | memoryview, after: bytes, offset: int = 0) -> None:
        if len(before) > skip:
            take(before[skip:])
        _hand_back(stream, after, offset)
        part._at_eof = True

    while True:
        chunk, first = await _take_chunk(stream)
        size = len(chunk) - first
        if not size:
            if stream.at_eof():
                raise ValueError("the form ended inside a part (no closing boundary)")
            continue  # the end of an HTTP chunk: nothing to read yet
        if size < len(delimiter):  # a small piece: look at it together with the held
            held += chunk[first:]
            at = held.find(delimiter)
            if at >= 0:
                return finish(held[:at], held, at + 2)
            if len(held) > keep:
                if len(held) - keep > skip:
                    take(held[skip : len(held) - keep])
                held, skip = held[len(held) - keep :], max(0, skip - (len(held) - keep))
            continue
        # A delimiter that begins in the held bytes ends within the chunk's first ``keep``.
        joint = held + chunk[first : first + keep]
        at = joint.find(delimiter)
        if at >= 0:
            return finish(joint[:at], joint[at + 2 :] + chunk[first + keep :])
        if len(held) > skip:
            take(held[skip:])
        skip = 0
        at = chunk.find(delimiter, first)
        view = memoryview(chunk)
        if at >= 0:
            return finish(view[first:at], chunk, at + 2)
        take(view[first : len(chunk) - keep])
        held = chunk[len(chunk) - keep :]


async def _take_chunk(stream: StreamReader) -> tuple[bytes, int]:
    """The stream's next chunk and the offset where its unread bytes begin, taken as
    ``readchunk`` takes it (the same counts, the same resumption of reading) but not sliced
    at that offset; ``readchunk`` itself where the stream has HTTP chunk ends to report or
    holds nothing yet."""
    if stream._http_chunk_splits is None and stream._buffer and stream._exception is None:
        chunk = stream._buffer.popleft()
        first, stream._buffer_offset = stream._buffer_offset, 0
        stream._size -= len(chunk) - first
        stream._cursor += len(chunk) - first
        if stream._size < stream._low_water:
            stream._protocol.resume_reading()
        return chunk, first
    chunk, _ = await stream.readchunk()
    return chunk, 0


def _hand_back(stream: StreamReader, data: bytes, offset: int) -> None:
    """``data[offset:]`` put back at the head of the stream, as aiohttp's ``unread_data``
    would put the slice (the bytes before ``offset`` were read: the stream's offset says so,
    no copy made)."""
    if offset >= len(data):
        return
    if stream._buffer_offset:  # not after ``_take_chunk``: aiohttp's way, with its slice
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            stream.unread_data(data[offset:])
        return
    stream._buffer.appendleft(data)
    stream._buffer_offset = offset
    stream._size += len(data) - offset
    stream._cursor -= len(data) - offset
    stream._eof_counter = 0


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

    def take(chunk: bytes | memoryview) -> None:
        raw.extend(chunk)
        if budget is not None:
            budget.take(len(chunk))
        if len(raw) > max_bytes:
            raise too_large()

    # Scanned as a file is: aiohttp's read_chunk would take in (and copy, and hand back) up
    # to a quarter of a megabyte of the part that follows, a file's, to find this one's end.
    if _scannable(part):
        await _scan_part(part, take)
    else:
        while chunk := await part.read_chunk(READ_CHUNK):
            take(chunk)
    return bytes(raw)


def form_of_body(headers: CIMultiDictProxy[str], body: bytes) -> MultipartReader:
    """A multipart reader over a body already read (and capped), e.g. by the idempotency
    layer that needed its bytes first."""
    loop = asyncio.get_running_loop()
    stream = StreamReader(BaseProtocol(loop), max(2**16, len(body)), loop=loop)
    stream.feed_data(body)
    stream.feed_eof()
    return MultipartReader(headers, stream)
