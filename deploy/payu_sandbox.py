"""A local payment provider sandbox speaking PayU's REST API 2.1, for the local run and tests.

Never for production (a development tool in ``deploy/``, in no service image). It does what
billing uses of PayU and nothing more:

- ``POST /pl/standard/user/oauth/authorize`` — OAuth ``client_credentials`` (form-encoded);
- ``POST /api/v2_1/orders`` — registers an order (Bearer token), answers 302 with
  ``{"status": {"statusCode": "SUCCESS"}, "redirectUri", "orderId", "extOrderId"}``;
- ``GET /api/v2_1/orders/{orderId}`` — the status check (``{"orders": [...]}``);
- ``GET /pay/{orderId}`` — the payment page, with „Zapłać” and „Anuluj”; either sends the
  customer back to the order's ``continueUrl``;
- notifications to the order's ``notifyUrl``, signed as PayU signs them (``OpenPayu-Signature:
  sender=checkout;signature=md5(body + second key);algorithm=MD5;content=DOCUMENT``):
  PENDING when the order is registered, COMPLETED or CANCELED when the customer decides —
  each repeated until answered 200 (retries), then a duplicate of each, the stale PENDING
  last (out of order), as PayU may;
- ``GET /sandbox/deliveries`` — every notification attempt and its answer (for tests).

``python -m deploy.payu_sandbox`` reads ``EBOK_PAYU_SANDBOX_HOST`` (127.0.0.1),
``EBOK_PAYU_SANDBOX_PORT`` (8030), ``EBOK_PAYU_POS_ID`` / ``EBOK_PAYU_CLIENT_ID`` /
``EBOK_PAYU_CLIENT_SECRET`` / ``EBOK_PAYU_SECOND_KEY`` (the local run's values below).
Tests call ``start_sandbox(...)`` and ``await sandbox.stop()``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

import aiohttp
from aiohttp import web
from ebok_billing.payments.payment_orders import signature_header
from ebok_shared import logs
from ebok_shared.config import ConfigError, Settings

log = logs.get_logger(__name__)

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # PayU retries for much longer; enough here
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action *"


@dataclass(frozen=True, kw_only=True)
class SandboxSettings(Settings):
    payu_sandbox_host: str = "127.0.0.1"
    payu_sandbox_port: int = 8030
    payu_pos_id: str = "300746"
    payu_client_id: str = "300746"
    payu_client_secret: str = "local-sandbox-client-secret"
    payu_second_key: str = "local-sandbox-second-key"
    log_level: str = "INFO"


@dataclass
class Order:
    order_id: str
    data: dict[str, Any]  # the order as registered (PayU's field names)
    status: str = "PENDING"
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def document(self) -> dict[str, Any]:
        return {
            **self.data,
            "orderId": self.order_id,
            "orderCreateDate": self.created,
            "status": self.status,
        }


@dataclass
class Delivery:
    order_id: str
    status: str
    attempt: int
    answer: int | None  # None: not reached


@dataclass
class Sandbox:
    settings: SandboxSettings
    public_url: str = ""
    orders: dict[str, Order] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    deliveries: list[Delivery] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    http: aiohttp.ClientSession | None = None
    # The PENDING notification delivered before the order's registration is answered: PayU
    # may notify before its answer reaches the shop (a busy shop sees it so anyway).
    notify_first: bool = False

    def notify(
        self, order: Order, *, then_duplicate: bool, stale: str | None = None
    ) -> asyncio.Task[None]:
        """Send the order's notification (status as now) until answered 200, then, as PayU
        may, once more — and, if given, a stale earlier status after it (out of order)."""
        body = json.dumps(
            {
                "order": order.document(),
                "localReceiptDateTime": datetime.now(UTC).isoformat(),
                "properties": [{"name": "PAYMENT_ID", "value": secrets.token_hex(5)}],
            }
        ).encode()
        stale_body = None
        if stale is not None:
            stale_body = json.dumps({"order": {**order.document(), "status": stale}}).encode()
        task = asyncio.create_task(self._deliver(order, body, then_duplicate, stale_body))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _post(self, order: Order, body: bytes, attempt: int) -> bool:
        assert self.http is not None
        headers = {
            "Content-Type": "application/json",
            "OpenPayu-Signature": signature_header(body, self.settings.payu_second_key),
        }
        answer: int | None = None
        try:
            async with self.http.post(order.data["notifyUrl"], data=body, headers=headers) as r:
                answer = r.status
        except (aiohttp.ClientError, TimeoutError):
            answer = None
        status = json.loads(body)["order"]["status"]
        self.deliveries.append(Delivery(order.order_id, status, attempt, answer))
        return answer == 200

    async def _deliver(
        self, order: Order, body: bytes, then_duplicate: bool, stale: bytes | None
    ) -> None:
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS), start=1):
            await asyncio.sleep(delay)
            if await self._post(order, body, attempt):
                break
        else:
            log.warning("notification never taken", order_id=order.order_id)
            return
        if then_duplicate:
            await self._post(order, body, 0)  # attempt 0: a duplicate of a delivered one
        if stale is not None:
            await self._post(order, stale, 0)


SANDBOX = web.AppKey("sandbox", Sandbox)


def _status(code: str, desc: str, http: int) -> web.Response:
    return web.json_response({"status": {"statusCode": code, "statusDesc": desc}}, status=http)


def _authorized(request: web.Request) -> bool:
    auth = request.headers.get("Authorization", "")
    return auth.startswith("Bearer ") and auth[7:] in request.app[SANDBOX].tokens


async def authorize(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    if request.content_type != "application/x-www-form-urlencoded":
        return web.json_response({"error": "invalid_request"}, status=401)
    form = await request.post()
    s = sandbox.settings
    if (
        form.get("grant_type") != "client_credentials"
        or form.get("client_id") != s.payu_client_id
        or not secrets.compare_digest(str(form.get("client_secret", "")), s.payu_client_secret)
    ):
        return web.json_response(
            {"error": "invalid_client", "error_description": "Bad client credentials"},
            status=401,
        )
    token = secrets.token_hex(16)
    sandbox.tokens.add(token)
    return web.json_response(
        {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 43199,
            "grant_type": "client_credentials",
        }
    )


_REQUIRED = ("notifyUrl", "customerIp", "merchantPosId", "description", "currencyCode")


async def create_order(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    if not _authorized(request):
        return _status("UNAUTHORIZED", "Unauthorized", 401)
    try:
        data = await request.json()
        assert isinstance(data, dict)
    except (ValueError, AssertionError):
        return _status("ERROR_SYNTAX", "Bad syntax", 400)
    missing = [f for f in _REQUIRED if not data.get(f)]
    if missing:
        return _status("ERROR_VALUE_MISSING", f"Missing: {', '.join(missing)}", 400)
    if data["merchantPosId"] != sandbox.settings.payu_pos_id:
        return _status("ERROR_VALUE_INVALID", "Invalid merchantPosId", 400)
    try:
        total = int(data.get("totalAmount", ""))
        products = data["products"]
        assert total > 0 and isinstance(products, list) and products
        assert sum(int(p["unitPrice"]) * int(p["quantity"]) for p in products) == total
    except (ValueError, KeyError, TypeError, AssertionError):
        return _status("ERROR_VALUE_INVALID", "Invalid totalAmount or products", 400)
    ext = data.get("extOrderId")
    if ext and any(o.data.get("extOrderId") == ext for o in sandbox.orders.values()):
        return _status("ERROR_ORDER_NOT_UNIQUE", "Order not unique", 400)
    order_id = secrets.token_hex(10).upper()
    order = Order(order_id, data)
    sandbox.orders[order_id] = order
    redirect = f"{sandbox.public_url}/pay/{order_id}"
    pending = sandbox.notify(order, then_duplicate=False)
    if sandbox.notify_first:
        await pending
    return web.json_response(
        {
            "status": {"statusCode": "SUCCESS"},
            "redirectUri": redirect,
            "orderId": order_id,
            "extOrderId": ext,
        },
        status=302,
        headers={"Location": redirect},
    )


async def retrieve_order(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _status("UNAUTHORIZED", "Unauthorized", 401)
    order = request.app[SANDBOX].orders.get(request.match_info["order_id"])
    if order is None:
        return _status("DATA_NOT_FOUND", "Order not found", 404)
    return web.json_response(
        {
            "orders": [order.document()],
            "status": {"statusCode": "SUCCESS", "statusDesc": "Request processing successful"},
        }
    )


def _order_or_404(request: web.Request) -> Order:
    order = request.app[SANDBOX].orders.get(request.match_info["order_id"])
    if order is None:
        raise web.HTTPNotFound(text="Nie ma takiego zamówienia.")
    return order


async def payment_page(request: web.Request) -> web.Response:
    order = _order_or_404(request)
    amount = int(order.data["totalAmount"])
    zl = f"{amount // 100},{amount % 100:02d} zł"
    done = order.status != "PENDING"
    buttons = (
        f"<p>Zamówienie jest już {'opłacone' if order.status == 'COMPLETED' else 'anulowane'}.</p>"
        if done
        else (
            f'<form method="post" action="/pay/{escape(order.order_id)}/pay">'
            '<button type="submit">Zapłać</button></form>'
            f'<form method="post" action="/pay/{escape(order.order_id)}/cancel">'
            '<button type="submit">Anuluj</button></form>'
        )
    )
    html = (
        '<!doctype html><html lang="pl"><head><meta charset="utf-8">'
        "<title>Piaskownica płatności (PayU)</title></head><body>"
        "<h1>Piaskownica płatności</h1>"
        f"<p>{escape(str(order.data['description']))}</p>"
        f"<p>Kwota: <strong>{zl}</strong></p>{buttons}</body></html>"
    )
    return web.Response(
        text=html, content_type="text/html", headers={"Content-Security-Policy": _PAGE_CSP}
    )


async def decide(request: web.Request) -> web.Response:
    order = _order_or_404(request)
    if order.status == "PENDING":
        paid = request.match_info["decision"] == "pay"
        order.status = "COMPLETED" if paid else "CANCELED"
        request.app[SANDBOX].notify(order, then_duplicate=True, stale="PENDING")
    continue_url = str(order.data.get("continueUrl") or "")
    if not continue_url:
        return web.Response(text="Gotowe.", content_type="text/plain")
    raise web.HTTPSeeOther(continue_url)


async def deliveries(request: web.Request) -> web.Response:
    return web.json_response([d.__dict__ for d in request.app[SANDBOX].deliveries])


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(sandbox: Sandbox) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[SANDBOX] = sandbox
    app.router.add_post("/pl/standard/user/oauth/authorize", authorize)
    app.router.add_post("/api/v2_1/orders", create_order)
    app.router.add_get("/api/v2_1/orders/{order_id}", retrieve_order)
    app.router.add_get("/pay/{order_id}", payment_page)
    app.router.add_post("/pay/{order_id}/{decision:pay|cancel}", decide)
    app.router.add_get("/sandbox/deliveries", deliveries)
    app.router.add_get("/health/live", health)
    app.router.add_get("/health/ready", health)
    return app


@dataclass
class RunningSandbox:
    sandbox: Sandbox
    url: str
    _runner: web.AppRunner

    async def stop(self) -> None:
        if self.sandbox.http is None:
            return  # stopped already
        for task in list(self.sandbox.tasks):
            task.cancel()
        await self.sandbox.http.close()
        self.sandbox.http = None
        await self._runner.cleanup()


async def start_sandbox(settings: SandboxSettings, *, port: int | None = None) -> RunningSandbox:
    """Start the sandbox; port 0 picks a free port (None: the settings' port)."""
    sandbox = Sandbox(settings)
    sandbox.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
    runner = web.AppRunner(create_app(sandbox), access_log=None)
    await runner.setup()
    host = settings.payu_sandbox_host
    await web.TCPSite(runner, host, settings.payu_sandbox_port if port is None else port).start()
    address = runner.addresses[0]
    sandbox.public_url = f"http://{host}:{address[1]}"
    return RunningSandbox(sandbox, sandbox.public_url, runner)


async def _serve(settings: SandboxSettings) -> None:
    running = await start_sandbox(settings)
    log.info("payment sandbox listening", url=running.url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await running.stop()


def main() -> None:
    try:
        settings = SandboxSettings.from_env()
    except ConfigError as exc:
        print(f"ebok-payu-sandbox: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure("payu-sandbox", settings.log_level)
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
