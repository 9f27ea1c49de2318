"""Dashboard parts kept by each gateway replica: served again until something about that
client changes — an event naming the client, the customer's own change through any replica,
new regulations, a new day — and never across clients or past the portal's switches."""

from __future__ import annotations

import datetime as dt

from ebok_gateway.live import LIVE
from ebok_gateway.view_cache import ALL, ViewCache
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


async def test_a_kept_views_tag_answers_304_until_a_part_or_a_switch_changes(
    stack: Stack,
) -> None:
    """A view made of kept parts alone keeps its tag: a conditional view is then answered from
    it (no view put together). A change to a part (an event naming the client: the part is
    asked again) or a portal switch must give the new view at once, never a 304."""
    gw = stack.replicas[0]

    async def section(name: str, mode: str, message: str | None = None) -> None:
        body = {"mode": mode, **({"message": message} if message else {})}
        resp = await gw.put(
            f"/api/v1/operator/portal-settings/sections/{name}",
            headers=stack.issuer.operator(),
            json=body,
        )
        assert resp.status == 200

    # Off: the parts the stand-ins never give (slow balance, readings unreachable); a view
    # with an unavailable part is asked again each time and never tagged.
    for name in ("invoices", "readings", "garden_meters"):
        await section(name, "off")

    async def conditional(etag: str, n: int) -> tuple[int, str, dict]:
        headers = {**stack.issuer.customer("123456", n=n), "If-None-Match": etag}
        resp = await gw.get(DASHBOARD, headers=headers)
        return resp.status, resp.headers["ETag"], await resp.json() if resp.status == 200 else {}

    async def every_other_part_off() -> bool:
        view = await _view(stack, 0, headers=stack.issuer.customer("123456", n=1))
        return all(part["status"] in ("ok", "suspended") for part in view.values())

    await eventually(every_other_part_off, within=1.0, step=0.02)
    first = await gw.get(DASHBOARD, headers=stack.issuer.customer("123456", n=1))
    etag = first.headers["ETag"]
    live = gw.app[LIVE]
    assert live.views.tag("123456", (), live.portal) == etag  # made of kept parts alone
    calls = sum(stack.calls.values())
    assert (await conditional(etag, 1))[:2] == (304, etag)
    assert sum(stack.calls.values()) == calls

    # An event about the client: its parts are asked again (the stand-ins now answer the
    # new token in them), and the view with its new tag comes at once.
    await publish_event(
        stack.amqp, stack.bus_prefix, _example("readings.reading.accepted", client_number="123456")
    )

    seen: list[str] = []

    async def changed_view() -> bool:
        status, new_tag, view = await conditional(etag, 2)
        seen.append(new_tag)
        return status == 200 and new_tag != etag and view["profile"]["status"] == "ok"

    await eventually(changed_view, within=1.0, step=0.02)
    etag = seen[-1]
    assert (await conditional(etag, 2))[0] == 304  # made of the kept parts again: tagged
    assert live.views.tag("123456", (), live.portal) == etag

    await section("contracts", "off", "Przerwa techniczna.")

    async def suspended_at_once() -> bool:
        status, _, view = await conditional(etag, 2)
        return status == 200 and view["contracts"]["status"] == "suspended"

    await eventually(suspended_at_once, within=1.0, step=0.02)


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


def _kept(cache: ViewCache, client: str = "123456", due: str = "10.00") -> None:
    cache.end(cache.begin(client), {"balance": {"status": "ok", "data": {"due": due}}})


def test_a_views_tag_is_kept_only_while_its_parts_portal_and_shape_stay() -> None:
    """The ETag of a view put together from the kept parts alone answers "still the same"
    without putting it together again: any change to the parts, the portal's settings or
    the optional parts asked for must leave it unknown (the view is then made anew)."""
    cache = ViewCache(ttl=60)
    portal, shape = object(), ("consumption",)
    _kept(cache)
    stamp = cache.stamp("123456")
    cache.keep_tag(stamp, shape, portal, '"v1"')
    assert cache.tag("123456", shape, portal) == '"v1"'
    assert cache.tag("123456", (), portal) is None  # another shape, another view
    assert cache.tag("123456", shape, object()) is None  # settings reloaded since
    assert cache.tag("654321", shape, portal) is None  # never another client's
    _kept(cache, due="10.01")  # a part fetched again (e.g. after an unavailable one)
    assert cache.tag("123456", shape, portal) is None
    cache.keep_tag(cache.stamp("123456"), shape, portal, '"v2"')
    assert cache.tag("123456", shape, portal) == '"v2"'
    cache.drop("123456")  # an event about the client, or their own change
    assert cache.tag("123456", shape, portal) is None
    _kept(cache)
    cache.keep_tag(cache.stamp("123456"), shape, portal, '"v3"')
    cache.drop(ALL)  # new regulations
    assert cache.tag("123456", shape, portal) is None


def test_a_view_with_anything_fetched_for_it_keeps_no_tag() -> None:
    """A fetch that begins while the view is put together (a part not kept: e.g. one that
    was unavailable, or a no-cache view) means the view was not the kept parts' alone: an
    unavailable part must never be answered "not modified" once it is back."""
    cache = ViewCache(ttl=60)
    portal = object()
    _kept(cache)
    stamp = cache.stamp("123456")
    fill = cache.begin("123456")  # a part asked for this view: it ends unavailable
    cache.end(fill, {})
    cache.keep_tag(stamp, (), portal, '"with-unavailable"')
    assert cache.tag("123456", (), portal) is None
    assert cache.stamp("654321") is None  # nothing kept: a view made of fetched parts only
    cache.keep_tag(None, (), portal, '"fetched"')
    assert cache.tag("654321", (), portal) is None
    stamp = cache.stamp("123456")
    cache.drop("123456")
    _kept(cache)  # dropped and kept anew while the view was put together
    cache.keep_tag(stamp, (), portal, '"old"')
    assert cache.tag("123456", (), portal) is None


def test_a_views_tag_goes_with_the_day_and_the_ttl() -> None:
    cache = ViewCache(ttl=3600)
    portal = object()
    clock.freeze(dt.datetime(2026, 3, 10, 22, 50, tzinfo=dt.UTC))  # 23:50 in Warsaw
    try:
        _kept(cache)
        cache.keep_tag(cache.stamp("123456"), (), portal, '"v1"')
        assert cache.tag("123456", (), portal) == '"v1"'
        clock.advance(dt.timedelta(minutes=20))  # past midnight: interest grew
        assert cache.tag("123456", (), portal) is None
        _kept(cache)
        cache.keep_tag(cache.stamp("123456"), (), portal, '"v2"')
        clock.advance(dt.timedelta(seconds=3601))
        assert cache.tag("123456", (), portal) is None
    finally:
        clock.reset()
