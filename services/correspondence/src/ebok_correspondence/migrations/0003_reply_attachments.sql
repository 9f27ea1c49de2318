-- An operator's reply may carry files (issue 13: "reply with attachments"): they are the
-- case's attachments like the customer's, stored the same way, marked with the reply they
-- came with (NULL: the customer's own). The customer reads and downloads them on the case.
ALTER TABLE attachments
    ADD COLUMN reply_id uuid REFERENCES replies (id) DEFERRABLE INITIALLY DEFERRED;
