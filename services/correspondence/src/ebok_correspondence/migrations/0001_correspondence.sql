-- Correspondence: every document a customer sends through e-BOK, its attachments, the
-- utility's replies and every change, with who and when; plus the projections of billing's
-- events that tell which invoices and meters are whose.

-- Case numbers EBOK/<year>/<n>: one counter row per year. The row is locked by the last
-- statement of the submitting transaction, so numbers are unique and rise in commit order.
CREATE TABLE case_counters (
    year        int PRIMARY KEY,
    last_number int NOT NULL
);

CREATE TABLE cases (
    id              uuid PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    client_number   text NOT NULL,            -- the contract party who wrote
    kind            text NOT NULL CHECK (kind IN
                        ('failure_report', 'water_quality_complaint', 'data_change',
                         'reklamacja', 'letter')),
    urgent          boolean NOT NULL,
    status          text NOT NULL CHECK (status IN ('received', 'in_progress', 'answered', 'closed')),
    details         jsonb NOT NULL,           -- the kind's own fields, as validated
    contact_phone   text,
    submitted_at    timestamptz NOT NULL,
    reply_due       date,                     -- reklamacje and complaints only
    evidence_needed_at timestamptz,
    assignee        text,                     -- operator id
    closed_at       timestamptz,
    updated_at      timestamptz NOT NULL,
    -- A deleted e-BOK account: the case stays (the utility keeps its correspondence) but no
    -- account sees it any more, and contact data it no longer needs is gone.
    unlinked_at     timestamptz,
    -- "Send" pressed twice: one case per (client, Idempotency-Key), whatever crashed between.
    idempotency_key text,
    request_hash    text,
    submit_response jsonb                     -- the first answer, given again to a retry
);
CREATE UNIQUE INDEX cases_idempotency_key_idx ON cases (client_number, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX cases_customer_idx ON cases (client_number, submitted_at DESC, id)
    WHERE unlinked_at IS NULL;
CREATE INDEX cases_queue_idx ON cases
    ((kind = 'failure_report' AND urgent) DESC, reply_due ASC NULLS LAST, submitted_at)
    WHERE status <> 'closed';

CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    -- deferred: attachments are written before their case, which takes its number last
    case_id      uuid NOT NULL REFERENCES cases (id) DEFERRABLE INITIALLY DEFERRED,
    position     smallint NOT NULL,
    filename     text NOT NULL,
    content_type text NOT NULL CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size         int NOT NULL CHECK (size > 0),
    sha256       text NOT NULL,
    UNIQUE (case_id, position)
);

-- The bytes, in chunks of at most 1 MiB, so neither writing nor serving a 10 MB file holds
-- it whole in memory. PDF, JPEG and PNG are compressed already: no second compression.
CREATE TABLE attachment_chunks (
    attachment_id uuid NOT NULL REFERENCES attachments (id) DEFERRABLE INITIALLY DEFERRED,
    seq           int NOT NULL,
    data          bytea NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);
ALTER TABLE attachment_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE replies (
    id         uuid PRIMARY KEY,
    case_id    uuid NOT NULL REFERENCES cases (id),
    author     text NOT NULL,                 -- operator id (not shown to customers)
    body       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX replies_case_idx ON replies (case_id, created_at);

CREATE TABLE case_history (
    id         bigserial PRIMARY KEY,
    case_id    uuid NOT NULL REFERENCES cases (id),
    at         timestamptz NOT NULL,
    actor_kind text NOT NULL CHECK (actor_kind IN ('customer', 'operator', 'system')),
    actor      text NOT NULL,
    action     text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_history_case_idx ON case_history (case_id, id);

-- Projections of billing's events: which invoice numbers and meter serials are whose.
CREATE TABLE known_invoices (
    invoice_number text PRIMARY KEY,
    client_number  text NOT NULL
);
CREATE TABLE known_meters (
    serial          text NOT NULL,
    client_number   text NOT NULL,
    contract_number text NOT NULL,
    PRIMARY KEY (serial, client_number)
);
