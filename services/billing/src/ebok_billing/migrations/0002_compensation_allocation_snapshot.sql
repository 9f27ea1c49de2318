-- Issue 4's gaps: the recovery compensation of the act of 8 March 2013 on interest notes
-- (with the NBP EUR rate table it is converted by), payments allocated to invoices and
-- interest notes (art. 451 of the Civil Code), and the buyer's data kept on each invoice
-- as it was on the day of issue.

-- NBP average EUR rates (table A), one row per publication day, kept as data that the
-- operator extends (POST /operator/eur-rates). Seeded only with rates we are sure of.
CREATE TABLE eur_rates (
    rate_date    date PRIMARY KEY,
    eur_pln      numeric(8, 4) NOT NULL CHECK (eur_pln > 0),
    table_number text CHECK (table_number ~ '^[0-9]{3}/A/NBP/[0-9]{4}$'),
    added_by     text NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO eur_rates (rate_date, eur_pln, table_number, added_by) VALUES
    ('2022-12-30', 4.6899, '252/A/NBP/2022', 'migration 0002'),
    ('2023-12-29', 4.3480, '251/A/NBP/2023', 'migration 0002'),
    ('2024-12-31', 4.2730, '252/A/NBP/2024', 'migration 0002');

-- Interest notes: what has been paid of them, when they are payable, and the recovery
-- compensation charged on the note (at most once per invoice: compensation_for is the
-- invoice, or the original a correction belongs to, and it is unique).
ALTER TABLE interest_notes
    ADD COLUMN payable_by date,
    ADD COLUMN amount_paid numeric(14, 2) NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
    ADD COLUMN compensation_for text UNIQUE REFERENCES invoices,
    ADD COLUMN compensation_eur numeric(6, 2) CHECK (compensation_eur > 0),
    ADD COLUMN compensation_rate numeric(8, 4) CHECK (compensation_rate > 0),
    ADD COLUMN compensation_rate_date date,
    ADD COLUMN compensation_rate_table text,
    ADD COLUMN compensation_pln numeric(14, 2) CHECK (compensation_pln > 0),
    ADD CONSTRAINT interest_notes_compensation_whole CHECK (
        (compensation_for IS NULL) = (compensation_eur IS NULL)
        AND (compensation_for IS NULL) = (compensation_rate IS NULL)
        AND (compensation_for IS NULL) = (compensation_rate_date IS NULL)
        AND (compensation_for IS NULL) = (compensation_pln IS NULL)
        AND (compensation_for IS NULL OR kind = 'commercial'));
UPDATE interest_notes SET payable_by = issue_date + 14;
ALTER TABLE interest_notes
    ALTER COLUMN payable_by SET NOT NULL,
    ADD COLUMN total numeric(14, 2)
        GENERATED ALWAYS AS (amount + coalesce(compensation_pln, 0)) STORED,
    ADD CONSTRAINT interest_notes_paid_at_most_total
        CHECK (amount_paid <= amount + coalesce(compensation_pln, 0));
-- A payment without an indication may pay several invoices late: a note for each.
ALTER TABLE interest_notes DROP CONSTRAINT interest_notes_payment_id_key;
CREATE UNIQUE INDEX interest_notes_payment_idx ON interest_notes (payment_id, invoice_number)
    WHERE payment_id IS NOT NULL;

-- Payments: the debt the payer indicated (an invoice, an interest note, or none), and
-- how each was allocated. A row per debt a payment went to; what no debt took is the
-- payment's overpayment (nadpłata), held on the client's account.
ALTER TABLE payments
    ALTER COLUMN invoice_number DROP NOT NULL,
    ADD COLUMN note_number text REFERENCES interest_notes,
    ADD COLUMN overpaid numeric(14, 2) NOT NULL DEFAULT 0 CHECK (overpaid >= 0),
    ADD CONSTRAINT payments_one_indication CHECK (invoice_number IS NULL OR note_number IS NULL);

CREATE TABLE payment_allocations (
    payment_id     text NOT NULL REFERENCES payments,
    seq            int NOT NULL CHECK (seq > 0),
    invoice_number text NOT NULL REFERENCES invoices,  -- the invoice, or the note's invoice
    note_number    text REFERENCES interest_notes,      -- NULL: the invoice's principal
    amount         numeric(14, 2) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (payment_id, seq)
);
CREATE INDEX payment_allocations_invoice_idx ON payment_allocations (invoice_number)
    WHERE note_number IS NULL;
CREATE INDEX payment_allocations_note_idx ON payment_allocations (note_number)
    WHERE note_number IS NOT NULL;
-- Payments posted before allocations existed went whole to the invoice they named.
INSERT INTO payment_allocations (payment_id, seq, invoice_number, amount)
    SELECT payment_id, 1, invoice_number, amount FROM payments;

-- The buyer as it was when the invoice was issued (printed on its copy, never changed).
ALTER TABLE invoices
    ADD COLUMN buyer_name text,
    ADD COLUMN buyer_street text,
    ADD COLUMN buyer_postal_code text,
    ADD COLUMN buyer_city text,
    ADD COLUMN buyer_nip text CHECK (buyer_nip ~ '^[0-9]{10}$');
-- Invoices issued before this migration: the client's data as it is now is the best
-- record there is of it.
UPDATE invoices i SET buyer_name = c.name, buyer_street = c.street,
    buyer_postal_code = c.postal_code, buyer_city = c.city, buyer_nip = c.nip
FROM clients c WHERE c.client_number = i.client_number;
ALTER TABLE invoices
    ALTER COLUMN buyer_name SET NOT NULL,
    ALTER COLUMN buyer_street SET NOT NULL,
    ALTER COLUMN buyer_postal_code SET NOT NULL,
    ALTER COLUMN buyer_city SET NOT NULL;
