-- What a customer's reading is judged against, without the meter's whole history: of its
-- accepted live registers (the customer's live reading of the day left out, which the new
-- one replaces) only those the rules read (ebok_readings.readings.domain.judge: the
-- registers around the day, the last one before it, and the two a baseline over
-- ``p_window_days`` is drawn between) where 0003/0004 aggregated every one (their arrays,
-- sorted and hashed into the fingerprint twice a reading, grew with the meter's age: 40
-- registers were half of the read's cost). Those are, in register order:
--   * the first register of all (the baseline's start when none is older than the window);
--   * the last register on or before the window's start (``u`` - ``p_window_days``), where
--     ``u`` is the day of the last register before the reading's day (or the day itself);
--   * every register from ``u`` to the day: the last one before the day and its day's
--     others, and the day's own (the register just before the reading, and the one just
--     after it if it is the day's final one);
--   * the first register after the day (else the one just after the reading).
-- Judged on these, the rules find what they find on all registers (each thing they look up
-- is the last or first register with some key, and that register is among these;
-- tests/readings/test_meter_to_read.py compares the two on random histories).
-- New functions beside 0003/0004's (one more argument, the window): the release before this
-- one calls those, and keeps working during a rollout; a later release drops them.
CREATE FUNCTION readings_meter_state(p_serial text, p_client text, p_read_on date, p_key text,
                                     p_window_days int)
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
      LEFT JOIN LATERAL (
          SELECT r.id, r.billed_at FROM readings r
           WHERE r.meter_serial = m.serial AND r.read_on = p_read_on
             AND r.source = 'customer' AND r.role = 'regular' AND r.status <> 'rejected'
             AND r.superseded_at IS NULL
           ORDER BY r.submitted_at, r.id LIMIT 1
      ) l ON true
      CROSS JOIN LATERAL (
          SELECT coalesce(max(r.read_on), p_read_on) AS day FROM readings r
           WHERE r.meter_serial = m.serial AND r.read_on < p_read_on
             AND r.status = 'accepted' AND r.superseded_at IS NULL
      ) u
      CROSS JOIN LATERAL (
          SELECT coalesce(array_agg(s.id ORDER BY s.read_on, s.o, s.submitted_at, s.id), '{}')
                     AS ids,
                 coalesce(array_agg(s.value ORDER BY s.read_on, s.o, s.submitted_at, s.id), '{}')
                     AS vals,
                 coalesce(array_agg(s.read_on ORDER BY s.read_on, s.o, s.submitted_at, s.id),
                          '{}') AS days,
                 coalesce(array_agg(s.role ORDER BY s.read_on, s.o, s.submitted_at, s.id), '{}')
                     AS roles
            FROM (
                (SELECT r.id, r.value, r.read_on, r.role, r.submitted_at,
                        CASE r.role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END AS o
                   FROM readings r
                  WHERE r.meter_serial = m.serial AND r.status = 'accepted'
                    AND r.superseded_at IS NULL AND r.id IS DISTINCT FROM l.id
                  ORDER BY r.read_on, o, r.submitted_at, r.id LIMIT 1)
                UNION
                (SELECT r.id, r.value, r.read_on, r.role, r.submitted_at,
                        CASE r.role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END AS o
                   FROM readings r
                  WHERE r.meter_serial = m.serial AND r.status = 'accepted'
                    AND r.superseded_at IS NULL AND r.id IS DISTINCT FROM l.id
                    AND r.read_on <= u.day - p_window_days
                  ORDER BY r.read_on DESC, o DESC, r.submitted_at DESC, r.id DESC LIMIT 1)
                UNION
                SELECT r.id, r.value, r.read_on, r.role, r.submitted_at,
                       CASE r.role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END
                  FROM readings r
                 WHERE r.meter_serial = m.serial AND r.status = 'accepted'
                   AND r.superseded_at IS NULL AND r.id IS DISTINCT FROM l.id
                   AND r.read_on BETWEEN u.day AND p_read_on
                UNION
                (SELECT r.id, r.value, r.read_on, r.role, r.submitted_at,
                        CASE r.role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END AS o
                   FROM readings r
                  WHERE r.meter_serial = m.serial AND r.status = 'accepted'
                    AND r.superseded_at IS NULL AND r.read_on > p_read_on
                  ORDER BY r.read_on, o, r.submitted_at, r.id LIMIT 1)
            ) s
      ) p
     WHERE m.serial = p_serial
$$;

-- 0004's locked read, of the registers above.
CREATE FUNCTION readings_meter_to_read(p_serial text, p_client text, p_read_on date,
                                       p_key text, p_window_days int)
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
    RETURN QUERY SELECT * FROM readings_meter_state(p_serial, p_client, p_read_on, p_key,
                                                    p_window_days);
END
$$;

-- 0003's guard, of the registers above.
CREATE FUNCTION readings_unchanged(p_serial text, p_client text, p_read_on date, p_key text,
                                   p_window_days int, p_fingerprint text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM readings_meter_to_read(p_serial, p_client, p_read_on, p_key,
                                                        p_window_days) c
                    WHERE md5(c::text) = p_fingerprint);
END
$$;
