"""The public API's contract: for every route a service answers through the gateway, the JSON
Schemas of what it takes (body, form, query) and of what it answers, in one place.

The services validate requests with these very schemas (``read_json``), and the gateway
builds its OpenAPI document from them (``ebok_gateway.openapi``); neither keeps a copy. They
live in ``shared`` because the gateway may not import a service (tests/test_architecture.py):
the same reason the event catalogue (``ebok_shared.catalogue``) lives here. One module per
service (``auth``, ``billing``, ``readings``, ``correspondence``, ``notifier``) and one for
the gateway's own routes (``gateway``), each with ``OPERATIONS`` keyed by (method, the path
the owning service serves)."""

from . import auth, billing, correspondence, gateway, notifier, readings

__all__ = ["auth", "billing", "correspondence", "gateway", "notifier", "readings"]
