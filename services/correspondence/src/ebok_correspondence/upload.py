"""Reading what "send" carries: a JSON document alone, or a multipart form with the document
and up to five files, read as a stream.

Each file's size is counted as it arrives, so an 11 MB part is refused at 10 MB and 1 byte,
not after it was all read; a sixth file is refused when its headers arrive. The type is judged
from the first bytes (magic numbers), never from the name or the part's Content-Type. Files
are spooled (memory up to a threshold, then a temporary file) until the case is written. The
streaming, the limits and the sniffing are the shared upload reader's
(``ebok_shared.http.uploads``); the rules and the wording here are correspondence's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage
from ebok_shared.http import uploads as reader
from ebok_shared.http.problems import Problem
from ebok_shared.http.validation import parse_json, read_json

from . import files
from .settings import CorrespondenceSettings

DOCUMENT_FIELD = "document"
FILES_FIELD = "attachments"
STORE_CHUNK = 1024 * 1024  # the size of the stored chunks (see attachment_chunks)


@dataclass
class Upload:
    position: int
    filename: str  # safe, with the extension of the type the bytes proved
    content_type: str
    size: int
    sha256: str
    spool: reader.Spool = field(repr=False)

    async def chunks(self) -> AsyncIterator[bytes | memoryview]:
        """The stored chunks: views of the spooled bytes, handed to the database as they are
        (asyncpg encodes a memoryview without a copy of its own)."""
        for data in self.spool.views(STORE_CHUNK):
            yield data

    def one_chunk(self) -> bytes | memoryview | None:
        """The bytes as one stored chunk (a view of the spooled bytes), or None for a file of
        more than one."""
        if self.size > STORE_CHUNK:
            return None
        return next(iter(self.spool.views(STORE_CHUNK)))


@dataclass
class Submission:
    document: Any
    uploads: list[Upload]
    fingerprint: str  # what the request means: a retry with another multipart boundary matches

    def close(self) -> None:
        for upload in self.uploads:
            upload.spool.close()


_problem = reader.refusal
# What aiohttp's multipart parser raises on a malformed form (a part's header that is not
# valid, e.g. a control character in a field name, is a BadHttpMessage).
_MALFORMED = (ValueError, AssertionError, KeyError, BadHttpMessage)


def attachment_rule(settings: CorrespondenceSettings) -> reader.FileRule:
    return reader.FileRule(
        accepted=files.ACCEPTED,
        max_bytes=settings.attachment_max_bytes,
        types_pl=files.ALLOWED_TYPES_PL,
        wrong_type_status=415,
        wrong_type_code="attachment-type",
        wrong_type_detail="Plik „{name}” nie jest plikiem {types}; można dołączać tylko"
        " takie pliki.",
        too_large_code="attachment-too-large",
        too_large_reason="plik jest za duży (najwyżej {size})",
        too_large_detail="Plik „{name}” jest za duży: najwyżej {size}.",
        empty_code="empty-attachment",
        empty_detail="Plik „{name}” jest pusty.",
    )


def fingerprint(document: Any, uploads: list[Upload]) -> str:
    canonical = json.dumps(
        {"document": document, "attachments": [[u.filename, u.sha256] for u in uploads]},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def read_submission(request: web.Request, settings: CorrespondenceSettings) -> Submission:
    content_type = reader.media_type(request)
    if content_type == "application/json":
        limited = request.clone(client_max_size=settings.document_max_bytes)
        document = await read_json(limited, {})
        return Submission(document, [], fingerprint(document, []))
    if content_type != "multipart/form-data":
        raise Problem(
            415,
            "Pismo wysyła się jako JSON (application/json) albo formularz z załącznikami"
            " (multipart/form-data).",
            code="unsupported-media-type",
            errors=[
                {
                    "field": "Content-Type",
                    "reason": "oczekiwano application/json lub multipart/form-data",
                }
            ],
        )
    budget = reader.FormBudget(settings.max_body_bytes, lambda: _too_large_body(settings))
    budget.declared(request)
    return await _read_form(request, settings, budget, with_document=True)


async def read_added_files(request: web.Request, settings: CorrespondenceSettings) -> Submission:
    """Files added to an open case: a form of ``attachments`` parts only, with the limits of
    sending (count, size, type, the whole form's size)."""
    if reader.media_type(request) != "multipart/form-data":
        raise Problem(
            415,
            "Pliki do sprawy dodaje się formularzem multipart/form-data.",
            code="unsupported-media-type",
            errors=[{"field": "Content-Type", "reason": "oczekiwano multipart/form-data"}],
        )
    budget = reader.FormBudget(settings.max_body_bytes, lambda: _too_large_body(settings))
    budget.declared(request)
    return await _read_form(request, settings, budget, with_document=False)


def _too_large_body(settings: CorrespondenceSettings) -> Problem:
    mb = settings.max_body_bytes // (1024 * 1024)
    return _problem(
        413,
        "(body)",
        f"treść przekracza {mb} MB",
        "body-too-large",
        f"Pismo z załącznikami może mieć najwyżej {mb} MB.",
    )


async def _read_form(
    request: web.Request,
    settings: CorrespondenceSettings,
    budget: reader.FormBudget,
    *,
    with_document: bool,
) -> Submission:
    try:
        form = await request.multipart()
    except _MALFORMED:
        raise _malformed_form() from None
    document: Any = None
    has_document = False
    uploads: list[Upload] = []
    try:
        while True:
            try:
                part = await reader.next_part(form)
            except _MALFORMED:
                raise _malformed_form() from None
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise _problem(
                    422,
                    "(body)",
                    "zagnieżdżone formularze nie są obsługiwane",
                    "malformed-form",
                    "Formularz ma nieobsługiwaną budowę.",
                )
            name, filename = reader.disposition(part)
            if name == DOCUMENT_FIELD and with_document:
                if has_document:
                    raise _problem(
                        422,
                        DOCUMENT_FIELD,
                        "pole podano więcej niż raz",
                        "validation",
                        "Formularz może zawierać tylko jedno pismo.",
                    )
                document, has_document = await _read_document(part, settings, budget), True
            elif name == FILES_FIELD:
                if len(uploads) >= settings.attachments_max:
                    raise _problem(
                        422,
                        FILES_FIELD,
                        f"za dużo załączników (najwyżej {settings.attachments_max})",
                        "too-many-attachments",
                        f"Do pisma można dołączyć najwyżej {settings.attachments_max} plików.",
                    )
                uploads.append(await _read_file(part, filename, len(uploads), settings, budget))
            else:
                name = (name or "(bez nazwy)")[:50]
                allowed = f"{DOCUMENT_FIELD}, {FILES_FIELD}" if with_document else FILES_FIELD
                raise _problem(
                    422,
                    name,
                    "nieznane pole",
                    "validation",
                    f"{name}: nieznane pole formularza (dozwolone: {allowed}).",
                )
    except BaseException:
        for upload in uploads:
            upload.spool.close()
        raise
    if not with_document:
        return Submission(None, uploads, fingerprint(None, uploads))
    if not has_document:
        for upload in uploads:
            upload.spool.close()
        raise _problem(
            422,
            DOCUMENT_FIELD,
            "pole jest wymagane",
            "validation",
            f"{DOCUMENT_FIELD}: pole jest wymagane (treść pisma w formacie JSON).",
        )
    return Submission(document, uploads, fingerprint(document, uploads))


def _malformed_form() -> Problem:
    return _problem(
        400,
        "(body)",
        "niepoprawny formularz multipart/form-data",
        "malformed-form",
        "Treść żądania nie jest poprawnym formularzem multipart/form-data.",
    )


async def _read_document(
    part: BodyPartReader, settings: CorrespondenceSettings, budget: reader.FormBudget
) -> Any:
    kib = settings.document_max_bytes // 1024
    too_large = reader.refusal(
        413,
        DOCUMENT_FIELD,
        f"treść pisma przekracza {kib} KB",
        "document-too-large",
        f"Treść pisma może mieć najwyżej {kib} KB.",
    )
    raw = await reader.read_text(
        part, DOCUMENT_FIELD, settings.document_max_bytes, lambda: too_large, budget
    )
    # The same checks as a JSON body's (nesting, NUL, lone surrogates, control characters).
    return parse_json(raw, field=DOCUMENT_FIELD)


async def _read_file(
    part: BodyPartReader,
    filename: str | None,
    position: int,
    settings: CorrespondenceSettings,
    budget: reader.FormBudget,
) -> Upload:
    read = await reader.read_file(
        part,
        f"{FILES_FIELD}.{position}",
        attachment_rule(settings),
        spool_memory=settings.spool_memory_bytes,
        budget=budget,
        shown_name=(filename or f"plik {position + 1}")[:100],
    )
    return Upload(
        position=position,
        filename=files.safe_filename(filename, read.media_type, position),
        content_type=read.media_type,
        size=read.size,
        sha256=read.sha256,
        spool=read.spool,
    )
