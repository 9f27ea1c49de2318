-- The notifier's own data: its projection of e-BOK users (from auth's events), campaigns,
-- and the delivery log every e-mail is written to before it is sent.

CREATE TABLE recipients (
    client_number  text PRIMARY KEY,
    email          text,                 -- NULL once the account is deleted (erased)
    status         text NOT NULL CHECK (status IN ('active', 'blocked', 'deleted')),
    activated_at   timestamptz,
    last_event_at  timestamptz NOT NULL,  -- an older event arriving late changes nothing
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'deleted' OR email IS NOT NULL),
    CHECK (status <> 'deleted' OR email IS NULL)
);
CREATE INDEX recipients_active_idx ON recipients (client_number) WHERE status = 'active';

CREATE TABLE campaigns (
    id               bigserial PRIMARY KEY,
    event_id         uuid NOT NULL UNIQUE,
    kind             text NOT NULL,
    context          jsonb NOT NULL,      -- what every e-mail of the campaign says
    status           text NOT NULL DEFAULT 'materialising'
                     CHECK (status IN ('materialising', 'queued')),
    cursor           text NOT NULL DEFAULT '',  -- the last client number materialised
    materialised     int NOT NULL DEFAULT 0,
    total            int NOT NULL,        -- active users when the campaign was created
    rate             double precision NOT NULL,  -- e-mails per second
    starts_at        timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    materialised_at  timestamptz
);
CREATE INDEX campaigns_materialising_idx ON campaigns (id) WHERE status = 'materialising';

CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
    event_id         uuid NOT NULL,
    recipient        text NOT NULL,
    client_number    text,
    kind             text NOT NULL,
    context          jsonb,               -- NULL for a campaign's e-mails: the campaign has it
    campaign_id      bigint REFERENCES campaigns (id),
    message_id       text NOT NULL UNIQUE,
    priority         smallint NOT NULL DEFAULT 0,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts         int NOT NULL DEFAULT 0,
    last_answer      text,                -- the SMTP server's (or our own) last word
    next_attempt_at  timestamptz NOT NULL,
    queued_at        timestamptz NOT NULL,  -- the retry deadline counts from here
    claimed_by       int,                 -- the sender holding it while status = 'sending'
    sent_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, recipient)
);
CREATE INDEX deliveries_due_idx ON deliveries (priority, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_sending_idx ON deliveries (claimed_by) WHERE status = 'sending';
CREATE INDEX deliveries_status_idx ON deliveries (status, id);
CREATE INDEX deliveries_campaign_idx ON deliveries (campaign_id, status) WHERE campaign_id IS NOT NULL;
CREATE INDEX deliveries_client_idx ON deliveries (client_number) WHERE client_number IS NOT NULL;
