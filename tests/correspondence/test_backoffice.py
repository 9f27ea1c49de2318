"""Reklamacje name the client's own invoice or meter (known from billing's events), and reach
the back office with data-change requests, on its own durable queue."""

from __future__ import annotations

from tests.correspondence.harness import PDF, Correspondence, documents


async def test_a_reklamacja_on_another_clients_invoice_is_refused(svc: Correspondence) -> None:
    await svc.give_invoice("10000126010001", "100001")
    await svc.give_invoice("20000226010001", "200002")
    theirs = {**documents()["reklamacja"], "invoice_number": "20000226010001"}
    unknown = {**documents()["reklamacja"], "invoice_number": "10000126019999"}
    for document in (theirs, unknown):
        answer = await svc.submit(document, expect=422)
        assert answer["code"] == "not-your-invoice"
        assert answer["errors"] == [
            {"field": "invoice_number", "reason": "na Twoim koncie nie ma faktury o tym numerze"}
        ]
    assert await svc.pool.fetchval("SELECT count(*) FROM cases") == 0
    # the owner may
    answer = await svc.submit(theirs, client_number="200002")
    assert answer["kind"] == "reklamacja"


async def test_a_reklamacja_of_a_reading_names_the_clients_own_meter(
    svc: Correspondence,
) -> None:
    await svc.give_meter("WM-100001-1", "100001")
    await svc.give_meter("WM-200002-1", "200002")
    base = {"kind": "reklamacja", "reason": "Odczyt jest wyższy niż stan licznika."}
    refused = await svc.submit({**base, "meter_serial": "WM-200002-1"}, expect=422)
    assert refused["errors"] == [
        {"field": "meter_serial", "reason": "na Twoim koncie nie ma wodomierza o tym numerze"}
    ]
    answer = await svc.submit({**base, "meter_serial": "WM-100001-1"})
    [event] = await svc.tap.wait_for("correspondence.reklamacja.filed", case_id=answer["id"])
    assert event.payload["meter_serial"] == "WM-100001-1"
    assert event.payload["invoice_number"] is None


async def test_reklamacja_and_data_change_are_published_for_the_back_office(
    svc: Correspondence,
) -> None:
    await svc.give_invoice("10000126010001")
    reklamacja = await svc.submit(
        documents()["reklamacja"], files=[("korekta.pdf", PDF, "application/pdf")]
    )
    change = await svc.submit(documents()["data_change"])
    letter = await svc.submit(documents()["letter"])

    [filed] = await svc.tap.wait_for("correspondence.reklamacja.filed")
    assert filed.payload == {
        "case_id": reklamacja["id"],
        "case_number": reklamacja["number"],
        "client_number": "100001",
        "filed_at": reklamacja["submitted_at"],
        "invoice_number": "10000126010001",
        "meter_serial": None,
        "reason": documents()["reklamacja"]["reason"],
        "reply_due": reklamacja["reply_due"],
        "attachments": [
            {
                "attachment_id": reklamacja["attachments"][0]["id"],
                "filename": "korekta.pdf",
                "content_type": "application/pdf",
                "size": len(PDF),
            }
        ],
    }
    [requested] = await svc.tap.wait_for("correspondence.data_change.requested")
    assert requested.payload["case_id"] == change["id"]
    assert requested.payload["changes"] == documents()["data_change"]["changes"]
    assert requested.payload["comment"] is None
    # every case is in the register; only these two are the back office's work
    submitted = await svc.tap.wait_for("correspondence.case.submitted", count=3)
    assert {e.payload["case_id"] for e in submitted} == {
        reklamacja["id"],
        change["id"],
        letter["id"],
    }
    work = {
        e.payload["case_id"]
        for e in svc.tap.received
        if not e.type.startswith("correspondence.case")
    }
    assert work == {reklamacja["id"], change["id"]}
    # a case's events keep their order: submitted before filed
    order = [e.type for e in svc.tap.received if e.payload["case_id"] == reklamacja["id"]]
    assert order == ["correspondence.case.submitted", "correspondence.reklamacja.filed"]


async def test_the_back_office_inbox_is_durable_and_bound_at_start(svc: Correspondence) -> None:
    channel = await svc.connection.channel()
    try:
        queue = await channel.declare_queue(
            svc.topology.backoffice_queue("correspondence"), passive=True
        )
        assert queue.declaration_result.message_count == 0
    finally:
        await channel.close()
    # a second replica declares the same inbox without complaint
    from ebok_correspondence.app import create_app

    from tests.support.apps import serve

    async with serve(create_app(svc.settings)) as replica:
        resp = await replica.get("/health/ready")
        assert resp.status == 200
