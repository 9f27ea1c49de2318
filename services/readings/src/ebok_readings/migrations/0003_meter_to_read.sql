-- What a customer's reading is judged against, read in one round trip where it took two (a
-- statement locking the meter, then one reading its registers): the meter locked, then, on
-- a snapshot taken after the lock (each statement of a PL/pgSQL function takes its own
-- under READ COMMITTED), the meter and its contract, the reading window's configuration,
-- the reading already recorded under the request's idempotency key, the meter's accepted
-- live registers in register order and the customer's live reading of ``p_read_on``. The
-- readings of a meter stay decided one at a time: a reading committed while this waited
-- for the lock is among the registers it returns.
CREATE FUNCTION readings_meter_to_read(p_serial text, p_client text, p_read_on date, p_key text)
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
    RETURN QUERY
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
     WHERE m.serial = p_serial;
END
$$;

-- Whether what ``readings_meter_to_read`` returns is still what it returned when a reading
-- was judged (``p_fingerprint``: the md5 of that row's text, as the service read it): the
-- meter locked again and everything read again after the lock. A reading recorded by one
-- statement guarded by this (the lock held to its end) was judged on the meter's state
-- of the moment it is written, as if the lock had been held all along.
CREATE FUNCTION readings_unchanged(p_serial text, p_client text, p_read_on date, p_key text,
                                   p_fingerprint text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM readings_meter_to_read(p_serial, p_client, p_read_on, p_key) c
                    WHERE md5(c::text) = p_fingerprint);
END
$$;
