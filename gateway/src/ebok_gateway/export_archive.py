"""The GDPR export as one archive (terms I.7; GDPR art. 15 and 20): every service's part as
JSON under ``dane/``, the files the customer sent (meter photos, correspondence attachments)
under ``pliki/``, and ``manifest.json`` saying what each entry is.

The archive is written to a spooled temporary file (memory up to a threshold, then disk) one
file at a time, so a customer with many 10 MB attachments does not hold them all in memory;
a file that cannot be fetched makes the export incomplete, never silently smaller."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO, Any

from ebok_shared.http.problems import Problem

from .upstream import Upstreams

SPOOL_BYTES = 8 * 1024 * 1024  # the archive is kept in memory up to this, then on disk
MAX_FILES = 2000  # files in one export, at most (a bound, far above any real customer)

# What each service's part holds, for the manifest (Polish: the customer reads it).
PART_DESCRIPTIONS = {
    "auth": "Konto e-BOK: dane konta, akceptacje regulaminu, sesje i zdarzenia bezpieczeństwa.",
    "billing": "Rozliczenia: dane klienta, umowy, faktury z pozycjami, wpłaty i ich "
    "rozliczenie, noty odsetkowe z wyliczeniem, historia zgód na e-fakturę.",
    "readings": "Wodomierze, odczyty, zgłoszenia wodomierzy ogrodowych i lista zdjęć "
    "(pliki zdjęć w katalogu pliki/zdjecia).",
    "correspondence": "Korespondencja: sprawy z treścią, odpowiedziami i listą załączników "
    "(pliki w katalogu pliki/korespondencja).",
    "notifier": "Powiadomienia: adres, na który wysyłamy wiadomości, i dziennik wysłanych "
    "wiadomości (bez ich treści).",
}
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


@dataclass(frozen=True)
class WantedFile:
    service: str
    source: str  # the service's path that serves it
    name: str  # its path in the archive
    description: str


def _safe(text: str) -> str:
    """A path segment made of letters, digits, dot, dash and underscore only."""
    cleaned = re.sub(r"[^\w.-]+", "_", text, flags=re.ASCII).strip("._")
    return cleaned[:120] or "plik"


def wanted_files(parts: dict[str, Any]) -> list[WantedFile]:
    """The files the services' parts list: photos (readings) and attachments (cases)."""
    files: list[WantedFile] = []
    for photo in (parts.get("readings") or {}).get("photos") or []:
        extension = _EXTENSIONS.get(photo.get("content_type", ""), "bin")
        files.append(
            WantedFile(
                "readings",
                photo["path"],
                f"pliki/zdjecia/{_safe(photo['id'])}.{extension}",
                "Zdjęcie wodomierza wysłane z odczytem lub zgłoszeniem wodomierza ogrodowego"
                f" ({photo.get('uploaded_at', '')[:10]}).",
            )
        )
    for case in (parts.get("correspondence") or {}).get("cases") or []:
        folder = _safe(str(case.get("number", case.get("id", ""))).replace("/", "-"))
        for attachment in case.get("attachments") or []:
            files.append(
                WantedFile(
                    "correspondence",
                    attachment["path"],
                    f"pliki/korespondencja/{folder}/{_safe(attachment['id'])[:8]}-"
                    f"{_safe(attachment['filename'])}",
                    f"Załącznik do sprawy nr {case.get('number')}: {attachment['filename']}.",
                )
            )
    return files


async def build(
    upstreams: Upstreams,
    token: str,
    client_number: str,
    parts: dict[str, Any],
    *,
    timeout: float,
) -> IO[bytes]:
    """The archive, rewound, in a temporary file the caller closes."""
    files = wanted_files(parts)
    if len(files) > MAX_FILES:
        raise Problem(
            413,
            "Danych jest zbyt wiele na jeden plik eksportu; prosimy o kontakt z Działem "
            "Obsługi Klienta.",
            code="export-too-large",
        )
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        entries: list[dict[str, Any]] = []
        with zipfile.ZipFile(spool, "w") as archive:
            for service, data in parts.items():
                body = json.dumps(data, ensure_ascii=False, indent=2).encode()
                name = f"dane/{service}.json"
                archive.writestr(name, body, compress_type=zipfile.ZIP_DEFLATED)
                entries.append(_entry(name, "data", service, "application/json", body))
                entries[-1]["description"] = PART_DESCRIPTIONS.get(service, service)
            for wanted in files:
                resp = await upstreams.call(
                    wanted.service,
                    "GET",
                    wanted.source,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=timeout,
                )
                if resp.status != 200:
                    raise Problem(
                        503,
                        "Nie udało się dołączyć do eksportu wszystkich plików. Spróbuj "
                        "ponownie za chwilę.",
                        code="export-incomplete",
                        services=[wanted.service],
                    )
                content_type = resp.headers.get("Content-Type", "").split(";")[0]
                # PDF, JPEG and PNG are compressed already
                archive.writestr(wanted.name, resp.body, compress_type=zipfile.ZIP_STORED)
                entry = _entry(wanted.name, "file", wanted.service, content_type, resp.body)
                entries.append({**entry, "source": wanted.source})
                entries[-1]["description"] = wanted.description
            manifest = {
                "format": "e-BOK: eksport danych klienta, wersja 1",
                "client_number": client_number,
                "generated_at": dt.datetime.now(dt.UTC).isoformat(),
                "description": "Wszystkie dane, które e-BOK przechowuje o kliencie (regulamin, "
                "pkt I.7; RODO art. 15 i 20). Dane w plikach JSON w katalogu dane/, pliki "
                "przesłane przez klienta w katalogu pliki/; każdy wpis poniżej mówi, czym jest.",
                "entries": entries,
            }
            archive.writestr(
                "manifest.json",
                json.dumps(manifest, ensure_ascii=False, indent=2).encode(),
                compress_type=zipfile.ZIP_DEFLATED,
            )
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    # a SpooledTemporaryFile is a binary file object; typeshed types it apart
    return spool  # type: ignore[return-value]


def _entry(name: str, kind: str, service: str, content_type: str, body: bytes) -> dict[str, Any]:
    return {
        "path": name,
        "kind": kind,  # "data" (JSON) or "file" (as the customer sent it)
        "service": service,
        "content_type": content_type,
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
