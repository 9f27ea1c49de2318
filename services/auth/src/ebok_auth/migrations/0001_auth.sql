-- auth: who may enter e-BOK. All times are written by the application (the shared clock).

-- Projection of billing's clients (billing.client.upserted, contract.*, invoice.issued):
-- only what registration and the contract-end block need.
CREATE TABLE clients (
    client_number text PRIMARY KEY,
    email         text,                 -- e-mail of record, if billing has one
    updated_at    timestamptz NOT NULL
);
CREATE TABLE contracts (
    contract_number text PRIMARY KEY,
    client_number   text NOT NULL,
    concluded_on    date,               -- NULL if the termination arrived first
    terminated_on   date
);
CREATE INDEX contracts_client_idx ON contracts (client_number);
CREATE TABLE invoices (
    invoice_number text PRIMARY KEY,
    client_number  text NOT NULL,
    gross          numeric(16, 2) NOT NULL
);
CREATE INDEX invoices_client_idx ON invoices (client_number);

-- Customer accounts: login = client number; at most one account per client.
CREATE TABLE accounts (
    client_number        text PRIMARY KEY CHECK (client_number ~ '^\d{6}$'),
    email                text NOT NULL,
    status               text NOT NULL CHECK (status IN ('pending', 'active', 'blocked')),
    password_hash        text,
    password_expires_at  timestamptz,   -- the generated initial password expires
    must_change_password boolean NOT NULL DEFAULT false,
    password_changed_at  timestamptz,
    totp_secret          text,          -- set once TOTP is confirmed
    totp_pending_secret  text,          -- during enrolment
    totp_last_step       bigint,        -- no code is accepted twice
    blocked_reason       text,
    blocked_by           text,
    blocked_at           timestamptz,
    created_at           timestamptz NOT NULL,
    activated_at         timestamptz
);
CREATE INDEX accounts_pending_idx ON accounts (created_at) WHERE status = 'pending';
CREATE INDEX accounts_email_idx ON accounts (lower(email));

-- Single-use links (activation, password reset, e-mail change); only their hash is kept.
CREATE TABLE link_tokens (
    token_hash    bytea PRIMARY KEY,
    purpose       text NOT NULL CHECK (purpose IN ('activation', 'password_reset', 'email_change')),
    client_number text NOT NULL REFERENCES accounts ON DELETE CASCADE,
    new_email     text,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX link_tokens_client_idx ON link_tokens (client_number, purpose);

CREATE TABLE recovery_codes (
    client_number text NOT NULL REFERENCES accounts ON DELETE CASCADE,
    code_hash     bytea NOT NULL,
    used_at       timestamptz,
    PRIMARY KEY (client_number, code_hash)
);

-- Operators: separate from customers, with roles; TOTP always required.
CREATE TABLE operators (
    login                text PRIMARY KEY,
    email                text NOT NULL,
    roles                text[] NOT NULL,
    password_hash        text NOT NULL,
    must_change_password boolean NOT NULL,
    totp_secret          text NOT NULL,
    totp_last_step       bigint,
    active               boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL,
    created_by           text NOT NULL
);

-- Sessions (one refresh-token family each) for customers and operators.
CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('customer', 'operator')),
    subject        text NOT NULL,
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,   -- absolute lifetime
    revoked_at     timestamptz,
    revoked_reason text,
    ip             text
);
CREATE INDEX sessions_subject_idx ON sessions (kind, subject) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    used_at    timestamptz              -- rotated; presenting it again is reuse
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Brute force: consecutive failures and progressive lockouts per account.
CREATE TABLE login_failures (
    kind          text NOT NULL,
    subject       text NOT NULL,
    failures      int NOT NULL,
    last_failure  timestamptz NOT NULL,
    lockouts      int NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    PRIMARY KEY (kind, subject)
);
-- Fixed-window counters (per IP, per client number), shared by all replicas.
CREATE TABLE rate_counters (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         int NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- Regulations (terms) versions and every acceptance (evidence: version, time, IP).
CREATE TABLE regulations (
    version        int PRIMARY KEY,
    body           text NOT NULL,
    summary        text NOT NULL,
    effective_from timestamptz NOT NULL,
    published_at   timestamptz NOT NULL,
    published_by   text NOT NULL
);
CREATE TABLE regulations_acceptances (
    id            bigserial PRIMARY KEY,
    client_number text NOT NULL,
    version       int NOT NULL REFERENCES regulations,
    accepted_at   timestamptz NOT NULL,
    ip            text,
    context       text NOT NULL CHECK (context IN ('registration', 'session')),
    retain_until  date               -- set when the account is deleted (kept as evidence)
);
CREATE INDEX regulations_acceptances_client_idx ON regulations_acceptances (client_number);

-- Terms II.7: blocks due after the last contract ended; the scheduler claims due rows.
CREATE TABLE scheduled_blocks (
    client_number text PRIMARY KEY,
    terminated_on date NOT NULL,
    block_on      date NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX scheduled_blocks_due_idx ON scheduled_blocks (block_on);

-- Security audit log: never a password, token or secret.
CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    occurred_at    timestamptz NOT NULL,
    type           text NOT NULL,
    actor          text NOT NULL,      -- customer:<n>, operator:<login>, system, anonymous
    subject        text,               -- the account concerned
    ip             text,
    correlation_id text,
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject, id);
CREATE INDEX audit_log_type_idx ON audit_log (type, id);
CREATE INDEX audit_log_occurred_idx ON audit_log (occurred_at);

-- Signing keys generated for local/dev/test when EBOK_SIGNING_KEYS is not set.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    private_pem text NOT NULL,
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz
);
