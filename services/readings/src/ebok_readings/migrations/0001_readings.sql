-- Readings: the projection of billing's contracts, the meter registry, readings with their
-- photos, garden-meter requests with their status history, reading windows, reminders sent,
-- back-office feed batches and accounts whose personal data was unlinked.

CREATE TABLE contracts (
    contract_number text PRIMARY KEY,
    client_number   text NOT NULL,
    concluded_on    date NOT NULL,
    terminated_on   date,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contracts_client_idx ON contracts (client_number);

CREATE TABLE meters (
    serial          text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('main', 'garden')),
    contract_number text NOT NULL REFERENCES contracts,
    installed_on    date NOT NULL,
    initial_value   numeric(12, 3) CHECK (initial_value >= 0),  -- NULL: known from the contract only
    removed_on      date,
    final_value     numeric(12, 3) CHECK (final_value >= 0),
    seal_number     text,
    sealed_on       date,  -- legalisation runs from here
    replaces        text REFERENCES meters,
    replaced_by     text REFERENCES meters,
    registered_by   text NOT NULL,  -- contract, feed:<batch>, garden-request:<id>
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (removed_on IS NULL OR removed_on >= installed_on),
    CHECK ((removed_on IS NULL) = (final_value IS NULL))
);
CREATE INDEX meters_contract_idx ON meters (contract_number);

CREATE TABLE photos (
    id            uuid PRIMARY KEY,
    client_number text,  -- NULL once the account's personal data was unlinked
    content_type  text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    size          int NOT NULL,
    sha256        text NOT NULL,
    data          bytea NOT NULL,
    uploaded_at   timestamptz NOT NULL
);

CREATE TABLE readings (
    id              uuid PRIMARY KEY,
    meter_serial    text NOT NULL REFERENCES meters,
    contract_number text NOT NULL,
    client_number   text NOT NULL,
    value           numeric(12, 3) NOT NULL CHECK (value >= 0),
    read_on         date NOT NULL,
    source          text NOT NULL CHECK (source IN ('customer', 'inspector', 'remote', 'estimate')),
    role            text NOT NULL DEFAULT 'regular' CHECK (role IN ('initial', 'regular', 'final')),
    status          text NOT NULL CHECK (status IN ('accepted', 'to_verify', 'rejected')),
    unusual         boolean NOT NULL DEFAULT false,
    daily_m3        numeric(12, 3),
    baseline_m3     numeric(12, 3),
    leak_suspected  boolean NOT NULL DEFAULT false,
    submitted_by    text NOT NULL,  -- customer:<client>, operator:<id>, feed:<batch>
    submitted_at    timestamptz NOT NULL,
    photo_id        uuid REFERENCES photos ON DELETE SET NULL,
    idempotency_key text,
    superseded_at   timestamptz,
    superseded_by   uuid REFERENCES readings,
    decided_by      text,
    decided_at      timestamptz,
    decision_reason text,
    billed_at       timestamptz
);
CREATE INDEX readings_meter_idx ON readings (meter_serial, read_on);
CREATE INDEX readings_client_idx ON readings (client_number, read_on);
CREATE INDEX readings_to_verify_idx ON readings (submitted_at) WHERE status = 'to_verify';
-- At most one live customer reading per meter and day (a second one supersedes the first).
CREATE UNIQUE INDEX readings_customer_day_idx ON readings (meter_serial, read_on)
    WHERE source = 'customer' AND role = 'regular' AND superseded_at IS NULL
      AND status <> 'rejected';
-- A retried request creates one reading, even past the shared idempotency lease.
CREATE UNIQUE INDEX readings_idempotency_idx ON readings (client_number, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The back office reports a meter's reading of one day and source once.
CREATE UNIQUE INDEX readings_feed_idx ON readings (meter_serial, read_on, source)
    WHERE source <> 'customer' AND role = 'regular';

CREATE TABLE garden_requests (
    id              uuid PRIMARY KEY,
    client_number   text NOT NULL,
    contract_number text NOT NULL REFERENCES contracts,
    kind            text NOT NULL CHECK (kind IN ('installation', 'replacement', 'removal')),
    status          text NOT NULL CHECK (status IN ('submitted', 'accepted', 'rejected')),
    done_on         date NOT NULL,  -- the day the meter was installed, replaced or removed
    new_serial      text,
    initial_value   numeric(12, 3),
    seal_number     text,
    old_serial      text,
    final_value     numeric(12, 3),
    photo_id        uuid REFERENCES photos ON DELETE SET NULL,
    idempotency_key text,
    reason          text,
    submitted_by    text NOT NULL,
    submitted_at    timestamptz NOT NULL,
    decided_by      text,
    decided_at      timestamptz
);
CREATE INDEX garden_requests_client_idx ON garden_requests (client_number, submitted_at DESC);
CREATE INDEX garden_requests_queue_idx ON garden_requests (submitted_at) WHERE status = 'submitted';
CREATE UNIQUE INDEX garden_requests_idempotency_idx ON garden_requests (client_number, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- One open request per meter at a time.
CREATE UNIQUE INDEX garden_requests_open_old_idx ON garden_requests (old_serial)
    WHERE status = 'submitted' AND old_serial IS NOT NULL;
CREATE UNIQUE INDEX garden_requests_open_new_idx ON garden_requests (new_serial)
    WHERE status = 'submitted' AND new_serial IS NOT NULL;

CREATE TABLE garden_request_history (
    id         bigserial PRIMARY KEY,
    request_id uuid NOT NULL REFERENCES garden_requests,
    status     text NOT NULL,
    at         timestamptz NOT NULL,
    by         text NOT NULL,
    reason     text
);
CREATE INDEX garden_request_history_idx ON garden_request_history (request_id, id);

CREATE TABLE reading_window_mode (
    id         int PRIMARY KEY CHECK (id = 1),
    mode       text NOT NULL CHECK (mode IN ('always', 'windows')),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL
);
INSERT INTO reading_window_mode VALUES (1, 'always', 'migration', now());

CREATE TABLE reading_windows (
    id        bigserial PRIMARY KEY,
    opens_on  date NOT NULL,
    closes_on date NOT NULL,
    CHECK (closes_on >= opens_on)
);

CREATE TABLE reminders_sent (
    meter_serial text NOT NULL REFERENCES meters,
    kind         text NOT NULL CHECK (kind IN ('reading', 'legalisation')),
    due_on       date NOT NULL,
    sent_at      timestamptz NOT NULL,
    PRIMARY KEY (meter_serial, kind, due_on)
);

CREATE TABLE feed_batches (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('readings', 'meters')),
    sha256      text NOT NULL,
    rows        int NOT NULL,
    applied     int NOT NULL,
    received_by text NOT NULL,
    received_at timestamptz NOT NULL,
    UNIQUE (kind, sha256)
);

CREATE TABLE unlinked_clients (
    client_number text PRIMARY KEY,
    unlinked_at   timestamptz NOT NULL
);
