-- The gateway holds no customer data: only portal settings (terms IV.1) and the
-- revocations it must enforce on every replica within a second.

CREATE TABLE portal_sections (
    section     text PRIMARY KEY,          -- e.g. invoices, readings, correspondence
    mode        text NOT NULL CHECK (mode IN ('on', 'read_only', 'off', 'hidden')),
    message     text,                      -- Polish text shown to customers
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hidden_items (
    section     text NOT NULL,
    item_id     text NOT NULL,             -- e.g. an invoice number
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (section, item_id)
);

CREATE TABLE portal_settings_history (
    id          bigserial PRIMARY KEY,
    change      jsonb NOT NULL,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

-- Tokens of a subject issued before revoked_before are refused (block, deletion).
CREATE TABLE revoked_subjects (
    subject         text PRIMARY KEY,
    revoked_before  timestamptz NOT NULL,
    reason          text NOT NULL
);

-- Single sessions ended early (logout); kept until their last token expires.
CREATE TABLE revoked_sessions (
    session_id  text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
