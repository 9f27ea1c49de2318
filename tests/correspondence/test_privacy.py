"""Account deletion: the cases stay (the utility keeps its correspondence) but leave the
account and lose the contact data no longer needed; events about them name nobody to
e-mail."""

from __future__ import annotations

from ebok_correspondence import events
from ebok_correspondence.app import SPEC

from tests.correspondence.harness import PDF, Correspondence, documents
from tests.support.waiting import eventually


async def _delete_account(svc: Correspondence, client_number: str) -> None:
    """auth.account.deleted, as auth's relay publishes it; wait until it was taken."""
    assert events.ACCOUNT_DELETED in {s.event_type for s in SPEC.subscriptions}
    await svc.emit(events.ACCOUNT_DELETED, {"client_number": client_number})

    async def unlinked() -> bool:
        return bool(
            await svc.pool.fetchval(
                "SELECT bool_and(unlinked_at IS NOT NULL) FROM cases WHERE client_number = $1",
                client_number,
            )
        )

    await eventually(unlinked, "cases unlinked")


async def test_a_deleted_accounts_cases_stay_unlinked_and_without_contact_data(
    svc: Correspondence,
) -> None:
    failure = await svc.submit(
        documents()["failure_report"], files=[("wyciek.pdf", PDF, "application/pdf")]
    )
    change = await svc.submit(documents()["data_change"])
    other = await svc.submit(documents()["letter"], client_number="200002")

    await _delete_account(svc, "100001")

    me = svc.issuer.customer("100001")
    assert (await svc.get("/me/correspondence", me))["items"] == []
    assert (await svc.get("/me/export", me))["cases"] == []
    await svc.get(f"/me/correspondence/{failure['id']}", me, status=404)
    attachment = failure["attachments"][0]["id"]
    resp = await svc.client.get(
        f"/me/correspondence/{failure['id']}/attachments/{attachment}", headers=me
    )
    assert resp.status == 404

    kept = await svc.get(f"/operator/cases/{failure['id']}", svc.issuer.operator())
    assert kept["account_linked"] is False
    assert kept["contact_phone"] is None
    assert kept["details"]["description"] == documents()["failure_report"]["description"]
    assert kept["history"][-1]["action"] == "unlinked"
    resp = await svc.client.get(
        f"/operator/cases/{failure['id']}/attachments/{attachment}", headers=svc.issuer.operator()
    )
    assert (resp.status, await resp.read()) == (200, PDF)
    changed = await svc.get(f"/operator/cases/{change['id']}", svc.issuer.operator())
    assert changed["details"]["changes"] == {
        "correspondence_address": documents()["data_change"]["changes"]["correspondence_address"]
    }
    # another client's case is untouched
    theirs = await svc.get(f"/operator/cases/{other['id']}", svc.issuer.operator())
    assert theirs["account_linked"] is True

    # nobody is to be e-mailed about the unlinked case
    await svc.act(
        "POST", f"/operator/cases/{failure['id']}/replies", {"body": "Naprawione."}, status=201
    )
    [answered] = await svc.tap.wait_for("correspondence.case.answered", case_id=failure["id"])
    assert answered.payload["client_number"] is None

    # a new account of the same client starts with an empty history
    fresh = await svc.submit(documents()["letter"])
    listed = await svc.get("/me/correspondence", me)
    assert [i["id"] for i in listed["items"]] == [fresh["id"]]
