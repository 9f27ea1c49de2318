-- Tables every service has: the transactional outbox, the consumer inbox,
-- and stored answers for Idempotency-Key requests.

CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    event_type    text NOT NULL,
    aggregate_key text,              -- events of one aggregate are published in order
    body          bytea NOT NULL,    -- the envelope, exactly as it goes on the wire
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_aggregate_idx ON outbox (aggregate_key, id) WHERE aggregate_key IS NOT NULL;

CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    handled_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_handled_at_idx ON inbox (handled_at);

CREATE TABLE idempotency_keys (
    scope         text NOT NULL,     -- who asked (principal) and which route
    key           text NOT NULL,
    request_hash  text NOT NULL,
    status        int,               -- NULL while the first request is in progress
    headers       jsonb,
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
