-- Who changed each tariff and when (issue #13: rate tables and tariffs, each change with who
-- and when), and every change kept: a replaced tariff's former prices stay in the history.
ALTER TABLE tariffs
    ADD COLUMN changed_by text NOT NULL DEFAULT 'packaged',
    ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE tariff_changes (
    id               bigserial PRIMARY KEY,
    tariff_group     text NOT NULL,
    valid_from       date NOT NULL,
    water_price      numeric(10, 4) NOT NULL,
    sewage_price     numeric(10, 4) NOT NULL,
    subscription_fee numeric(14, 2) NOT NULL,
    vat_rate         numeric(5, 2) NOT NULL,
    replaced         boolean NOT NULL,  -- false: a new tariff; true: prices of that day changed
    changed_by       text NOT NULL,
    changed_at       timestamptz NOT NULL
);
CREATE INDEX tariff_changes_recent_idx ON tariff_changes (id DESC);
