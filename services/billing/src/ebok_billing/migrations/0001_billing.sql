-- Billing: clients, contracts, invoices, payments, interest notes, e-invoice consents,
-- the NBP reference rate table, back-office feed batches, tariffs and meter readings.
-- Amounts are numeric (never float); the back office is the source of truth for clients,
-- contracts, invoices and payments, which reach these tables only through the feed.

CREATE TABLE clients (
    client_number text PRIMARY KEY CHECK (client_number ~ '^[0-9]{6}$'),
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('household', 'business')),
    nip           text CHECK (nip ~ '^[0-9]{10}$'),
    email         text,
    street        text NOT NULL,
    postal_code   text NOT NULL,
    city          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'business') = (nip IS NOT NULL))
);

CREATE TABLE contracts (
    contract_number text PRIMARY KEY,
    client_number   text NOT NULL REFERENCES clients,
    concluded_on    date NOT NULL,
    terminated_on   date,
    street          text NOT NULL,
    postal_code     text NOT NULL,
    city            text NOT NULL,
    tariff_group    text NOT NULL,
    meter_serials   text[] NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (terminated_on IS NULL OR terminated_on >= concluded_on)
);
CREATE INDEX contracts_client_idx ON contracts (client_number, concluded_on);

CREATE TABLE invoices (
    invoice_number   text PRIMARY KEY CHECK (invoice_number ~ '^[0-9]{10,20}$'),
    client_number    text NOT NULL REFERENCES clients,
    contract_number  text NOT NULL REFERENCES contracts,
    issue_date       date NOT NULL,
    due_date         date NOT NULL,
    period_from      date NOT NULL,
    period_to        date NOT NULL,
    water_m3         numeric(12, 3) NOT NULL,
    water_price      numeric(10, 4) NOT NULL,
    water_net        numeric(14, 2) NOT NULL,
    sewage_m3        numeric(12, 3) NOT NULL,
    sewage_price     numeric(10, 4) NOT NULL,
    sewage_net       numeric(14, 2) NOT NULL,
    subscription_net numeric(14, 2) NOT NULL,
    vat_rate         numeric(5, 2) NOT NULL,
    net              numeric(14, 2) NOT NULL,
    vat              numeric(14, 2) NOT NULL,
    gross            numeric(14, 2) NOT NULL,
    amount_paid      numeric(14, 2) NOT NULL DEFAULT 0,
    ksef_number      text UNIQUE,
    ksef_hash        text,
    corrects         text REFERENCES invoices,
    corrected        boolean NOT NULL DEFAULT false,
    delivery         text NOT NULL CHECK (delivery IN ('e-mail', 'paper')),
    e_invoice_email  text,
    source           text NOT NULL CHECK (source IN ('feed', 'billing-run')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (invoice_number LIKE client_number || '%'),
    CHECK (due_date >= issue_date),
    CHECK (period_to >= period_from),
    CHECK (gross = net + vat),
    CHECK ((delivery = 'e-mail') = (e_invoice_email IS NOT NULL))
);
CREATE INDEX invoices_client_idx ON invoices (client_number, issue_date DESC, invoice_number DESC);
CREATE INDEX invoices_corrects_idx ON invoices (corrects) WHERE corrects IS NOT NULL;

CREATE TABLE payments (
    payment_id     text PRIMARY KEY,
    client_number  text NOT NULL REFERENCES clients,
    invoice_number text NOT NULL REFERENCES invoices,
    paid_on        date NOT NULL,
    amount         numeric(14, 2) NOT NULL CHECK (amount > 0),
    posted_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_invoice_idx ON payments (invoice_number, paid_on);
CREATE INDEX payments_client_idx ON payments (client_number);

CREATE TABLE interest_notes (
    note_number    text PRIMARY KEY,
    client_number  text NOT NULL REFERENCES clients,
    invoice_number text NOT NULL REFERENCES invoices,
    payment_id     text UNIQUE REFERENCES payments,  -- the late payment charged; NULL on demand
    reason         text NOT NULL CHECK (reason IN ('late-payment', 'on-demand')),
    issue_date     date NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('household', 'commercial')),
    principal      numeric(14, 2) NOT NULL,
    due_date       date NOT NULL,
    interest_to    date NOT NULL,
    days_late      int NOT NULL CHECK (days_late > 0),
    periods        jsonb NOT NULL,
    amount         numeric(14, 2) NOT NULL CHECK (amount >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((reason = 'late-payment') = (payment_id IS NOT NULL))
);
CREATE UNIQUE INDEX interest_notes_on_demand_idx
    ON interest_notes (invoice_number, interest_to) WHERE reason = 'on-demand';
CREATE INDEX interest_notes_client_idx ON interest_notes (client_number, issue_date DESC);
CREATE INDEX interest_notes_invoice_idx ON interest_notes (invoice_number);

-- NBP reference rates by the date they took effect (seeded from the packaged CSV).
CREATE TABLE reference_rates (
    effective_from         date PRIMARY KEY,
    reference_rate_percent numeric(6, 3) NOT NULL CHECK (reference_rate_percent >= 0),
    added_by               text NOT NULL,
    added_at               timestamptz NOT NULL DEFAULT now()
);

-- E-invoices (terms III.c): the consent in force, pending confirmations, and every change.
CREATE TABLE e_invoice_consents (
    client_number text PRIMARY KEY REFERENCES clients,
    status        text NOT NULL CHECK (status IN ('accepted', 'withdrawn')),
    email         text,
    changed_at    timestamptz NOT NULL,
    CHECK ((status = 'accepted') = (email IS NOT NULL))
);

CREATE TABLE e_invoice_requests (
    token_hash    text PRIMARY KEY,          -- sha256 of the token sent by e-mail
    client_number text NOT NULL REFERENCES clients,
    email         text NOT NULL,
    purpose       text NOT NULL CHECK (purpose IN ('accept', 'change')),
    requested_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    closed_at     timestamptz,               -- confirmed or superseded
    outcome       text CHECK (outcome IN ('confirmed', 'superseded'))
);
CREATE INDEX e_invoice_requests_client_idx ON e_invoice_requests (client_number)
    WHERE closed_at IS NULL;

CREATE TABLE e_invoice_history (
    id            bigserial PRIMARY KEY,
    client_number text NOT NULL REFERENCES clients,
    at            timestamptz NOT NULL,
    action        text NOT NULL CHECK (action IN ('requested', 'confirmed', 'withdrawn')),
    purpose       text CHECK (purpose IN ('accept', 'change')),
    email         text,
    source        text NOT NULL
);
CREATE INDEX e_invoice_history_client_idx ON e_invoice_history (client_number, at, id);

-- Back-office feed batches: one row per batch received, applied or rejected as a whole.
CREATE TABLE feed_batches (
    batch_id     uuid PRIMARY KEY,
    checksum     text NOT NULL,              -- sha256 of the bytes received
    format       text NOT NULL CHECK (format IN ('jsonl', 'csv')),
    status       text NOT NULL CHECK (status IN ('applied', 'rejected')),
    row_count    int NOT NULL,
    submitted_by text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    summary      jsonb NOT NULL,
    error_count  int NOT NULL DEFAULT 0,
    errors       jsonb NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX feed_batches_applied_idx ON feed_batches (checksum) WHERE status = 'applied';
CREATE INDEX feed_batches_received_idx ON feed_batches (received_at DESC);

-- Billing's own run (demo, utilities without a back office): tariffs and accepted readings.
CREATE TABLE tariffs (
    tariff_group     text NOT NULL,
    valid_from       date NOT NULL,
    water_price      numeric(10, 4) NOT NULL CHECK (water_price >= 0),
    sewage_price     numeric(10, 4) NOT NULL CHECK (sewage_price >= 0),
    subscription_fee numeric(14, 2) NOT NULL CHECK (subscription_fee >= 0),
    vat_rate         numeric(5, 2) NOT NULL CHECK (vat_rate >= 0),
    PRIMARY KEY (tariff_group, valid_from)
);

CREATE TABLE meter_readings (
    reading_id      uuid PRIMARY KEY,
    meter_serial    text NOT NULL,
    contract_number text NOT NULL,
    client_number   text NOT NULL,
    value           numeric(12, 3) NOT NULL,
    read_on         date NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('main', 'garden')),
    invoice_number  text REFERENCES invoices,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meter_readings_meter_idx ON meter_readings (meter_serial, read_on);
CREATE INDEX meter_readings_contract_idx ON meter_readings (contract_number, read_on);
