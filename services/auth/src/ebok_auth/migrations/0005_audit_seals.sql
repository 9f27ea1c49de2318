-- The audit log's chain keyed (ASVS 7.3.4): each row's hash (0004's SHA-256 chain) is sealed
-- with an HMAC under a key from the environment (EBOK_AUDIT_KEYS), never in the database.
-- A database superuser can rewrite rows and recompute the whole SHA-256 chain, but not the
-- seals: `python -m ebok_auth verify-audit` finds every rebuilt row.
--
-- A seal is written by auth in the same transaction as its row (ebok_auth.audit_seal). It
-- covers the row's hash, which covers the row's content and the previous row's hash, so one
-- seal per row seals the chain up to it. key_id names the key (rotation: a new key goes
-- first in EBOK_AUDIT_KEYS; an older key stays listed while rows it sealed are kept).
--
-- Rows written before this migration have no seal: auth seals them at its first start with
-- keys (only while no seal exists at all, and only if their SHA-256 chain is intact).

CREATE TABLE audit_seals (
    row_id bigint PRIMARY KEY REFERENCES audit_log (id) ON DELETE CASCADE,
    key_id text NOT NULL,
    mac    bytea NOT NULL
);

-- Append-only like the log: a seal goes only with its row, when retention removes it.
CREATE FUNCTION audit_seals_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('ebok.audit_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_seals is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_seals_no_update BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION audit_seals_refuse_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION audit_seals_refuse_change();
