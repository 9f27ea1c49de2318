-- The feed's batches move to the table every service's feed shares (shared migration 0002):
-- the same columns, kind 'billing', and the rows that changed something or restated what
-- was recorded counted from each batch's summary.
INSERT INTO back_office_batches (batch_id, kind, checksum, format, status, row_count, applied,
                                 unchanged, submitted_by, received_at, summary, error_count,
                                 errors)
SELECT b.batch_id, 'billing', b.checksum, b.format, b.status, b.row_count,
       CASE WHEN b.status = 'applied' THEN b.row_count - u.unchanged ELSE 0 END,
       CASE WHEN b.status = 'applied' THEN u.unchanged ELSE 0 END,
       b.submitted_by, b.received_at, b.summary, b.error_count, b.errors
FROM feed_batches b,
     LATERAL (SELECT coalesce(sum((b.summary -> k ->> 'unchanged')::int), 0)::int AS unchanged
              FROM unnest(ARRAY['clients', 'contracts', 'invoices', 'payments']) AS k) u;

DROP TABLE feed_batches;
