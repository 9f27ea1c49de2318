-- The audit log's insert trigger (0004) made cheaper: every login writes a row, and the
-- trigger was most of the database's work for it. What is stored, and how the chain is
-- hashed and checked, do not change.
--
-- audit_row_hash: the same body, declared STABLE. Its body calls stable functions
-- (concat_ws, extract, convert_to), so declared IMMUTABLE it could not be inlined; called
-- from the trigger, the SQL function was then parsed and planned again in every
-- transaction. STABLE is what it is (the same row always gives the same hash within a
-- statement, and in fact always); nothing indexes it.
CREATE OR REPLACE FUNCTION audit_row_hash(prev bytea, r audit_log) RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT sha256(coalesce(prev, '\x'::bytea) || convert_to(concat_ws(chr(31),
        r.id::text, extract(epoch FROM r.occurred_at)::text, r.type, r.actor,
        coalesce(r.subject, chr(30)), coalesce(r.ip, chr(30)), coalesce(r.correlation_id, chr(30)),
        r.details::text), 'UTF8'))
$$;

-- A subject's pseudonym looked up first (one statement once it exists: nearly always), and
-- made only when missing, as before (a concurrent first entry: ON CONFLICT, then read).
CREATE OR REPLACE FUNCTION audit_pseudonym(clear text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE found text;
BEGIN
    IF clear IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT pseudonym INTO found FROM audit_subjects WHERE subject = clear;
    IF found IS NULL THEN
        INSERT INTO audit_subjects (subject, pseudonym)
        VALUES (clear, 'ps-' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 20))
        ON CONFLICT (subject) DO NOTHING;
        SELECT pseudonym INTO found FROM audit_subjects WHERE subject = clear;
    END IF;
    RETURN found;
END $$;

-- As 0004's, but: the sequence named once (not looked up in the catalogue per row); and an
-- actor who is the subject ("customer:100001" about 100001: every login) takes the
-- subject's pseudonym, looked up once, not twice. Other actors as audit_pseudonymous_actor.
CREATE OR REPLACE FUNCTION audit_log_append() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    clear_subject text := NEW.subject;
    actor_kind text := split_part(NEW.actor, ':', 1);
    actor_clear text;
BEGIN
    -- One writer at a time until commit: ids are taken in chain order and each row links to
    -- the row committed before it.
    PERFORM pg_advisory_xact_lock(x'0EB0CA04'::int);
    NEW.id := nextval('audit_log_id_seq'::regclass);
    NEW.subject := audit_pseudonym(clear_subject);
    IF actor_kind IN ('customer', 'operator') THEN
        actor_clear := substr(NEW.actor, strpos(NEW.actor, ':') + 1);
        NEW.actor := actor_kind || ':' || CASE WHEN actor_clear = clear_subject
                                               THEN NEW.subject
                                               ELSE audit_pseudonym(actor_clear) END;
    END IF;
    NEW.prev_hash := (SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1);
    NEW.row_hash := audit_row_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END $$;
