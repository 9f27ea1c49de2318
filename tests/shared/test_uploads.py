"""The shared upload reader: one magic-number table, file parts read in chunks with a limit
per part and per request, refusals that name the field."""

from __future__ import annotations

import pytest
from aiohttp import BodyPartReader
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
