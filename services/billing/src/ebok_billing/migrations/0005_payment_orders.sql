-- Online payment orders (paid through the payment provider, PayU): what the customer chose
-- to pay, the amount billing computed, and the order's state. An order's id is the
-- provider's extOrderId and the payment_id the back office's feed posts the real payment
-- under, which is how a paid order is matched to its booked payment.
CREATE TABLE payment_orders (
    order_id          uuid PRIMARY KEY,
    client_number     text NOT NULL REFERENCES clients,
    scope             text NOT NULL CHECK (scope IN ('balance', 'documents')),
    invoice_numbers   text[] NOT NULL DEFAULT '{}',
    note_numbers      text[] NOT NULL DEFAULT '{}',
    amount            numeric(14, 2) NOT NULL CHECK (amount > 0),
    status            text NOT NULL
                      CHECK (status IN ('started', 'pending', 'paid', 'cancelled', 'expired')),
    provider_order_id text UNIQUE,
    redirect_uri      text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    paid_at           timestamptz,
    -- Every notification as received (signature verified), duplicates included: the audit.
    notifications     integer NOT NULL DEFAULT 0
);
CREATE INDEX payment_orders_client_idx ON payment_orders (client_number, created_at DESC);
-- At most one open order per client at a time: paying twice while one is pending is refused.
CREATE UNIQUE INDEX payment_orders_one_open_idx ON payment_orders (client_number)
    WHERE status IN ('started', 'pending');
