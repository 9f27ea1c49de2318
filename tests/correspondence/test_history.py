"""History (terms III.e): every document the customer sent through e-BOK, newest first,
paged, with kind, date, status and the replies; one case with its attachments; the export.
Only ever the customer's own."""

from __future__ import annotations

import datetime as dt
import uuid

from ebok_shared.clock import UTC, clock

from tests.correspondence.harness import PDF, Correspondence, documents

START = dt.datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


async def _send_over_days(
    svc: Correspondence, count: int, client_number: str = "100001"
) -> list[dict]:
    sent = []
    for n in range(count):
        clock.freeze(START + dt.timedelta(days=n))
        sent.append(await svc.submit(documents()["letter"], client_number=client_number))
    return sent


async def test_the_history_lists_newest_first_in_pages(svc: Correspondence) -> None:
    sent = await _send_over_days(svc, 5)
    await _send_over_days(svc, 2, client_number="200002")
    me = svc.issuer.customer()
    first = await svc.get("/me/correspondence?page_size=2", me)
    assert (first["total"], first["pages"], first["page"], first["page_size"]) == (5, 3, 1, 2)
    assert [i["id"] for i in first["items"]] == [sent[4]["id"], sent[3]["id"]]
    last = await svc.get("/me/correspondence?page=3&page_size=2", me)
    assert [i["id"] for i in last["items"]] == [sent[0]["id"]]
    past = await svc.get("/me/correspondence?page=4&page_size=2", me)
    assert (past["items"], past["total"], past["pages"]) == ([], 5, 3)
    item = first["items"][0]
    assert {k: item[k] for k in ("kind", "kind_label", "status", "status_label", "number")} == {
        "kind": "letter",
        "kind_label": "Pismo",
        "status": "received",
        "status_label": "Przyjęte",
        "number": sent[4]["number"],
    }
    assert item["submitted_at"] == (START + dt.timedelta(days=4)).isoformat()
    assert item["replies"] == []
    for bad in ("page=0", "page_size=101", "page=x", "status=lost", "kind=poem"):
        resp = await svc.client.get(f"/me/correspondence?{bad}", headers=me)
        assert resp.status == 400, bad
        problem = await resp.json(content_type=None)
        assert problem["errors"][0]["field"] == bad.split("=")[0]


async def test_replies_and_status_show_in_the_history_and_filters_work(
    svc: Correspondence,
) -> None:
    answered, waiting, closed = await _send_over_days(svc, 3)
    await svc.act(
        "POST",
        f"/operator/cases/{answered['id']}/replies",
        {"body": "Duplikat umowy wysłaliśmy pocztą."},
        status=201,
    )
    await svc.act("POST", f"/operator/cases/{closed['id']}/closure", {"note": "Duplikat."})
    me = svc.issuer.customer()
    listed = await svc.get("/me/correspondence", me)
    by_id = {i["id"]: i for i in listed["items"]}
    assert by_id[answered["id"]]["status"] == "answered"
    assert by_id[answered["id"]]["status_label"] == "Udzielono odpowiedzi"
    [shown_reply] = by_id[answered["id"]]["replies"]
    assert shown_reply["body"] == "Duplikat umowy wysłaliśmy pocztą."
    assert shown_reply["author"] == "Biuro Obsługi Klienta"  # no operator's identity
    assert by_id[closed["id"]]["status"] == "closed"
    open_ = await svc.get("/me/correspondence?status=open&page_size=5", me)  # the dashboard's
    assert {i["id"] for i in open_["items"]} == {answered["id"], waiting["id"]}
    only_closed = await svc.get("/me/correspondence?status=closed", me)
    assert [i["id"] for i in only_closed["items"]] == [closed["id"]]
    letters = await svc.get("/me/correspondence?kind=letter", me)
    assert letters["total"] == 3


async def test_a_customer_opens_only_their_own_case(svc: Correspondence) -> None:
    mine = await svc.submit(
        documents()["failure_report"], files=[("wyciek.pdf", PDF, "application/pdf")]
    )
    theirs = await svc.submit(documents()["letter"], client_number="200002")
    case = await svc.get(f"/me/correspondence/{mine['id']}", svc.issuer.customer())
    assert case["details"]["place"] == documents()["failure_report"]["place"]
    assert case["contact_phone"] == "+48 600 100 200"
    assert case["urgent"] is True
    assert [a["filename"] for a in case["attachments"]] == ["wyciek.pdf"]
    for path in (
        f"/me/correspondence/{theirs['id']}",
        f"/me/correspondence/{uuid.uuid4()}",
        "/me/correspondence/EBOK-2026-000001",
    ):
        problem = await svc.get(path, svc.issuer.customer(), status=404)
        assert problem["detail"] == "Nie znaleziono takiej sprawy." or problem["status"] == 404
    listed = await svc.get("/me/correspondence", svc.issuer.customer("200002"))
    assert [i["id"] for i in listed["items"]] == [theirs["id"]]
    # an operator's token is no customer's
    await svc.get("/me/correspondence", svc.issuer.operator(), status=403)
    await svc.get(f"/me/correspondence/{mine['id']}", svc.issuer.operator(), status=403)
    resp = await svc.client.post(
        "/me/correspondence", json=documents()["letter"], headers=svc.issuer.operator()
    )
    assert resp.status == 403
    # and no token at all is nobody's
    assert (await svc.client.get("/me/correspondence")).status == 401


async def test_the_export_holds_every_case_of_the_account_and_nothing_else(
    svc: Correspondence,
) -> None:
    await svc.give_invoice("10000126010001")
    mine = [await svc.submit(d) for d in documents().values()]
    await svc.submit(documents()["letter"], client_number="200002")
    await svc.act(
        "POST", f"/operator/cases/{mine[0]['id']}/replies", {"body": "Ekipa jedzie."}, status=201
    )
    export = await svc.get("/me/export", svc.issuer.customer())
    assert export["service"] == "correspondence"
    assert export["client_number"] == "100001"
    assert {c["id"] for c in export["cases"]} == {m["id"] for m in mine}
    failure = next(c for c in export["cases"] if c["id"] == mine[0]["id"])
    assert failure["details"]["description"] == documents()["failure_report"]["description"]
    assert failure["replies"][0]["body"] == "Ekipa jedzie."
    await svc.get("/me/export", svc.issuer.operator(), status=403)
