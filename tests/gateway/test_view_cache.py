"""Dashboard parts kept by each gateway replica: served again until something about that
client changes — an event naming the client, the customer's own change through any replica,
new regulations, a new day — and never across clients or past the portal's switches."""

from __future__ import annotations

import datetime as dt

from ebok_gateway.view_cache import ViewCache
from ebok_shared.bus import Event, default_catalogue
from ebok_shared.clock import clock

from tests.gateway.conftest import Stack
from tests.support.events import publish_event
from tests.support.waiting import eventually

DASHBOARD = "/api/v1/me/dashboard"


def _example(event_type: str, **payload: object) -> Event:
    schema = default_catalogue().schemas[(event_type, 1)]
    return Event.new(event_type, {**schema["examples"][0], **payload})


async def _view(
    stack: Stack, replica: int = 0, subject: str = "123456", headers: dict[str, str] | None = None
) -> dict:
    resp = await stack.replicas[replica].get(
        DASHBOARD, headers={**stack.issuer.customer(subject), **(headers or {})}
    )
    assert resp.status == 200
    # resp.json() is Any: the view is a JSON object
    return await resp.json()  # type: ignore[no-any-return]


async def test_parts_are_kept_but_an_unavailable_part_is_asked_again(stack: Stack) -> None:
    first = await _view(stack)
    second = await _view(stack)
    assert first["contracts"] == second["contracts"]
    assert first["contracts"]["status"] == "ok"
    assert stack.calls["/me/contracts"] == 1  # the second view came from memory
    assert stack.calls["/me"] == 1
    assert second["balance"]["status"] == "unavailable"  # slower than its timeout: not kept
    assert stack.calls["/me/balance"] == 2


async def test_no_cache_asks_the_services_again(stack: Stack) -> None:
    await _view(stack)
    await _view(stack, headers={"Cache-Control": "no-cache"})
    assert stack.calls["/me/contracts"] == 2


async def test_an_unchanged_view_is_answered_304_by_its_etag(stack: Stack) -> None:
    customer = stack.issuer.customer("123456")
    first = await stack.replicas[0].get(DASHBOARD, headers=customer)
    etag = first.headers["ETag"]
    assert first.status == 200 and etag.startswith('"')
    same = await stack.replicas[0].get(DASHBOARD, headers={**customer, "If-None-Match": etag})
    assert same.status == 304
    assert same.headers["ETag"] == etag
    assert await same.read() == b""
    # another view is another document: never "not modified" by this one's tag
    theirs = await stack.replicas[0].get(
        DASHBOARD, headers={**stack.issuer.customer("654321"), "If-None-Match": etag}
    )
    assert theirs.status == 200
    assert theirs.headers["ETag"] != etag


async def test_each_client_has_their_own_view(stack: Stack) -> None:
    mine = await _view(stack, subject="123456")
    theirs = await _view(stack, subject="654321")
    assert mine["profile"]["data"]["auth"] != theirs["profile"]["data"]["auth"]
    assert stack.calls["/me"] == 2
    again = await _view(stack, subject="654321")
    assert again["profile"] == theirs["profile"]


async def test_own_change_shows_at_once_here_and_within_a_second_elsewhere(stack: Stack) -> None:
    await _view(stack, 0)
    await _view(stack, 1)
    assert stack.calls["/me/e-invoice"] == 2
    resp = await stack.replicas[0].put(
        "/api/v1/me/e-invoice",
        headers=stack.issuer.customer("123456"),
        json={"email": "jan@example.pl"},
    )
    assert resp.status == 200
    calls = stack.calls["/me/e-invoice"]  # the PUT itself
    await _view(stack, 0)
    assert stack.calls["/me/e-invoice"] == calls + 1  # not from memory

    async def asked_again_on_the_other() -> bool:
        before = stack.calls["/me/e-invoice"]
        await _view(stack, 1)
        return stack.calls["/me/e-invoice"] > before

    await eventually(asked_again_on_the_other, within=1.0, step=0.02)


async def test_event_about_a_client_drops_their_views_on_every_replica(stack: Stack) -> None:
    for replica in (0, 1):
        await _view(stack, replica, "123456")
        await _view(stack, replica, "654321")
    assert stack.calls["/me/contracts"] == 4
    await publish_event(
        stack.amqp,
        stack.bus_prefix,
        _example("readings.reading.accepted", client_number="123456"),
    )
    for replica in (0, 1):

        async def asked_again(r: int = replica) -> bool:
            before = stack.calls["/me/contracts"]
            await _view(stack, r, "123456")
            return stack.calls["/me/contracts"] > before

        await eventually(asked_again, within=1.0, step=0.02)
    before = stack.calls["/me/contracts"]
    for replica in (0, 1):
        await _view(stack, replica, "654321")
    assert stack.calls["/me/contracts"] == before  # the other client's views stayed


async def test_new_regulations_drop_every_view(stack: Stack) -> None:
    await _view(stack, 0, "123456")
    await _view(stack, 0, "654321")
    await publish_event(stack.amqp, stack.bus_prefix, _example("auth.regulations.published"))

    async def asked_again() -> bool:
        before = stack.calls["/me"]
        await _view(stack, 0, "123456")
        return stack.calls["/me"] > before

    await eventually(asked_again, within=2, step=0.02)  # each view waits 0.5 s on the slow part
    before = stack.calls["/me"]
    await _view(stack, 0, "654321")
    assert stack.calls["/me"] == before + 1  # dropped at the same moment


async def test_kept_views_follow_hidden_items_and_sections(stack: Stack) -> None:
    first = await _view(stack, 1)
    numbers = [i["invoice_number"] for i in first["last_invoices"]["data"]["items"]]
    assert numbers == ["12345626010001", "12345626020001"]
    await stack.gw.put(
        "/api/v1/operator/portal-settings/sections/invoices/items/12345626010001",
        headers=stack.issuer.operator(),
        json={"hidden": True},
    )

    async def hidden_on_the_other_replica() -> bool:
        view = await _view(stack, 1)
        items = view["last_invoices"]["data"]["items"]
        return [i["invoice_number"] for i in items] == ["12345626020001"]

    await eventually(hidden_on_the_other_replica, within=1.0, step=0.02)
    # Asked again: billing leaves hidden invoices out itself, so a kept list is stale.
    assert stack.calls["/me/invoices"] == 2
    await stack.gw.put(
        "/api/v1/operator/portal-settings/sections/contracts",
        headers=stack.issuer.operator(),
        json={"mode": "off", "message": "Przerwa techniczna."},
    )

    async def suspended_on_the_other_replica() -> bool:
        view = await _view(stack, 1)
        return view["contracts"] == {"status": "suspended", "detail": "Przerwa techniczna."}

    await eventually(suspended_on_the_other_replica, within=1.0, step=0.02)


async def test_a_new_day_asks_again() -> None:
    cache = ViewCache(ttl=3600)
    clock.freeze(dt.datetime(2026, 3, 10, 22, 50, tzinfo=dt.UTC))  # 23:50 in Warsaw
    try:
        fill = cache.begin("123456")
        cache.end(fill, {"balance": {"status": "ok", "data": {"due": "10.00"}}})
        assert "balance" in cache.parts("123456")
        clock.advance(dt.timedelta(minutes=20))  # past midnight in Warsaw: interest grew
        assert cache.parts("123456") == {}
        fill = cache.begin("123456")
        cache.end(fill, {"balance": {"status": "ok", "data": {"due": "10.01"}}})
        clock.advance(dt.timedelta(seconds=3601))
        assert cache.parts("123456") == {}  # and never past the ttl
    finally:
        clock.reset()


def test_a_fetch_under_way_during_a_change_keeps_nothing() -> None:
    """The race: a view read before a change must not be stored after it."""
    cache = ViewCache(ttl=60)
    before, other = cache.begin("123456"), cache.begin("654321")
    cache.drop("123456")  # e.g. the customer's reading, committed while the fetch ran
    cache.end(before, {"meters": {"status": "ok", "data": {"last": "old"}}})
    cache.end(other, {"meters": {"status": "ok", "data": {"last": "theirs"}}})
    assert cache.parts("123456") == {}
    assert cache.parts("654321") == {"meters": {"status": "ok", "data": {"last": "theirs"}}}
    after = cache.begin("123456")
    cache.end(after, {"meters": {"status": "ok", "data": {"last": "new"}}})
    assert cache.parts("123456")["meters"]["data"]["last"] == "new"


def test_least_recently_used_clients_go_first() -> None:
    cache = ViewCache(ttl=60, max_clients=2)
    for client in ("100001", "100002"):
        cache.end(cache.begin(client), {"profile": {"status": "ok", "data": client}})
    cache.parts("100001")  # used: 100002 is now the oldest
    cache.end(cache.begin("100003"), {"profile": {"status": "ok", "data": "100003"}})
    assert cache.parts("100002") == {}
    assert cache.parts("100001") and cache.parts("100003")
