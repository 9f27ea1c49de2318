-- The feed's batches move to the table every service's feed shares (shared migration 0002).
-- Only applied batches were recorded here; their format was not.
INSERT INTO back_office_batches (batch_id, kind, checksum, format, status, row_count, applied,
                                 unchanged, submitted_by, received_at)
SELECT id, kind, sha256, NULL, 'applied', rows, applied, rows - applied, received_by, received_at
FROM feed_batches;

DROP TABLE feed_batches;
