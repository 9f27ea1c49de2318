"""Reading what "send" carries: a JSON document alone, or a multipart form with the document
and up to five files, read as a stream.

Each file's size is counted as it arrives, so an 11 MB part is refused at 10 MB and 1 byte,
not after it was all read; a sixth file is refused when its headers arrive. The type is judged
from the first bytes (magic numbers), never from the name or the part's Content-Type. Files
are spooled (memory up to a threshold, then a temporary file) until the case is written.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from aiohttp import BodyPartReader, web
from ebok_shared.http.problems import Problem
from ebok_shared.http.validation import read_json

from . import files
from .settings import CorrespondenceSettings

DOCUMENT_FIELD = "document"
FILES_FIELD = "attachments"
READ_CHUNK = 256 * 1024
STORE_CHUNK = 1024 * 1024  # the size of the stored chunks (see attachment_chunks)
_IDENTITY = ("", "identity", "binary", "7bit", "8bit")


@dataclass
class Upload:
    position: int
    filename: str  # safe, with the extension of the type the bytes proved
    content_type: str
    size: int
    sha256: str
    spool: BinaryIO = field(repr=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        self.spool.seek(0)
        while data := self.spool.read(STORE_CHUNK):
            yield data


@dataclass
class Submission:
    document: Any
    uploads: list[Upload]
    fingerprint: str  # what the request means: a retry with another multipart boundary matches

    def close(self) -> None:
        for upload in self.uploads:
            upload.spool.close()


def _problem(status: int, field_name: str, reason: str, code: str, detail: str) -> Problem:
    return Problem(status, detail, code=code, errors=[{"field": field_name, "reason": reason}])


def fingerprint(document: Any, uploads: list[Upload]) -> str:
    canonical = json.dumps(
        {"document": document, "attachments": [[u.filename, u.sha256] for u in uploads]},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def read_submission(request: web.Request, settings: CorrespondenceSettings) -> Submission:
    if request.content_type == "application/json":
        limited = request.clone(client_max_size=settings.document_max_bytes)
        document = await read_json(limited, {})
        return Submission(document, [], fingerprint(document, []))
    if request.content_type != "multipart/form-data":
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
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        raise _too_large_body(settings)
    return await _read_form(request, settings)


def _too_large_body(settings: CorrespondenceSettings) -> Problem:
    mb = settings.max_body_bytes // (1024 * 1024)
    return _problem(
        413,
        "(body)",
        f"treść przekracza {mb} MB",
        "body-too-large",
        f"Pismo z załącznikami może mieć najwyżej {mb} MB.",
    )


async def _read_form(request: web.Request, settings: CorrespondenceSettings) -> Submission:
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError):
        raise _malformed_form() from None
    document: Any = None
    has_document = False
    uploads: list[Upload] = []
    try:
        while True:
            try:
                part = await reader.next()
            except (ValueError, AssertionError, KeyError):
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
            if part.name == DOCUMENT_FIELD:
                if has_document:
                    raise _problem(
                        422,
                        DOCUMENT_FIELD,
                        "pole podano więcej niż raz",
                        "validation",
                        "Formularz może zawierać tylko jedno pismo.",
                    )
                document, has_document = await _read_document(part, settings), True
            elif part.name == FILES_FIELD:
                if len(uploads) >= settings.attachments_max:
                    raise _problem(
                        422,
                        FILES_FIELD,
                        f"za dużo załączników (najwyżej {settings.attachments_max})",
                        "too-many-attachments",
                        f"Do pisma można dołączyć najwyżej {settings.attachments_max} plików.",
                    )
                uploads.append(await _read_file(part, len(uploads), settings))
            else:
                name = (part.name or "(bez nazwy)")[:50]
                raise _problem(
                    422,
                    name,
                    "nieznane pole",
                    "validation",
                    f"{name}: nieznane pole formularza (dozwolone: {DOCUMENT_FIELD},"
                    f" {FILES_FIELD}).",
                )
    except BaseException:
        for upload in uploads:
            upload.spool.close()
        raise
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


def _check_encoding(part: BodyPartReader, field_name: str) -> None:
    transfer = part.headers.get("Content-Transfer-Encoding", "").strip().lower()
    encoding = part.headers.get("Content-Encoding", "").strip().lower()
    if transfer not in _IDENTITY or encoding not in ("", "identity"):
        raise _problem(
            415,
            field_name,
            "kodowanie części formularza nie jest obsługiwane",
            "unsupported-encoding",
            "Pliki wysyła się w formularzu bez dodatkowego kodowania.",
        )


async def _read_document(part: BodyPartReader, settings: CorrespondenceSettings) -> Any:
    _check_encoding(part, DOCUMENT_FIELD)
    raw = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK):
        raw.extend(chunk)
        if len(raw) > settings.document_max_bytes:
            kib = settings.document_max_bytes // 1024
            raise _problem(
                413,
                DOCUMENT_FIELD,
                f"treść pisma przekracza {kib} KB",
                "document-too-large",
                f"Treść pisma może mieć najwyżej {kib} KB.",
            )
    try:
        return json.loads(bytes(raw), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError):
        raise _problem(
            400,
            DOCUMENT_FIELD,
            "niepoprawny JSON",
            "malformed-json",
            "Pole document musi zawierać treść pisma w formacie JSON.",
        ) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _read_file(
    part: BodyPartReader, position: int, settings: CorrespondenceSettings
) -> Upload:
    field_name = f"{FILES_FIELD}.{position}"
    _check_encoding(part, field_name)
    limit = settings.attachment_max_bytes
    spool = tempfile.SpooledTemporaryFile(max_size=settings.spool_memory_bytes)
    digest = hashlib.sha256()
    head = b""
    media_type: str | None = None
    size = 0
    shown = (part.filename or f"plik {position + 1}")[:100]
    try:
        while chunk := await part.read_chunk(READ_CHUNK):
            size += len(chunk)
            if size > limit:  # refused here: the rest of the part is never read
                mb = limit // (1024 * 1024)
                raise _problem(
                    413,
                    field_name,
                    f"plik jest za duży (najwyżej {mb} MB)",
                    "attachment-too-large",
                    f"Plik „{shown}” jest za duży: najwyżej {mb} MB.",
                )
            if media_type is None:
                head += chunk[: files.SNIFF_BYTES]
                if len(head) >= files.SNIFF_BYTES:
                    media_type = _sniffed(head, field_name, shown)
            digest.update(chunk)
            spool.write(chunk)
        if size == 0:
            raise _problem(
                422,
                field_name,
                "plik jest pusty",
                "empty-attachment",
                f"Plik „{shown}” jest pusty.",
            )
        if media_type is None:
            media_type = _sniffed(head, field_name, shown)
    except BaseException:
        spool.close()
        raise
    return Upload(
        position=position,
        filename=files.safe_filename(part.filename, media_type, position),
        content_type=media_type,
        size=size,
        sha256=digest.hexdigest(),
        spool=spool,  # type: ignore[arg-type]
    )


def _sniffed(head: bytes, field_name: str, shown: str) -> str:
    media_type = files.sniff(head)
    if media_type is None:
        raise _problem(
            415,
            field_name,
            f"niedozwolony typ pliku (dozwolone: {files.ALLOWED_TYPES_PL})",
            "attachment-type",
            f"Plik „{shown}” nie jest plikiem {files.ALLOWED_TYPES_PL}; można dołączać tylko"
            " takie pliki.",
        )
    return media_type
