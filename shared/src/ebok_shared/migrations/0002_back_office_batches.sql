-- Back-office feed batches, the same table in every service that takes a feed: one row per
-- batch received, applied or rejected as a whole (ebok_shared.feed). The services' own
-- earlier batch tables move their rows here in a migration of their own.
CREATE TABLE back_office_batches (
    batch_id     uuid PRIMARY KEY,
    kind         text NOT NULL,              -- what the batch carries: billing, readings, meters
    checksum     text NOT NULL,              -- sha256 of the bytes received
    format       text CHECK (format IN ('jsonl', 'csv')),  -- NULL: not recorded (older rows)
    status       text NOT NULL CHECK (status IN ('applied', 'rejected')),
    row_count    int NOT NULL,
    applied      int NOT NULL DEFAULT 0,     -- rows that changed something
    unchanged    int NOT NULL DEFAULT 0,     -- rows that restated what was recorded
    submitted_by text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    summary      jsonb NOT NULL DEFAULT '{}',  -- the service's own detail
    error_count  int NOT NULL DEFAULT 0,
    errors       jsonb NOT NULL DEFAULT '[]'
);
-- The same bytes are applied once per kind.
CREATE UNIQUE INDEX back_office_batches_applied_idx
    ON back_office_batches (kind, checksum) WHERE status = 'applied';
CREATE INDEX back_office_batches_received_idx ON back_office_batches (kind, received_at DESC);
