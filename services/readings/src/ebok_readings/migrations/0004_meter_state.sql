-- What a customer's reading is judged against, without the meter's lock: the first read of a
-- reading recorded by one statement guarded by ``readings_unchanged``. Locking a row gives
-- the statement a transaction id, and so a commit that waits for its WAL flush: on every
-- reading, a second flush besides the one of the reading's own commit (one statement alone
-- locking the meter took 5 ms here, ten times a SELECT of the function's query). The lock
-- there decided nothing: the guarded statement locks the meter again, reads everything
-- again and writes only if the state is still the one judged, so a reading committed
-- meanwhile makes the guard refuse and the reading is decided again in a transaction
-- holding the lock throughout (the only cost of a concurrent reading of the same meter).
-- One query for both: ``readings_meter_to_read`` is this behind the lock (its rows, and so
-- the fingerprint of ``readings_unchanged``, are this function's, column for column).
CREATE FUNCTION readings_meter_state(p_serial text, p_client text, p_read_on date, p_key text)
RETURNS TABLE (
    serial text, kind text, contract_number text, installed_on date, removed_on date,
    client_number text, concluded_on date, terminated_on date,
    window_mode text, window_opens date[], window_closes date[],
    done_id uuid,
    point_ids uuid[], point_values numeric[], point_days date[], point_roles text[],
    live_id uuid, live_billed_at timestamptz
)
LANGUAGE sql STABLE AS $$
    SELECT m.serial, m.kind, m.contract_number, m.installed_on, m.removed_on,
           c.client_number, c.concluded_on, c.terminated_on,
           wm.mode,
           array(SELECT w.opens_on FROM reading_windows w WHERE wm.mode <> 'always'
                  ORDER BY w.opens_on),
           array(SELECT w.closes_on FROM reading_windows w WHERE wm.mode <> 'always'
                  ORDER BY w.opens_on),
           (SELECT r.id FROM readings r WHERE r.client_number = p_client
               AND r.idempotency_key = p_key),
           p.ids, p.vals, p.days, p.roles, l.id, l.billed_at
      FROM meters m
      JOIN contracts c ON c.contract_number = m.contract_number
      JOIN reading_window_mode wm ON wm.id = 1
      CROSS JOIN LATERAL (
          SELECT coalesce(array_agg(r.id ORDER BY r.o), '{}') AS ids,
                 coalesce(array_agg(r.value ORDER BY r.o), '{}') AS vals,
                 coalesce(array_agg(r.read_on ORDER BY r.o), '{}') AS days,
                 coalesce(array_agg(r.role ORDER BY r.o), '{}') AS roles
            FROM (SELECT r.id, r.value, r.read_on, r.role,
                         row_number() OVER (ORDER BY r.read_on,
                             CASE r.role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END,
                             r.submitted_at, r.id) AS o
                    FROM readings r
                   WHERE r.meter_serial = m.serial AND r.status = 'accepted'
                     AND r.superseded_at IS NULL) r
      ) p
      LEFT JOIN LATERAL (
          SELECT r.id, r.billed_at FROM readings r
           WHERE r.meter_serial = m.serial AND r.read_on = p_read_on
             AND r.source = 'customer' AND r.role = 'regular' AND r.status <> 'rejected'
             AND r.superseded_at IS NULL
           ORDER BY r.submitted_at, r.id LIMIT 1
      ) l ON true
     WHERE m.serial = p_serial
$$;

CREATE OR REPLACE FUNCTION readings_meter_to_read(p_serial text, p_client text, p_read_on date,
                                                  p_key text)
RETURNS TABLE (
    serial text, kind text, contract_number text, installed_on date, removed_on date,
    client_number text, concluded_on date, terminated_on date,
    window_mode text, window_opens date[], window_closes date[],
    done_id uuid,
    point_ids uuid[], point_values numeric[], point_days date[], point_roles text[],
    live_id uuid, live_billed_at timestamptz
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM 1 FROM meters m WHERE m.serial = p_serial FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- A statement of its own: its snapshot is taken after the lock (READ COMMITTED).
    RETURN QUERY SELECT * FROM readings_meter_state(p_serial, p_client, p_read_on, p_key);
END
$$;
