"""A file's type judged by its first bytes: the one magic-number table. Pure, no I/O."""

from __future__ import annotations

# Leading bytes of each media type an uploaded file may prove.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
SNIFF_BYTES = max(len(magic) for magic, _ in MAGIC)


def sniff(head: bytes, accepted: tuple[str, ...] | None = None) -> str | None:
    """The media type the first bytes prove (among ``accepted``, if given), else None; the
    name and the declared Content-Type are never believed."""
    for magic, media_type in MAGIC:
        if head.startswith(magic) and (accepted is None or media_type in accepted):
            return media_type
    return None
