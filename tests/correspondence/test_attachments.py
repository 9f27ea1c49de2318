"""Attachments: at most five files of at most 10 MB, PDF, JPEG or PNG judged from the bytes;
read as a stream (an oversized part is refused before it is all read); stored in the
service's database and served back only to their owner and to operators."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

import aiohttp

from tests.correspondence.harness import EXE, JPEG, PDF, PNG, Correspondence, MiB, documents

LETTER = documents()["letter"]


async def _download(
    svc: Correspondence, path: str, headers: dict[str, str]
) -> tuple[int, bytes, Any]:
    resp = await svc.client.get(path, headers=headers)
    return resp.status, await resp.read(), resp.headers


async def test_pdf_jpeg_and_png_are_stored_and_served_back_to_their_owner(
    svc: Correspondence,
) -> None:
    files = [
        ("umowa.pdf", PDF, "application/pdf"),
        ("zdjęcie wycieku.jpeg", JPEG, "image/jpeg"),
        ("../../etc/licznik.png", PNG, "image/png"),
    ]
    answer = await svc.submit(LETTER, files=files)
    shown = answer["attachments"]
    assert [(a["filename"], a["content_type"], a["size"]) for a in shown] == [
        ("umowa.pdf", "application/pdf", len(PDF)),
        ("zdjęcie wycieku.jpeg", "image/jpeg", len(JPEG)),
        ("licznik.png", "image/png", len(PNG)),
    ]
    case = await svc.get(f"/me/correspondence/{answer['id']}", svc.issuer.customer())
    for attachment, (_, content, media_type) in zip(case["attachments"], files, strict=True):
        status, body, headers = await _download(svc, attachment["path"], svc.issuer.customer())
        assert status == 200
        assert body == content
        assert headers["Content-Type"] == media_type
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Disposition"].startswith("attachment;")
    # operators read them too
    status, body, _ = await _download(
        svc, f"/operator/cases/{answer['id']}/attachments/{shown[0]['id']}", svc.issuer.operator()
    )
    assert (status, body) == (200, PDF)


async def test_a_ten_megabyte_file_is_accepted_and_comes_back_byte_for_byte(
    svc: Correspondence,
) -> None:
    content = PNG + bytes(range(256)) * ((10 * MiB - len(PNG)) // 256)
    content += b"\x00" * (10 * MiB - len(content))
    assert len(content) == 10 * MiB
    answer = await svc.submit(LETTER, files=[("plan.png", content, "image/png")])
    assert await svc.pool.fetchval("SELECT count(*) FROM attachment_chunks") == 10
    url = f"/me/correspondence/{answer['id']}/attachments/{answer['attachments'][0]['id']}"
    status, body, headers = await _download(svc, url, svc.issuer.customer())
    assert status == 200 and len(body) == 10 * MiB
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(content).hexdigest()
    assert headers["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'


async def test_a_file_of_one_stored_chunk_and_one_of_two_come_back_byte_for_byte(
    svc: Correspondence,
) -> None:
    """1 MiB is one stored chunk, written with the attachment's row in one statement; a byte
    more is two chunks, copied in: both come back as sent."""
    one = PDF + bytes(range(256)) * ((MiB - len(PDF)) // 256)
    one += b"\x01" * (MiB - len(one))
    two = one + b"\x02"
    answer = await svc.submit(
        LETTER, files=[("jeden.pdf", one, "application/pdf"), ("dwa.pdf", two, "application/pdf")]
    )
    counts = await svc.pool.fetch(
        "SELECT a.position, count(c.seq) AS chunks FROM attachments a"
        " JOIN attachment_chunks c ON c.attachment_id = a.id GROUP BY a.position ORDER BY 1"
    )
    assert [(r["position"], r["chunks"]) for r in counts] == [(0, 1), (1, 2)]
    for shown, content in zip(answer["attachments"], (one, two), strict=True):
        url = f"/me/correspondence/{answer['id']}/attachments/{shown['id']}"
        status, body, _ = await _download(svc, url, svc.issuer.customer())
        assert (status, body) == (200, content)


async def test_a_png_named_pdf_is_stored_as_the_png_it_is(svc: Correspondence) -> None:
    answer = await svc.submit(LETTER, files=[("faktura.pdf", PNG, "application/pdf")])
    [shown] = answer["attachments"]
    assert (shown["filename"], shown["content_type"]) == ("faktura.png", "image/png")
    url = f"/me/correspondence/{answer['id']}/attachments/{shown['id']}"
    status, body, headers = await _download(svc, url, svc.issuer.customer())
    assert (status, body, headers["Content-Type"]) == (200, PNG, "image/png")
    assert 'filename="faktura.png"' in headers["Content-Disposition"]


async def test_an_executable_named_jpg_is_refused_and_nothing_is_kept(
    svc: Correspondence,
) -> None:
    answer = await svc.submit(
        LETTER,
        files=[("umowa.pdf", PDF, "application/pdf"), ("zdjecie.jpg", EXE, "image/jpeg")],
        expect=415,
    )
    assert answer["code"] == "attachment-type"
    assert answer["errors"] == [
        {
            "field": "attachments.1",
            "reason": "niedozwolony typ pliku (dozwolone: PDF, JPEG lub PNG)",
        }
    ]
    assert "zdjecie.jpg" in answer["detail"]
    for table in ("cases", "attachments", "attachment_chunks", "outbox"):
        assert await svc.pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_six_files_are_refused(svc: Correspondence) -> None:
    answer = await svc.submit(
        LETTER, files=[(f"strona{n}.pdf", PDF, "application/pdf") for n in range(6)], expect=422
    )
    assert answer["code"] == "too-many-attachments"
    assert answer["errors"] == [
        {"field": "attachments", "reason": "za dużo załączników (najwyżej 5)"}
    ]
    assert await svc.pool.fetchval("SELECT count(*) FROM cases") == 0
    five = await svc.submit(
        LETTER, files=[(f"strona{n}.pdf", PDF, "application/pdf") for n in range(5)]
    )
    assert len(five["attachments"]) == 5


async def test_an_empty_file_an_unknown_field_and_a_form_without_document_are_refused(
    svc: Correspondence,
) -> None:
    answer = await svc.submit(LETTER, files=[("pusty.pdf", b"", "application/pdf")], expect=422)
    assert answer["errors"] == [{"field": "attachments.0", "reason": "plik jest pusty"}]
    answer = await svc.submit(None, files=[("a.pdf", PDF, "application/pdf")], expect=422)
    assert answer["errors"] == [{"field": "document", "reason": "pole jest wymagane"}]
    data = aiohttp.FormData()
    data.add_field("document", json.dumps(LETTER))
    data.add_field("virus", b"x", filename="x.bin")
    resp = await svc.client.post("/me/correspondence", data=data, headers=svc.issuer.customer())
    assert resp.status == 422
    assert (await resp.json(content_type=None))["errors"] == [
        {"field": "virus", "reason": "nieznane pole"}
    ]
    answer = await svc.submit(
        {"kind": "letter"}, files=[("a.pdf", PDF, "application/pdf")], expect=422
    )
    assert {e["field"] for e in answer["errors"]} == {"subject", "content"}


async def test_an_eleven_megabyte_part_is_refused_before_it_is_all_read(
    svc: Correspondence,
) -> None:
    """The client announces 11 MB, sends 10.5 MB and then waits: the answer comes anyway, so
    the service decided without the rest (which is never sent)."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="document"\r\n'
        f"Content-Type: application/json\r\n\r\n{json.dumps(LETTER)}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments";'
        f' filename="skan.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    file_size, sent_of_it = 11 * MiB, 10 * MiB + MiB // 2
    token = svc.issuer.customer()["Authorization"]
    request_head = (
        "POST /me/correspondence HTTP/1.1\r\n"
        f"Host: {svc.client.host}:{svc.client.port}\r\n"
        f"Authorization: {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + file_size + len(tail)}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(svc.client.host, svc.client.port)
    try:
        writer.write(request_head + head + PDF)
        block = b"\x00" * (256 * 1024)
        sent = len(PDF)
        while sent < sent_of_it:
            part = block[: sent_of_it - sent]
            writer.write(part)
            sent += len(part)
            await writer.drain()
        # Nothing more is sent; the answer must come without the last half megabyte.
        head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        status_line, _, headers = head_bytes.partition(b"\r\n")
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        body = await asyncio.wait_for(reader.readexactly(length), timeout=30)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert b"application/problem+json" in headers
    problem = json.loads(body)
    assert problem["errors"] == [
        {"field": "attachments.0", "reason": "plik jest za duży (najwyżej 10 MB)"}
    ]
    assert problem["code"] == "attachment-too-large"
    assert await svc.pool.fetchval("SELECT count(*) FROM cases") == 0


async def test_a_part_whose_header_is_not_valid_is_a_malformed_form_not_an_error(
    svc: Correspondence,
) -> None:
    """Found by schemathesis over the documented multipart body: a control character in a
    field's name made the parser raise what the reader did not catch (a 500)."""
    body = (
        b'--B\r\nContent-Disposition: form-data; name="a\x08b"\r\n\r\n{}\r\n'
        b'--B\r\nContent-Disposition: form-data; name="document"\r\n\r\n5\r\n--B--\r\n'
    )
    resp = await svc.client.post(
        "/me/correspondence",
        data=body,
        headers={**svc.issuer.customer(), "Content-Type": "multipart/form-data; boundary=B"},
    )
    assert resp.status == 400, await resp.text()
    assert (await resp.json(content_type=None))["errors"][0]["field"] == "(body)"


async def test_a_declared_body_over_the_limit_is_refused_at_once(svc: Correspondence) -> None:
    resp = await svc.client.post(
        "/me/correspondence",
        data=b"",
        headers={
            **svc.issuer.customer(),
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(52 * MiB),
        },
        skip_auto_headers=("Content-Length",),
    )
    assert resp.status == 413
    assert (await resp.json(content_type=None))["errors"][0]["field"] == "(body)"


async def test_attachments_are_served_only_to_their_owner(svc: Correspondence) -> None:
    mine = await svc.submit(LETTER, files=[("a.pdf", PDF, "application/pdf")])
    mine_too = await svc.submit(LETTER, files=[("b.png", PNG, "image/png")])
    theirs = await svc.submit(LETTER, client_number="200002", files=[("c.jpg", JPEG, "image/jpeg")])
    a, b, c = (x["attachments"][0]["id"] for x in (mine, mine_too, theirs))
    me = svc.issuer.customer("100001")
    assert (await _download(svc, f"/me/correspondence/{mine['id']}/attachments/{a}", me))[0] == 200
    refused = [
        f"/me/correspondence/{mine['id']}/attachments/{b}",  # my own, but of my other case
        f"/me/correspondence/{mine['id']}/attachments/{c}",  # someone else's, via my case
        f"/me/correspondence/{theirs['id']}/attachments/{c}",  # someone else's case
        f"/me/correspondence/{mine['id']}/attachments/{uuid.uuid4()}",
        f"/me/correspondence/{mine['id']}/attachments/1",
        f"/me/correspondence/nie-uuid/attachments/{a}",
    ]
    for path in refused:
        status, body, headers = await _download(svc, path, me)
        assert status == 404, path
        assert headers["Content-Type"].startswith("application/problem+json"), path
        assert PDF not in body and JPEG not in body and PNG not in body
    # the operator route does not take a customer's token, nor the customer route an operator's
    status, _, _ = await _download(svc, f"/operator/cases/{mine['id']}/attachments/{a}", me)
    assert status == 403
    status, _, _ = await _download(
        svc, f"/me/correspondence/{mine['id']}/attachments/{a}", svc.issuer.operator()
    )
    assert status == 403
    status, _, _ = await _download(svc, f"/me/correspondence/{mine['id']}/attachments/{a}", {})
    assert status == 401


FORBIDDEN_REASON = "niedozwolony znak (np. bajt NUL lub niepoprawny znak Unicode)"


async def test_the_documents_text_in_a_form_is_checked_as_a_json_bodys_is(
    svc: Correspondence,
) -> None:
    """The document part of a form gets the JSON body's checks (``parse_json``): a NUL, an
    escape character or a lone surrogate in a field, or JSON nested too deep, is a 400
    naming the field, and nothing is stored."""
    for bad in ("Awaria\x00", "Awaria \x1b[31m", "Awaria \ud800"):
        answer = await svc.submit(
            {**LETTER, "subject": bad}, files=[("a.pdf", PDF, "application/pdf")], expect=400
        )
        assert answer["errors"] == [{"field": "subject", "reason": FORBIDDEN_REASON}], bad
    data = aiohttp.FormData()
    data.add_field("document", '{"kind": ' + "[" * 5000 + "]" * 5000 + "}")
    data.add_field("attachments", PDF, filename="a.pdf", content_type="application/pdf")
    resp = await svc.client.post("/me/correspondence", data=data, headers=svc.issuer.customer())
    assert resp.status == 400, await resp.text()
    problem = await resp.json(content_type=None)
    assert problem["code"] == "malformed-json" and problem["errors"][0]["field"] == "document"
    assert await svc.pool.fetchval("SELECT count(*) FROM cases") == 0
    # the same letter with clean text goes through
    await svc.submit({**LETTER, "subject": "Awaria"}, files=[("a.pdf", PDF, "application/pdf")])
