-- The security audit log, append-only and tamper-evident (ASVS 7.3.3, 7.3.4), and
-- pseudonymous once an account is erased (GDPR art. 17).
--
-- Pseudonyms: every subject (a client number, an operator's login) is written to the log as
-- a random pseudonym, chosen at its first entry and kept in audit_subjects beside the clear
-- value; "customer:<n>" / "operator:<login>" actors likewise. Erasing an account deletes its
-- audit_subjects row: the log's rows are never touched (they cannot be: append-only), yet
-- nothing in them leads back to the client number any more. The pseudonym is random, not a
-- hash of the number, so it cannot be recomputed from a guessed number either.
--
-- Hash chain: each row stores the SHA-256 of the previous row's hash and its own content;
-- audit_chain_broken() recomputes the chain and names the first row that does not match
-- (a row changed, removed from the middle, or inserted with the triggers disabled).
--
-- Append-only: UPDATE and TRUNCATE are refused for everyone; DELETE only for retention
-- (the transaction sets ebok.audit_retention = 'on') and only of rows older than 30 days by
-- the database's clock, so the latest month cannot be removed through the application. The
-- chain is verified from the oldest row kept.

CREATE TABLE audit_subjects (
    subject   text PRIMARY KEY,         -- the clear client number or operator login
    pseudonym text NOT NULL UNIQUE
);

ALTER TABLE audit_log ADD COLUMN prev_hash bytea, ADD COLUMN row_hash bytea;

CREATE FUNCTION audit_pseudonym(clear text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE found text;
BEGIN
    IF clear IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_subjects (subject, pseudonym)
    VALUES (clear, 'ps-' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 20))
    ON CONFLICT (subject) DO NOTHING;
    SELECT pseudonym INTO found FROM audit_subjects WHERE subject = clear;
    RETURN found;
END $$;

-- "customer:100001" -> "customer:ps-…"; "system", "anonymous", "system:…" stay as they are.
CREATE FUNCTION audit_pseudonymous_actor(actor text) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN split_part(actor, ':', 1) IN ('customer', 'operator')
                THEN split_part(actor, ':', 1) || ':' || audit_pseudonym(substr(actor, strpos(actor, ':') + 1))
                ELSE actor END
$$;

-- One row's hash: its content as stored, chained to the previous row's hash. Times as epoch
-- seconds and jsonb's own normal form: the same row always gives the same text.
CREATE FUNCTION audit_row_hash(prev bytea, r audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(coalesce(prev, '\x'::bytea) || convert_to(concat_ws(chr(31),
        r.id::text, extract(epoch FROM r.occurred_at)::text, r.type, r.actor,
        coalesce(r.subject, chr(30)), coalesce(r.ip, chr(30)), coalesce(r.correlation_id, chr(30)),
        r.details::text), 'UTF8'))
$$;

-- Existing rows: pseudonymised and chained in id order, before the guards exist.
UPDATE audit_log SET subject = audit_pseudonym(subject), actor = audit_pseudonymous_actor(actor);
DO $$
DECLARE r audit_log; prev bytea := NULL;
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        UPDATE audit_log SET prev_hash = prev, row_hash = audit_row_hash(prev, r) WHERE id = r.id
        RETURNING row_hash INTO prev;
    END LOOP;
END $$;

CREATE FUNCTION audit_log_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One writer at a time until commit: ids are taken in chain order and each row links to
    -- the row committed before it.
    PERFORM pg_advisory_xact_lock(x'0EB0CA04'::int);
    NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
    NEW.subject := audit_pseudonym(NEW.subject);
    NEW.actor := audit_pseudonymous_actor(NEW.actor);
    NEW.prev_hash := (SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1);
    NEW.row_hash := audit_row_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END $$;

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('ebok.audit_retention', true) = 'on'
       AND OLD.occurred_at < now() - interval '30 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append();
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- The first row whose stored hash or link does not match the recomputed chain (NULL: intact).
CREATE FUNCTION audit_chain_broken() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT id FROM (
        SELECT id, row_hash, prev_hash,
               lag(row_hash) OVER (ORDER BY id) AS before,
               row_number() OVER (ORDER BY id) AS n,
               audit_row_hash(prev_hash, a) AS recomputed
          FROM audit_log a) chain
     WHERE row_hash IS DISTINCT FROM recomputed OR (n > 1 AND prev_hash IS DISTINCT FROM before)
     ORDER BY id LIMIT 1
$$;

-- The log as operators and exports read it: the clear subject while the account exists.
CREATE VIEW audit_entries AS
SELECT a.id, a.occurred_at, a.type,
       CASE WHEN actor_subject.subject IS NOT NULL
            THEN split_part(a.actor, ':', 1) || ':' || actor_subject.subject
            ELSE a.actor END AS actor,
       coalesce(s.subject, a.subject) AS subject,
       a.subject AS pseudonym, a.ip, a.correlation_id, a.details
  FROM audit_log a
  LEFT JOIN audit_subjects s ON s.pseudonym = a.subject
  LEFT JOIN audit_subjects actor_subject
         ON actor_subject.pseudonym = substr(a.actor, strpos(a.actor, ':') + 1);
