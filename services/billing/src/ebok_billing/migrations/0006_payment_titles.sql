-- Matching a bank transfer to what it pays by its title: the title as the back office's
-- feed gives it (optional), the online payment order a payment books (named by the
-- payment's id, as before, or by the order's id in the title), and whether a titled
-- payment named nothing we could match (the operators' unmatched list).
ALTER TABLE payments
    ADD COLUMN title text CHECK (length(title) <= 140),
    ADD COLUMN order_id uuid REFERENCES payment_orders,
    ADD COLUMN title_unmatched boolean NOT NULL DEFAULT false;
UPDATE payments p SET order_id = o.order_id
    FROM payment_orders o WHERE p.payment_id = o.order_id::text;
-- An order is booked by one payment: a second one naming it is unmatched.
CREATE UNIQUE INDEX payments_order_idx ON payments (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX payments_title_unmatched_idx ON payments (paid_on) WHERE title_unmatched;
