"""Operator functions: the queue (urgent failures first, then the nearest deadline), taking
a case, replying, status, evidence needed, closing; every change kept with who and when."""

from __future__ import annotations

import datetime as dt

from ebok_shared.clock import UTC, clock

from tests.correspondence.harness import EXE, JPEG, PDF, Correspondence, documents, form
from tests.support.tokens import Issuer

NOW = dt.datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


async def test_the_queue_puts_urgent_failures_first_then_the_nearest_deadline(
    svc: Correspondence,
) -> None:
    await svc.give_invoice("10000126010001")
    clock.freeze(NOW)
    letter = await svc.submit(documents()["letter"])
    later_complaint = await svc.submit(documents()["water_quality_complaint"])
    clock.freeze(NOW - dt.timedelta(days=3))
    early_reklamacja = await svc.submit(documents()["reklamacja"])
    clock.freeze(NOW + dt.timedelta(hours=1))
    failure = await svc.submit(documents()["failure_report"])
    change = await svc.submit(documents()["data_change"])

    queue = await svc.get("/operator/cases", svc.issuer.operator())
    assert [i["id"] for i in queue["items"]] == [
        failure["id"],  # urgent
        early_reklamacja["id"],  # due 2026-03-13
        later_complaint["id"],  # due 2026-03-16
        letter["id"],  # no deadline: the oldest first
        change["id"],
    ]
    assert queue["items"][1]["reply_due"] == "2026-03-13"
    assert queue["items"][0]["client_number"] == "100001"
    # Days left to each deadline, counted from the operator's today (2 March, Warsaw).
    assert [i["days_left"] for i in queue["items"]] == [None, 11, 14, None, None]
    clock.freeze(dt.datetime(2026, 3, 14, 9, 0, tzinfo=UTC))
    overdue = await svc.get("/operator/cases?kind=reklamacja", svc.issuer.operator())
    assert overdue["items"][0]["days_left"] == -1
    counts = await svc.get("/operator/queue-counts", svc.issuer.operator())
    assert counts == {"open": 5, "urgent": 1, "unassigned": 5, "evidence_needed": 0, "overdue": 1}
    clock.freeze(NOW + dt.timedelta(hours=1))
    kinds = await svc.get("/operator/cases?kind=reklamacja", svc.issuer.operator())
    assert [i["id"] for i in kinds["items"]] == [early_reklamacja["id"]]
    await svc.act("POST", f"/operator/cases/{letter['id']}/closure", {})
    open_ = await svc.get("/operator/cases", svc.issuer.operator())
    assert letter["id"] not in {i["id"] for i in open_["items"]}
    closed = await svc.get("/operator/cases?status=closed", svc.issuer.operator())
    assert [i["id"] for i in closed["items"]] == [letter["id"]]
    all_ = await svc.get("/operator/cases?status=all", svc.issuer.operator())
    assert all_["total"] == 5
    # customers have no queue
    await svc.get("/operator/cases", svc.issuer.customer(), status=403)


async def test_a_case_goes_from_received_to_closed_with_who_and_when(
    svc: Correspondence,
) -> None:
    clock.freeze(NOW)
    case = await svc.submit(documents()["letter"])
    path = f"/operator/cases/{case['id']}"

    clock.freeze(NOW + dt.timedelta(minutes=5))
    taken = await svc.act("POST", f"{path}/assignment", operator_id="op-7")
    assert (taken["status"], taken["assignee"]) == ("in_progress", "op-7")
    mine = await svc.get("/operator/cases?assignee=me", svc.issuer.operator("op-7"))
    assert [i["id"] for i in mine["items"]] == [case["id"]]

    clock.freeze(NOW + dt.timedelta(minutes=10))
    answer = await svc.act(
        "POST", f"{path}/replies", {"body": "Duplikat wysłany."}, operator_id="op-7", status=201
    )
    assert answer["case"]["status"] == "answered"

    clock.freeze(NOW + dt.timedelta(minutes=15))
    back = await svc.act("PUT", f"{path}/status", {"status": "in_progress"}, operator_id="op-8")
    assert back["status"] == "in_progress"

    clock.freeze(NOW + dt.timedelta(minutes=20))
    closed = await svc.act("POST", f"{path}/closure", {"note": "Załatwione."}, operator_id="op-8")
    assert closed["status"] == "closed"
    assert closed["closed_at"] == (NOW + dt.timedelta(minutes=20)).isoformat()

    full = await svc.get(path, svc.issuer.operator())
    assert [(h["action"], h["actor_kind"], h["actor"], h["at"]) for h in full["history"]] == [
        ("submitted", "customer", "100001", NOW.isoformat()),
        ("assigned", "operator", "op-7", (NOW + dt.timedelta(minutes=5)).isoformat()),
        ("answered", "operator", "op-7", (NOW + dt.timedelta(minutes=10)).isoformat()),
        ("status_changed", "operator", "op-8", (NOW + dt.timedelta(minutes=15)).isoformat()),
        ("closed", "operator", "op-8", (NOW + dt.timedelta(minutes=20)).isoformat()),
    ]
    assert full["history"][3]["details"] == {"from": "answered", "to": "in_progress"}
    assert full["replies"][0]["author"] == "op-7"

    # closed is closed
    for method, suffix, body in (
        ("POST", "/assignment", None),
        ("POST", "/replies", {"body": "Jeszcze jedno."}),
        ("PUT", "/status", {"status": "received"}),
        ("POST", "/closure", {}),
    ):
        problem = await svc.act(method, path + suffix, body, status=409)
        assert problem["code"] == "case-closed"
        assert problem["detail"] == "Sprawa jest zamknięta; nie można jej już zmieniać."

    # the events: assigned, answered, closed, in order, with who
    [assigned] = await svc.tap.wait_for("correspondence.case.assigned", case_id=case["id"])
    [answered] = await svc.tap.wait_for("correspondence.case.answered", case_id=case["id"])
    [closed_event] = await svc.tap.wait_for("correspondence.case.closed", case_id=case["id"])
    assert assigned.payload["operator_id"] == "op-7"
    assert closed_event.payload["closed_by"] == "op-8"
    # the customer is e-mailed that an answer waits — without the answer's content
    assert set(answered.payload) == {
        "case_id",
        "case_number",
        "client_number",
        "kind",
        "reply_id",
        "answered_at",
    }
    assert "Duplikat" not in answered.to_json().decode()
    order = [e.type for e in svc.tap.received if e.payload.get("case_id") == case["id"]]
    assert order == [
        "correspondence.case.submitted",
        "correspondence.case.assigned",
        "correspondence.case.answered",
        "correspondence.case.closed",
    ]


async def test_evidence_needed_extends_the_deadline_once(svc: Correspondence) -> None:
    await svc.give_invoice("10000126010001")
    clock.freeze(NOW)
    reklamacja = await svc.submit(documents()["reklamacja"])
    letter = await svc.submit(documents()["letter"])
    assert reklamacja["reply_due"] == "2026-03-16"
    path = f"/operator/cases/{reklamacja['id']}"
    extended = await svc.act(
        "POST", f"{path}/evidence-needed", {"note": "Potrzebny protokół odczytu."}
    )
    assert extended["reply_due"] == "2026-04-01"  # 14 + 16 days
    assert extended["evidence_needed"] is True
    mine = await svc.get(f"/me/correspondence/{reklamacja['id']}", svc.issuer.customer())
    assert mine["reply_due"] == "2026-04-01"
    again = await svc.act("POST", f"{path}/evidence-needed", {}, status=409)
    assert again["code"] == "evidence-already-recorded"
    no_deadline = await svc.act(
        "POST", f"/operator/cases/{letter['id']}/evidence-needed", {}, status=409
    )
    assert no_deadline["code"] == "no-deadline"
    full = await svc.get(path, svc.issuer.operator())
    assert full["history"][-1]["details"] == {
        "note": "Potrzebny protokół odczytu.",
        "reply_due_from": "2026-03-16",
        "reply_due_to": "2026-04-01",
    }


async def test_deadline_settings_are_honoured(
    database: str, amqp_url: str, bus_prefix: str, issuer: Issuer
) -> None:
    from tests.correspondence.harness import running_correspondence, settings_for

    settings = settings_for(
        database, amqp_url, bus_prefix, reply_days=30, evidence_extension_days=30
    )
    async with running_correspondence(settings, issuer) as svc:
        clock.freeze(NOW)
        complaint = await svc.submit(documents()["water_quality_complaint"])
        assert complaint["reply_due"] == "2026-04-01"
        extended = await svc.act("POST", f"/operator/cases/{complaint['id']}/evidence-needed", {})
        assert extended["reply_due"] == "2026-05-01"


async def test_operator_actions_are_refused_with_a_named_field_or_not_found(
    svc: Correspondence,
) -> None:
    case = await svc.submit(documents()["letter"])
    path = f"/operator/cases/{case['id']}"
    problem = await svc.act("POST", f"{path}/replies", {"body": " "}, status=422)
    assert problem["errors"] == [{"field": "body", "reason": "pole nie może być puste"}]
    problem = await svc.act("POST", f"{path}/replies", {}, status=422)
    assert problem["errors"] == [{"field": "body", "reason": "pole jest wymagane"}]
    problem = await svc.act("PUT", f"{path}/status", {"status": "closed"}, status=422)
    assert problem["errors"][0]["field"] == "status"
    problem = await svc.act("PUT", f"{path}/status", {"status": "answered"}, status=409)
    assert problem["code"] == "no-reply-yet"
    problem = await svc.act("POST", f"{path}/replies", {"body": "x" * 20001}, status=422)
    assert problem["errors"][0]["reason"] == "za długie (najwyżej 20000 znaków)"
    resp = await svc.client.post(
        f"{path}/replies",
        data=b'{"body": "' + b"x" * 70_000 + b'"}',
        headers={**svc.issuer.operator(), "Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert (await resp.json(content_type=None))["errors"][0]["field"] == "(body)"
    for bad in ("/operator/cases/00000000-0000-0000-0000-000000000000", "/operator/cases/nope"):
        assert (await svc.act("POST", f"{bad}/assignment", status=404))["status"] == 404
        await svc.get(bad, svc.issuer.operator(), status=404)
    # customers cannot act as operators
    resp = await svc.client.post(f"{path}/assignment", headers=svc.issuer.customer())
    assert resp.status == 403


async def test_an_operator_action_sent_twice_with_one_key_happens_once(
    svc: Correspondence,
) -> None:
    case = await svc.submit(documents()["letter"])
    headers = {**svc.issuer.operator(), "Idempotency-Key": "reply-1"}
    path = f"/operator/cases/{case['id']}/replies"
    first = await svc.client.post(path, json={"body": "Odpowiedź."}, headers=headers)
    again = await svc.client.post(path, json={"body": "Odpowiedź."}, headers=headers)
    assert (first.status, again.status) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await first.json())["reply_id"] == (await again.json())["reply_id"]
    assert await svc.pool.fetchval("SELECT count(*) FROM replies") == 1


async def test_evidence_request_is_told_shown_and_answered_with_files(
    svc: Correspondence,
) -> None:
    """Issue 14.6: the request shows on the customer's case (with the operator's note) and
    goes out as an event (the notifier e-mails it); the customer adds files to the open case
    with the limits of sending; the answers count the days left to the reply deadline."""
    await svc.give_invoice("10000126010001")
    clock.freeze(NOW)  # 2026-03-02, Warsaw
    reklamacja = await svc.submit(documents()["reklamacja"])
    assert reklamacja["reply_days_left"] == 14  # the answer to sending says it too
    mine = await svc.get(f"/me/correspondence/{reklamacja['id']}", svc.issuer.customer())
    assert mine["reply_due"] == "2026-03-16" and mine["reply_days_left"] == 14
    assert mine["evidence_request"] is None

    note = "Prosimy o zdjęcie wodomierza z widocznym stanem."
    await svc.act("POST", f"/operator/cases/{reklamacja['id']}/evidence-needed", {"note": note})
    [told] = await svc.tap.wait_for("correspondence.case.evidence_requested")
    assert told.payload == {
        "case_id": reklamacja["id"],
        "case_number": reklamacja["number"],
        "client_number": "100001",
        "kind": "reklamacja",
        "requested_at": NOW.isoformat(),
        "reply_due": "2026-04-01",
    }
    mine = await svc.get(f"/me/correspondence/{reklamacja['id']}", svc.issuer.customer())
    assert mine["evidence_request"] == {"requested_at": NOW.isoformat(), "note": note}
    assert mine["reply_days_left"] == 30

    path = f"/me/correspondence/{reklamacja['id']}/attachments"
    added = await svc.client.post(
        path, data=form(None, [("zdjecie.jpg", JPEG, "image/jpeg")]), headers=svc.issuer.customer()
    )
    body = await added.json()
    assert added.status == 201, body
    [photo] = body["attachments"]
    assert photo["filename"].endswith(".jpg") and photo["added_at"] == NOW.isoformat()
    served = await svc.client.get(photo["path"], headers=svc.issuer.customer())
    assert await served.read() == JPEG
    [event] = await svc.tap.wait_for("correspondence.case.attachments_added")
    assert [a["attachment_id"] for a in event.payload["attachments"]] == [photo["id"]]
    again = await svc.client.post(  # sent twice: the same file is not stored again
        path, data=form(None, [("zdjecie.jpg", JPEG, "image/jpeg")]), headers=svc.issuer.customer()
    )
    assert again.status == 201 and len((await again.json())["attachments"]) == 1

    # The limits of sending: a file that is none of PDF, JPEG, PNG; six files in one form;
    # someone else's case is not found; a closed case takes no more files.
    wrong = await svc.client.post(
        path, data=form(None, [("x.pdf", EXE, "application/pdf")]), headers=svc.issuer.customer()
    )
    assert wrong.status == 415
    six = form(None, [(f"p{i}.pdf", PDF, "application/pdf") for i in range(6)])
    too_many = await svc.client.post(path, data=six, headers=svc.issuer.customer())
    assert too_many.status == 422
    assert (await too_many.json())["errors"][0]["field"] == "attachments"
    other = await svc.client.post(
        path,
        data=form(None, [("a.pdf", PDF, "application/pdf")]),
        headers=svc.issuer.customer("100002"),
    )
    assert other.status == 404
    await svc.act("POST", f"/operator/cases/{reklamacja['id']}/closure", {})
    closed = await svc.client.post(
        path, data=form(None, [("a.pdf", PDF, "application/pdf")]), headers=svc.issuer.customer()
    )
    assert closed.status == 409
    final = await svc.get(f"/me/correspondence/{reklamacja['id']}", svc.issuer.customer())
    assert final["reply_days_left"] is None and len(final["attachments"]) == 1


async def test_an_operator_replies_with_files_the_customer_downloads(svc: Correspondence) -> None:
    """Issue 13: a reply with attachments — the customer's form (document + attachments),
    the same reader, limits and checks; the files are the case's, marked with their reply,
    and the customer reads and downloads them on the case."""
    case = await svc.submit(documents()["letter"])
    path = f"/operator/cases/{case['id']}/replies"
    files = [("protokol.pdf", PDF, "application/pdf"), ("zdjecie.jpg", JPEG, "image/jpeg")]
    sent = await svc.client.post(
        path, data=form({"body": "W załączeniu protokół."}, files), headers=svc.issuer.operator()
    )
    assert sent.status == 201, await sent.text()
    reply_id = (await sent.json())["reply_id"]
    mine = await svc.get(f"/me/correspondence/{case['id']}", svc.issuer.customer())
    theirs = [a for a in mine["attachments"] if a["reply_id"] == reply_id]
    assert [(a["filename"], a["content_type"]) for a in theirs] == [
        ("protokol.pdf", "application/pdf"),
        ("zdjecie.jpg", "image/jpeg"),
    ]
    assert mine["replies"][0]["body"] == "W załączeniu protokół."
    download = await svc.client.get(theirs[0]["path"], headers=svc.issuer.customer())
    assert (download.status, await download.read()) == (200, PDF)
    other = await svc.client.get(theirs[0]["path"], headers=svc.issuer.customer("200002"))
    assert other.status == 404  # another customer's case: not found
    # The customer's own allowance is untouched by the operator's files.
    assert all(a["reply_id"] is None for a in mine["attachments"] if a not in theirs)

    # The letter's checks: a file that is not PDF/JPEG/PNG, six files, no reply text.
    bad = await svc.client.post(
        path,
        data=form({"body": "Plik."}, [("wirus.pdf", EXE, "application/pdf")]),
        headers=svc.issuer.operator(),
    )
    assert bad.status == 415 and (await bad.json())["errors"][0]["field"] == "attachments.0"
    six = await svc.client.post(
        path,
        data=form({"body": "Sześć."}, [("a.pdf", PDF, "application/pdf")] * 6),
        headers=svc.issuer.operator(),
    )
    assert six.status == 422 and (await six.json())["code"] == "too-many-attachments"
    empty = await svc.client.post(
        path, data=form({"body": " "}, files[:1]), headers=svc.issuer.operator()
    )
    assert empty.status == 422
    assert await svc.pool.fetchval("SELECT count(*) FROM replies") == 1
    assert await svc.pool.fetchval("SELECT count(*) FROM attachments") == 2
