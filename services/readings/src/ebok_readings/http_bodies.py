"""HTTP request bodies (for the customer and operator handlers): JSON with a small cap, or
multipart/form-data with one photo of the meter.

The photo is judged from its bytes (JPEG or PNG signature), never from the name or the
declared type, and capped in size. The form's text fields are checked against the same
JSON Schema as the JSON body (``true``/``false`` become booleans).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import MultipartReader, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from ebok_shared.http.problems import Problem
from ebok_shared.http.validation import read_json, validate

from .domain.values import Photo

JPEG = b"\xff\xd8\xff"
PNG = b"\x89PNG\r\n\x1a\n"
MAX_FIELD_CHARS = 1000
PHOTO_FIELD = "photo"


def sniff(data: bytes) -> str | None:
    if data.startswith(JPEG):
        return "image/jpeg"
    if data.startswith(PNG):
        return "image/png"
    return None


def _too_large(field: str, limit: int) -> Problem:
    mb = limit / (1024 * 1024)
    size = f"{mb:g} MB" if mb >= 1 else f"{limit // 1024} KB"
    return Problem(
        413,
        f"{field}: przekroczono dopuszczalny rozmiar ({size}).",
        code="payload-too-large",
        errors=[{"field": field, "reason": f"rozmiar przekracza {size}"}],
    )


async def read_small_json(request: web.Request, schema: dict[str, Any], limit: int) -> Any:
    """``read_json`` with this service's cap for JSON bodies (the app's cap fits photos)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large("(body)", limit)
    if len(await request.read()) > limit:
        raise _too_large("(body)", limit)
    return await read_json(request, schema)


async def read_form_or_json(
    request: web.Request,
    schema: dict[str, Any],
    *,
    json_limit: int,
    photo_limit: int,
    booleans: tuple[str, ...] = (),
) -> tuple[dict[str, Any], Photo | None]:
    """The fields (validated) and the photo, if one was attached."""
    if request.content_type == "application/json":
        return await read_small_json(request, schema, json_limit), None
    if request.content_type == "application/x-www-form-urlencoded":
        return _urlencoded(await request.read(), schema, json_limit, booleans), None
    if request.content_type != "multipart/form-data":
        raise Problem(
            415,
            "Treść żądania musi być w formacie JSON (application/json) lub formularzem "
            "(multipart/form-data, ze zdjęciem).",
            code="unsupported-media-type",
            errors=[
                {
                    "field": "Content-Type",
                    "reason": "oczekiwano application/json lub multipart/form-data",
                }
            ],
        )
    body = await request.read()  # already read (and capped) by the idempotency layer
    loop = asyncio.get_running_loop()
    stream = StreamReader(BaseProtocol(loop), max(2**16, len(body)), loop=loop)
    stream.feed_data(body)
    stream.feed_eof()
    reader = MultipartReader(request.headers, stream)
    fields: dict[str, Any] = {}
    photo: Photo | None = None
    try:
        async for part in reader:
            if part is None or isinstance(part, MultipartReader):
                raise _bad_form("(body)", "zagnieżdżone formularze nie są obsługiwane")
            name = part.name or ""
            if name == PHOTO_FIELD:
                if photo is not None:
                    raise _bad_form(PHOTO_FIELD, "można dołączyć jedno zdjęcie")
                data = bytes(await part.read())
                if len(data) > photo_limit:
                    raise _too_large(PHOTO_FIELD, photo_limit)
                if not data:
                    raise _bad_form(PHOTO_FIELD, "plik jest pusty")
                kind = sniff(data)
                if kind is None:
                    raise _bad_form(PHOTO_FIELD, "zdjęcie musi być plikiem JPEG lub PNG")
                photo = Photo(kind, data)
                continue
            if part.filename is not None:
                raise _bad_form(name or "(body)", "nieoczekiwany plik (dozwolone tylko pole photo)")
            text = await part.text()
            if len(text) > MAX_FIELD_CHARS:
                raise _bad_form(name, f"za długie (najwyżej {MAX_FIELD_CHARS} znaków)")
            if name in fields:
                raise _bad_form(name, "pole podano więcej niż raz")
            fields[name] = _typed(text) if name in booleans else text
    except Problem:
        raise
    except Exception:  # whatever a malformed form makes the parser raise
        raise _bad_form("(body)", "niepoprawny formularz multipart/form-data") from None
    validate(fields, schema)
    return fields, photo


def _urlencoded(
    body: bytes, schema: dict[str, Any], limit: int, booleans: tuple[str, ...]
) -> dict[str, Any]:
    """A form without a file (a browser sends a form with no file input this way)."""
    if len(body) > limit:
        raise _too_large("(body)", limit)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise _bad_form("(body)", "niepoprawny formularz") from None
    fields: dict[str, Any] = {}
    for name, text in pairs:
        if name in fields:
            raise _bad_form(name, "pole podano więcej niż raz")
        fields[name] = _typed(text) if name in booleans else text
    validate(fields, schema)
    return fields


def _typed(text: str) -> Any:
    low = text.strip().lower()
    return {"true": True, "false": False, "1": True, "0": False}.get(low, text)


def _bad_form(field: str, reason: str) -> Problem:
    return Problem(
        422, f"{field}: {reason}", code="validation", errors=[{"field": field, "reason": reason}]
    )
