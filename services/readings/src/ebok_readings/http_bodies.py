"""HTTP request bodies (for the customer and operator handlers): JSON with a small cap, or
multipart/form-data with one photo of the meter.

The photo is judged from its bytes (JPEG or PNG signature), never from the name or the
declared type, and capped in size, by the shared upload reader (``ebok_shared.http.uploads``).
The form's text fields get the same checks as the JSON body: its text (``inspect_text``: no
NUL, lone surrogate or control character) and its JSON Schema (``true``/``false`` become
booleans).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from aiohttp import MultipartReader, web
from ebok_shared.http import uploads
from ebok_shared.http.problems import Problem, field_problem
from ebok_shared.http.validation import inspect_text, read_json, validate

from .common.values import Photo

MAX_FIELD_CHARS = 1000
PHOTO_FIELD = "photo"


def photo_rule(limit: int) -> uploads.FileRule:
    return uploads.FileRule(
        accepted=("image/jpeg", "image/png"),
        max_bytes=limit,
        types_pl="JPEG lub PNG",
        wrong_type_status=422,
        wrong_type_code="validation",
        wrong_type_reason="zdjęcie musi być plikiem {types}",
        wrong_type_detail="{field}: zdjęcie musi być plikiem {types}",
    )


def _too_large(field: str, limit: int) -> Problem:
    size = uploads.size_pl(limit)
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
    reader = uploads.form_of_body(request.headers, body)
    fields: dict[str, Any] = {}
    photo: Photo | None = None
    try:
        async for part in reader:
            if part is None or isinstance(part, MultipartReader):
                raise field_problem("(body)", "zagnieżdżone formularze nie są obsługiwane")
            name = part.name or ""
            if name == PHOTO_FIELD:
                if photo is not None:
                    raise field_problem(PHOTO_FIELD, "można dołączyć jedno zdjęcie")
                read = await uploads.read_file(
                    part, PHOTO_FIELD, photo_rule(photo_limit), spool_memory=photo_limit
                )
                with read.spool:
                    photo = Photo(read.media_type, read.read())
                continue
            if part.filename is not None:
                raise field_problem(
                    name or "(body)", "nieoczekiwany plik (dozwolone tylko pole photo)"
                )
            text = await part.text()
            if len(text) > MAX_FIELD_CHARS:
                raise field_problem(name, f"za długie (najwyżej {MAX_FIELD_CHARS} znaków)")
            if name in fields:
                raise field_problem(name, "pole podano więcej niż raz")
            fields[name] = _typed(text) if name in booleans else text
    except Problem:
        raise
    except Exception:  # whatever a malformed form makes the parser raise
        raise field_problem("(body)", "niepoprawny formularz multipart/form-data") from None
    inspect_text(fields)  # the checks of a JSON body's text (NUL, surrogates, controls)
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
        raise field_problem("(body)", "niepoprawny formularz") from None
    fields: dict[str, Any] = {}
    for name, text in pairs:
        if name in fields:
            raise field_problem(name, "pole podano więcej niż raz")
        fields[name] = _typed(text) if name in booleans else text
    inspect_text(fields)
    validate(fields, schema)
    return fields


def _typed(text: str) -> Any:
    low = text.strip().lower()
    return {"true": True, "false": False, "1": True, "0": False}.get(low, text)
