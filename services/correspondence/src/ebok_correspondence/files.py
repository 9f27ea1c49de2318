"""Attachment rules: the types accepted (judged from the bytes by the shared magic-number
table, ``ebok_shared.filetypes``, never from the name or the declared Content-Type), and a
file name that is safe to hand back. Pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

from ebok_shared import filetypes

ACCEPTED = ("application/pdf", "image/jpeg", "image/png")
# The extension a file of each accepted type is served with.
EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
ALSO_ACCEPTED = {"image/jpeg": (".jpeg", ".jpe")}
ALLOWED_TYPES_PL = "PDF, JPEG lub PNG"
MAX_NAME_CHARS = 150
_NOT_DECOMPOSED = str.maketrans({"ł": "l", "Ł": "L"})  # no NFKD base letter of their own
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def sniff(head: bytes) -> str | None:
    """The media type the first bytes prove, or None if they are none of the accepted ones."""
    return filetypes.sniff(head, ACCEPTED)


def safe_filename(raw: str | None, media_type: str, position: int) -> str:
    """A display name: no path, no control or shell-special characters, at most 150
    characters, and an extension that matches the type the bytes proved (a PNG sent as
    ``skan.pdf`` is kept as ``skan.png``)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = PureWindowsPath(PurePosixPath(name).name).name  # no folders, of either kind
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    wanted = EXTENSIONS[media_type]
    if "." + ext.lower() not in (wanted, *ALSO_ACCEPTED.get(media_type, ())):
        stem = name if ext.lower() not in ("pdf", "jpg", "jpeg", "jpe", "png") else stem
        ext = wanted[1:]
    stem = stem.strip(" .") or f"zalacznik-{position + 1}"
    return stem[: MAX_NAME_CHARS - len(ext) - 1] + "." + ext


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact one (RFC 6266 / 8187)."""
    ascii_name = (
        unicodedata.normalize("NFKD", filename.translate(_NOT_DECOMPOSED))
        .encode("ascii", "ignore")
        .decode()
        or "zalacznik"
    )
    ascii_name = ascii_name.replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
