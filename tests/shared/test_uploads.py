"""The shared upload reader: one magic-number table, file parts read in chunks with a limit
per part and per request, refusals that name the field."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import BodyPartReader, MultipartReader
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from ebok_shared.filetypes import sniff
from ebok_shared.http import uploads
from ebok_shared.http.problems import Problem
from multidict import CIMultiDict, CIMultiDictProxy

PDF = b"%PDF-1.7\n" + b"x" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100
RULE = uploads.FileRule(
    accepted=("image/png", "image/jpeg"), max_bytes=1024, types_pl="JPEG lub PNG"
)


def test_the_type_is_judged_by_the_bytes_among_those_accepted() -> None:
    assert (sniff(PDF), sniff(PNG), sniff(JPEG)) == ("application/pdf", "image/png", "image/jpeg")
    assert sniff(b"GIF89a") is None
    assert sniff(PDF, ("image/png",)) is None


async def _parts(body: bytes) -> list[BodyPartReader]:
    headers = CIMultiDictProxy(CIMultiDict({"Content-Type": "multipart/form-data; boundary=b"}))
    form = uploads.form_of_body(headers, body)
    part = await form.next()  # the first part; the caller reads it
    assert isinstance(part, BodyPartReader)
    return [part]


def _body(data: bytes, *, name: str = "photo", extra: str = "") -> bytes:
    head = f'--b\r\nContent-Disposition: form-data; name="{name}"; filename="a.png"\r\n{extra}\r\n'
    return head.encode() + data + b"\r\n--b--\r\n"


async def test_a_file_part_is_read_and_judged() -> None:
    [part] = await _parts(_body(PNG))
    read = await uploads.read_file(part, "photo", RULE, spool_memory=64)
    assert (read.media_type, read.size, read.filename) == ("image/png", len(PNG), "a.png")
    assert read.read() == PNG
    read.spool.close()


@pytest.mark.parametrize(
    ("data", "extra", "status", "reason"),
    [
        (PNG * 20, "", 413, "rozmiar przekracza 1 KB"),
        (PDF, "", 415, "niedozwolony typ pliku (dozwolone: JPEG lub PNG)"),
        (b"", "", 422, "plik jest pusty"),
        (PNG, "Content-Transfer-Encoding: base64\r\n", 415, None),
    ],
)
async def test_a_refused_file_names_its_field(
    data: bytes, extra: str, status: int, reason: str | None
) -> None:
    [part] = await _parts(_body(data, extra=extra))
    with pytest.raises(Problem) as refused:
        await uploads.read_file(part, "photo", RULE, spool_memory=64)
    assert refused.value.status == status
    assert refused.value.errors is not None and refused.value.errors[0]["field"] == "photo"
    if reason is not None:
        assert refused.value.errors[0]["reason"] == reason


async def test_the_request_budget_counts_every_part() -> None:
    budget = uploads.FormBudget(150, lambda: uploads.refusal(413, "(body)", "za dużo", "x", "x"))
    [part] = await _parts(_body(PNG))
    await uploads.read_file(part, "photo", RULE, spool_memory=64, budget=budget)
    [part] = await _parts(_body(PNG))
    with pytest.raises(Problem) as refused:
        await uploads.read_file(part, "photo", RULE, spool_memory=64, budget=budget)
    assert refused.value.status == 413 and refused.value.errors == [
        {"field": "(body)", "reason": "za dużo"}
    ]


async def _pieces(body: bytes, size: int) -> MultipartReader:
    """A form whose bytes arrive in pieces of ``size``, as a socket hands them over."""
    stream = StreamReader(BaseProtocol(asyncio.get_running_loop()), 2**16)
    for start in range(0, len(body), size):
        stream.feed_data(body[start : start + size])
    stream.feed_eof()
    headers = CIMultiDictProxy(CIMultiDict({"Content-Type": "multipart/form-data; boundary=b0"}))
    return MultipartReader(headers, stream)


# Bytes that begin the delimiter (CRLF, --, boundary) without completing it, at the file's
# start, middle and end: the body is whatever comes before the first whole delimiter.
TRICKY = b"\x89PNG\r\n\x1a\n\r\n-\r\n--b\r\n--\r\n--b1" + bytes(range(256)) * 8 + b"\r\n--b"


@pytest.mark.parametrize("scanned", [True, False], ids=["scanned", "aiohttp-reader"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 257, 4096, 1 << 20])
async def test_a_file_is_read_whole_however_its_bytes_arrive_and_the_next_part_follows(
    size: int, scanned: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not scanned:  # as under an aiohttp release whose reader lacks the fields scanned
        monkeypatch.setattr(uploads, "_scannable", lambda part: False)
    body = (
        b'--b0\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n'
        + TRICKY
        + b'\r\n--b0\r\nContent-Disposition: form-data; name="note"\r\n\r\nzdanie\r\n--b0--\r\n'
    )
    form = await _pieces(body, size)
    step = uploads.next_part if scanned else MultipartReader.next
    part = await step(form)
    assert isinstance(part, BodyPartReader)
    rule = dataclasses.replace(RULE, max_bytes=10_000)
    read = await uploads.read_file(part, "photo", rule, spool_memory=1024)
    with read.spool:
        assert read.read() == TRICKY
        assert (read.size, read.sha256) == (len(TRICKY), hashlib.sha256(TRICKY).hexdigest())
    note = await step(form)
    assert isinstance(note, BodyPartReader) and note.name == "note"
    assert await note.text() == "zdanie"
    assert await step(form) is None
    # The bytes handed back to the stream after each part were counted back: it ends read.
    stream = form._content
    assert (stream._size, stream._cursor, stream.at_eof()) == (0, len(body), True)


NOTE = b'--b0\r\nContent-Disposition: form-data; name="note"\r\n\r\nzdanie\r\n'
CHARSET = b'--b0\r\nContent-Disposition: form-data; name="_charset_"\r\n\r\niso-8859-2\r\n'
PHOTO = b'--b0\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n'


async def _walk(
    form: MultipartReader, step: Callable[[MultipartReader], Awaitable[Any]]
) -> list[object]:
    """What a form's parts are, one step after another, until its end or an error."""
    seen: list[object] = []
    try:
        while (part := await step(form)) is not None:
            assert isinstance(part, BodyPartReader)
            seen.append((part.name, part.filename, await part.read()))
    except Exception as exc:  # the error is part of what is compared
        seen.append(type(exc))
    seen.append(form._default_charset)
    return seen


@pytest.mark.parametrize("size", [1, 5, 64, 1 << 20])
@pytest.mark.parametrize(
    "body",
    [
        NOTE + PHOTO + PNG + b"\r\n--b0--\r\n",
        CHARSET + NOTE + b"--b0--\r\n",  # RFC 7578's default charset, first
        NOTE + CHARSET + PHOTO + PNG + b"\r\n--b0--\r\n",  # aiohttp looks at every part
        b"--b0\r\nContent-Disposition: form-data; name*=UTF-8''_charset_\r\n\r\nx\r\n--b0--\r\n",
        b"preamble\r\n" + NOTE + b"--b0--\r\nepilogue\r\n",
        NOTE + b"--b1\r\n",  # a wrong boundary
        NOTE,  # no end
    ],
    ids=["plain", "charset", "charset-later", "charset-extended", "preamble", "wrong", "cut"],
)
async def test_next_part_finds_the_parts_aiohttps_reader_finds(body: bytes, size: int) -> None:
    expected = await _walk(await _pieces(body, size), MultipartReader.next)
    assert await _walk(await _pieces(body, size), uploads.next_part) == expected


@pytest.mark.parametrize("memory", [0, 100, 10_000])
async def test_a_spool_keeps_the_bytes_in_memory_or_past_its_limit_in_a_file(memory: int) -> None:
    data = PNG + bytes(range(256)) * 20
    form = await _pieces(_body(data).replace(b"--b", b"--b0"), 333)
    part = await form.next()
    assert isinstance(part, BodyPartReader)
    read = await uploads.read_file(
        part, "photo", dataclasses.replace(RULE, max_bytes=10_000), spool_memory=memory
    )
    with read.spool:
        assert b"".join(bytes(v) for v in read.spool.views(1000)) == data
        assert [len(v) for v in read.spool.views(1000)] == [1000] * 5 + [len(data) - 5000]
        read.spool.seek(7)
        assert read.spool.read(5) == data[7:12] and read.spool.tell() == 12


async def test_a_form_that_ends_inside_a_file_is_malformed() -> None:
    form = await _pieces(_body(PNG).replace(b"--b", b"--b0")[:-12], 10)
    part = await form.next()
    assert isinstance(part, BodyPartReader)
    with pytest.raises(ValueError, match="no closing boundary"):
        await uploads.read_file(part, "photo", RULE, spool_memory=64)


def test_a_spool_joins_the_pieces_it_was_given_once_and_copies_what_could_change() -> None:
    chunk = b"abcdefgh" * 4
    changing = bytearray(b"12345678")
    with uploads.Spool(memory=1000) as spool:
        spool.write(chunk[:10])
        spool.write(memoryview(chunk)[10:])  # a view of bytes: kept as it is
        spool.write(changing)  # could change under a view: copied
        changing[:] = b"xxxxxxxx"
        [first] = spool.views(1000)
        [again] = spool.views(1000)
        assert bytes(first) == chunk + b"12345678"
        assert isinstance(first, memoryview) and isinstance(again, memoryview)
        assert first.obj is again.obj  # joined once, then handed out as views
        spool.write(b"!")  # written to after a read: still whole
        spool.seek(30)
        assert spool.read() == b"gh12345678!" and spool.size == len(chunk) + 9
    with uploads.Spool(memory=40) as spool:
        spool.write(chunk)
        assert bytes(next(spool.views(100))) == chunk
        spool.write(chunk)  # past the limit after a read: the file has every byte
        assert b"".join(spool.views(7)) == chunk * 2


@pytest.mark.parametrize("size", [1, 6, 100, 1 << 20])
async def test_a_text_part_ends_at_its_boundary_and_the_file_after_it_is_whole(size: int) -> None:
    text = '{"treść": "a\\r\\n--b"}'.encode()
    body = (
        b'--b0\r\nContent-Disposition: form-data; name="document"\r\n\r\n'
        + text
        + b'\r\n--b0\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n'
        + PNG
        + b"\r\n--b0--\r\n"
    )
    form = await _pieces(body, size)
    document = await form.next()
    assert isinstance(document, BodyPartReader)
    too_large = lambda: uploads.refusal(413, "document", "za długie", "x", "x")  # noqa: E731
    assert await uploads.read_text(document, "document", 100, too_large) == text
    photo = await form.next()
    assert isinstance(photo, BodyPartReader)
    read = await uploads.read_file(photo, "photo", RULE, spool_memory=64)
    with read.spool:
        assert read.read() == PNG
    form = await _pieces(body, size)
    document = await form.next()
    assert isinstance(document, BodyPartReader)
    with pytest.raises(Problem) as refused:
        await uploads.read_text(document, "document", len(text) - 1, too_large)
    assert refused.value.status == 413


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "application/octet-stream"),
        ("application/json", "application/json"),
        ("Multipart/Form-Data ; boundary=----x7", "multipart/form-data"),
        ('multipart/form-data; boundary="a;b"', "multipart/form-data"),
    ],
)
def test_a_requests_media_type_is_what_aiohttp_says_it_is(
    header: str | None, expected: str
) -> None:
    headers = {} if header is None else {"Content-Type": header}
    request = make_mocked_request("POST", "/", headers=headers)
    assert uploads.media_type(request) == expected == request.content_type
