-- Bookings for sessions whose booking_mode is 'booked' (drop-ins, events):
-- capacity counted in people by ONE conditional UPDATE of session.booked
-- (RUNTIME.md R10), a FIFO waitlist, offers that hold a place until they
-- expire, cancellation with a cut-off, Idempotency-Key replays, and the
-- background job that expires offers and old keys. Runs with
-- search_path = core, public; every function is plpgsql or refers only to
-- 0008 objects.
--
-- session.booked counts the places taken: booked AND offered bookings (an
-- offer holds its place until it is accepted, declined or expires).

-- The server's clock to the microsecond (arrival order on the waitlist),
-- moved by core.test_clock like core.clock().
CREATE FUNCTION booking_now() RETURNS timestamptz LANGUAGE sql VOLATILE AS $$
	SELECT clock_timestamp() + offset_by FROM core.test_clock
$$;

CREATE FUNCTION booking_ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- A programme setting that must be a number in [lo, hi], else `dflt`.
CREATE FUNCTION booking_setting(p_settings jsonb, p_key text, p_dflt numeric, p_lo numeric,
                                p_hi numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN jsonb_typeof(p_settings -> p_key) = 'number'
	             AND (p_settings ->> p_key)::numeric BETWEEN p_lo AND p_hi
	            THEN (p_settings ->> p_key)::numeric ELSE p_dflt END
$$;

-- A booking as the API shows it (never a name: replies are stored for
-- Idempotency-Key replays). With p_position, a waitlisted booking carries
-- its place in the queue (1 = next to be offered).
CREATE FUNCTION booking_json(b core.booking, p_position boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', b.id, 'session_id', b.session_id, 'person_id', b.person_id,
		'status', b.status, 'booked_by', b.booked_by,
		'waitlisted_at', core.booking_ts(b.waitlisted_at),
		'offered_at', core.booking_ts(b.offered_at),
		'offer_expires_at', core.booking_ts(b.offer_expires_at),
		'cancelled_at', core.booking_ts(b.cancelled_at),
		'cancel_reason', b.cancel_reason,
		'created_at', core.booking_ts(b.created_at),
		'updated_at', core.booking_ts(b.updated_at),
		'version', b.version)
	|| CASE WHEN p_position THEN jsonb_build_object('waitlist_position',
		CASE WHEN b.status = 'waitlisted' THEN (
			SELECT count(*) FROM core.booking w
			WHERE w.session_id = b.session_id AND w.status = 'waitlisted'
			  AND (w.waitlisted_at, w.id) <= (b.waitlisted_at, b.id)) END)
	   ELSE '{}'::jsonb END
$$;

-- How `p_staff` reaches the bookings of an organisation's sessions:
-- 'manage' (admin or coordinator: every booking), 'caseload' (facilitator
-- or mentor: bookings of people on their caseload), or NULL.
CREATE FUNCTION booking_reach(p_staff bigint, p_org bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
	WHEN core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[])
		THEN 'manage'
	WHEN core.has_role(p_staff, p_org, ARRAY['facilitator', 'mentor']::core.staff_role[])
		THEN 'caseload'
	END
$$;

-- May `p_staff` act on person `p_person`'s booking in organisation `p_org`?
CREATE FUNCTION booking_person_ok(p_staff bigint, p_org bigint, p_person bigint, p_reach text)
RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT p_reach IS NOT NULL
	   AND EXISTS (SELECT 1 FROM core.person_org po JOIN core.person p ON p.id = po.person_id
	               WHERE po.person_id = p_person AND po.org_id = p_org
	                 AND p.erased_at IS NULL)
	   AND (p_reach = 'manage'
	        OR coalesce(core.person_access(p_staff, p_person), '') = 'caseload')
$$;

-- The booking_check hook's request (include/waymark/hooks.md).
CREATE FUNCTION booking_check_request(p_session bigint, p_person bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'kind', 'booking',
		'programme', jsonb_build_object('id', pr.id, 'type', pr.type,
		                                'time_zone', pr.time_zone, 'settings', pr.settings),
		'cohort', NULL,
		'session', jsonb_build_object('id', s.id, 'starts_at', core.booking_ts(s.starts_at),
		                              'ends_at', core.booking_ts(s.ends_at),
		                              'module', s.module, 'catch_up', s.catch_up),
		'person', jsonb_build_object('id', p.id,
			'age', date_part('year', age(d.today, p.date_of_birth))::int,
			'sex', p.sex, 'is_participant', p.is_participant,
			'custody_status', p.custody_status,
			'expected_release_date', p.expected_release_date,
			'days_to_release', p.expected_release_date - d.today,
			'area', p.area),
		'on', d.today)
	FROM core.session s
	JOIN core.programme pr ON pr.id = s.programme_id
	CROSS JOIN LATERAL (SELECT (core.clock() AT TIME ZONE pr.time_zone)::date AS today) d
	JOIN core.person p ON p.id = p_person
	WHERE s.id = p_session
$$;

-- Refuses a seat clash (exclusion violation on seat_person_free) naming the
-- session the person is already seated at. Called from EXCEPTION handlers.
CREATE FUNCTION booking_raise_clash(p_session bigint, p_person bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	o record;
BEGIN
	SELECT s.id, s.title, pr.time_zone,
	       to_char(s.starts_at AT TIME ZONE pr.time_zone, 'YYYY-MM-DD HH24:MI') AS starts,
	       to_char(s.ends_at AT TIME ZONE pr.time_zone, 'HH24:MI') AS ends
	INTO o
	FROM core.seat st
	JOIN core.session s ON s.id = st.session_id
	JOIN core.programme pr ON pr.id = s.programme_id
	WHERE st.person_id = p_person AND st.active AND st.session_id <> p_session
	  AND st.during && (SELECT during FROM core.session WHERE id = p_session)
	ORDER BY s.starts_at LIMIT 1;
	RAISE EXCEPTION '%', format('core.person_clash|person_id|The person is already expected at session %s "%s" (%s-%s %s) at that time.',
		o.id, o.title, o.starts, o.ends, o.time_zone) USING ERRCODE = 'WM409';
END $$;

-- An active booking seat for a booked person (seat_person_free makes a
-- double booking impossible: 409 core.person_clash naming the session).
CREATE FUNCTION booking_seat(p_session bigint, p_person bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		INSERT INTO core.seat (session_id, person_id, source, during, active)
		SELECT id, p_person, 'booking', during, true FROM core.session WHERE id = p_session
		ON CONFLICT (session_id, person_id) DO UPDATE
			SET source = 'booking', active = true, during = EXCLUDED.during
			WHERE NOT core.seat.active;
	EXCEPTION WHEN exclusion_violation THEN
		PERFORM core.booking_raise_clash(p_session, p_person);
	END;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'core.already_expected|person_id|The person is already expected at this session.'
			USING ERRCODE = 'WM409';
	END IF;
END $$;

-- A place of session `p_session` is free (a booking or an offer ended):
-- the first waitlisted booking (FIFO by waitlisted_at, id) is offered it,
-- and keeps it until offer_expires_at; with nobody waiting (or the session
-- started or cancelled) the place is given back. The caller holds no lock
-- on the session yet; this takes it.
CREATE FUNCTION booking_free_place(p_staff bigint, p_addr inet, p_rid text, p_session bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	s record;
	w core.booking;
BEGIN
	SELECT se.id, se.org_id, se.status, se.starts_at, pr.settings INTO s
	FROM core.session se JOIN core.programme pr ON pr.id = se.programme_id
	WHERE se.id = p_session FOR NO KEY UPDATE OF se;
	IF s.status = 'scheduled' AND s.starts_at > core.clock() THEN
		SELECT * INTO w FROM core.booking
		WHERE session_id = p_session AND status = 'waitlisted'
		ORDER BY waitlisted_at, id LIMIT 1 FOR UPDATE SKIP LOCKED;
		IF FOUND THEN
			UPDATE core.booking SET status = 'offered', offered_at = core.clock(),
			       offer_expires_at = least(core.clock() + make_interval(secs => 3600 *
			           core.booking_setting(s.settings, 'offer_hours', 24, 0.01, 720)),
			                                s.starts_at),
			       updated_at = now(), version = version + 1
			WHERE id = w.id;
			INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
			                        person_id, remote_addr, request_id, detail)
			VALUES (p_staff, s.org_id, 'booking.offer', 'booking', w.id, w.person_id, p_addr,
			        p_rid, jsonb_build_object('fields', jsonb_build_array('status'),
			                                  'to', 'offered'));
			RETURN w.id;
		END IF;
	END IF;
	UPDATE core.session SET booked = booked - 1 WHERE id = p_session AND booked > 0;
	RETURN NULL;
END $$;

-- POST /sessions/{id}/bookings, in one call: replay (Idempotency-Key),
-- scope, facts, non-associations, capacity, waitlist, seat, audit. Returns
--   {"status": 201 | 409, "body": {...}, "replayed": bool}
-- or {"check": <booking_check request>} when the programme's plugin has a
-- booking_check hook (its type is in p_hook_types) and p_checked is false:
-- the server then calls the hook and, if it allows, calls again with
-- p_checked. NULL: no such session in the caller's reach (404).
CREATE FUNCTION booking_create(p_staff bigint, p_addr inet, p_rid text, p_session bigint,
                               p_person bigint, p_key text, p_hook_types text[],
                               p_checked boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	v_hash text := encode(sha256(convert_to(
		'POST /sessions/' || p_session || '/bookings ' || p_person, 'UTF8')), 'hex');
	idem core.idempotency;
	s record;
	v_reach text;
	v_other bigint;
	v_na bigint;
	v_status core.booking_status;
	b core.booking;
	v_code int;
	v_body jsonb;
BEGIN
	IF p_key IS NOT NULL THEN
		SELECT * INTO idem FROM core.idempotency
		WHERE staff_id = p_staff AND key = p_key AND created_at > core.clock() - interval '24 hours';
		IF FOUND THEN
			IF idem.request_hash <> v_hash THEN
				RAISE EXCEPTION 'core.idempotency_mismatch|Idempotency-Key|This Idempotency-Key was used for a different request; use a new key.'
					USING ERRCODE = 'WM422';
			END IF;
			RETURN jsonb_build_object('status', idem.status, 'body', idem.response,
			                          'replayed', true);
		END IF;
	END IF;

	SELECT se.*, pr.type, pr.settings INTO s
	FROM core.session se JOIN core.programme pr ON pr.id = se.programme_id
	WHERE se.id = p_session AND pr.archived_at IS NULL;
	v_reach := CASE WHEN FOUND THEN core.booking_reach(p_staff, s.org_id) END;
	IF v_reach IS NULL THEN
		RETURN NULL;
	END IF;
	IF NOT coalesce(core.booking_person_ok(p_staff, s.org_id, p_person, v_reach), false) THEN
		RAISE EXCEPTION 'core.not_found|person_id|No such person.' USING ERRCODE = 'WM404';
	END IF;
	IF s.booking_mode <> 'booked' THEN
		RAISE EXCEPTION 'core.not_bookable||This session is for an enrolled cohort; it takes no bookings.'
			USING ERRCODE = 'WM409';
	ELSIF s.status <> 'scheduled' THEN
		RAISE EXCEPTION 'core.not_bookable||This session is cancelled.' USING ERRCODE = 'WM409';
	ELSIF s.starts_at <= core.clock() THEN
		RAISE EXCEPTION 'core.not_bookable||This session has already started.'
			USING ERRCODE = 'WM409';
	END IF;
	IF s.type = ANY (p_hook_types) AND NOT p_checked THEN
		RETURN jsonb_build_object('check', core.booking_check_request(p_session, p_person));
	END IF;

	IF p_key IS NOT NULL THEN
		-- Claims the key; a concurrent request with the same key waits here
		-- until this one commits, then replays its answer.
		INSERT INTO core.idempotency AS i (staff_id, key, route, request_hash, status, response)
		VALUES (p_staff, p_key, 'POST /sessions/{id}/bookings', v_hash, 0, '{}')
		ON CONFLICT (staff_id, key) DO UPDATE
			SET route = EXCLUDED.route, request_hash = EXCLUDED.request_hash, status = 0,
			    response = '{}', created_at = now()
			WHERE i.created_at <= core.clock() - interval '24 hours';
		IF NOT FOUND THEN
			SELECT * INTO idem FROM core.idempotency WHERE staff_id = p_staff AND key = p_key;
			IF idem.request_hash <> v_hash THEN
				RAISE EXCEPTION 'core.idempotency_mismatch|Idempotency-Key|This Idempotency-Key was used for a different request; use a new key.'
					USING ERRCODE = 'WM422';
			END IF;
			RETURN jsonb_build_object('status', idem.status, 'body', idem.response,
			                          'replayed', true);
		END IF;
	END IF;

	IF EXISTS (SELECT 1 FROM core.booking WHERE session_id = p_session AND person_id = p_person
	           AND status IN ('booked', 'waitlisted', 'offered')) THEN
		RAISE EXCEPTION 'core.already_booked|person_id|The person is already booked, offered or waitlisted for this session.'
			USING ERRCODE = 'WM409';
	END IF;

	-- Keep apart: anyone booked, offered or seated at the session whom the
	-- organisation records as not to be placed with this person. Refused as
	-- a normal answer (not an exception) so the alert is kept.
	SELECT n.id, CASE WHEN n.person_a = p_person THEN n.person_b ELSE n.person_a END
	INTO v_na, v_other
	FROM core.non_association n
	WHERE n.org_id = s.org_id AND n.ended_at IS NULL AND p_person IN (n.person_a, n.person_b)
	  AND (EXISTS (SELECT 1 FROM core.booking o
	               WHERE o.session_id = p_session AND o.status IN ('booked', 'offered')
	                 AND o.person_id IN (n.person_a, n.person_b) AND o.person_id <> p_person)
	       OR EXISTS (SELECT 1 FROM core.seat st
	                  WHERE st.session_id = p_session AND st.active
	                    AND st.person_id IN (n.person_a, n.person_b)
	                    AND st.person_id <> p_person))
	LIMIT 1;
	IF FOUND THEN
		IF NOT EXISTS (SELECT 1 FROM core.alert
		               WHERE org_id = s.org_id AND kind = 'core.non_association'
		                 AND session_id = p_session AND person_id = p_person
		                 AND resolved_at IS NULL) THEN
			INSERT INTO core.alert (org_id, kind, person_id, session_id, message, detail)
			VALUES (s.org_id, 'core.non_association', p_person, p_session,
			        'A booking was refused: the person is to be kept apart from someone '
			        'already booked on this session.',
			        jsonb_build_object('person_id', p_person, 'other_person_id', v_other,
			                           'non_association_id', v_na, 'session_id', p_session,
			                           'booked_by', p_staff));
		END IF;
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_staff, s.org_id, 'booking.refused', 'session', p_session, p_person, p_addr,
		        p_rid, jsonb_build_object('reason', 'keep_apart'));
		v_code := 409;
		v_body := jsonb_build_object('error', jsonb_build_object(
			'code', 'core.keep_apart', 'field', 'person_id',
			'message', 'This person cannot be booked on this session: someone already booked '
			           'on it is to be kept apart from them. A coordinator has been alerted.'));
	ELSE
		-- The one place capacity is decided (R10): no count, no race.
		UPDATE core.session SET booked = booked + 1
		WHERE id = p_session AND status = 'scheduled'
		  AND (capacity IS NULL OR booked < capacity);
		IF FOUND THEN
			v_status := 'booked';
		ELSIF (SELECT status FROM core.session WHERE id = p_session) <> 'scheduled' THEN
			RAISE EXCEPTION 'core.not_bookable||This session is cancelled.'
				USING ERRCODE = 'WM409';
		ELSE
			v_status := 'waitlisted';
		END IF;
		BEGIN
			INSERT INTO core.booking (session_id, person_id, booked_by, status, waitlisted_at)
			VALUES (p_session, p_person, p_staff, v_status,
			        CASE WHEN v_status = 'waitlisted' THEN core.booking_now() END)
			RETURNING * INTO b;
		EXCEPTION WHEN unique_violation THEN
			RAISE EXCEPTION 'core.already_booked|person_id|The person is already booked, offered or waitlisted for this session.'
				USING ERRCODE = 'WM409';
		END;
		IF v_status = 'booked' THEN
			PERFORM core.booking_seat(p_session, p_person);
		END IF;
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_staff, s.org_id, 'booking.create', 'booking', b.id, p_person, p_addr, p_rid,
		        jsonb_build_object('fields', jsonb_build_array('session_id', 'person_id'),
		                           'status', v_status));
		v_code := 201;
		v_body := core.booking_json(b, false);
	END IF;

	IF p_key IS NOT NULL THEN
		UPDATE core.idempotency SET status = v_code, response = v_body
		WHERE staff_id = p_staff AND key = p_key;
	END IF;
	RETURN jsonb_build_object('status', v_code, 'body', v_body, 'replayed', false);
END $$;

-- The booking `p_id` locked, with what scope needs, or NULL when the caller
-- may not act on it.
CREATE FUNCTION booking_lock(p_staff bigint, p_id bigint, OUT b core.booking,
                             OUT s core.session, OUT settings jsonb, OUT type text,
                             OUT reach text) LANGUAGE plpgsql AS $$
BEGIN
	SELECT * INTO b FROM core.booking WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	SELECT * INTO s FROM core.session WHERE id = b.session_id;
	SELECT pr.settings, pr.type INTO settings, type FROM core.programme pr
	WHERE pr.id = s.programme_id;
	reach := core.booking_reach(p_staff, s.org_id);
	IF NOT coalesce(core.booking_person_ok(p_staff, s.org_id, b.person_id, reach), false) THEN
		reach := NULL;
	END IF;
END $$;

CREATE FUNCTION booking_illegal(p_from core.booking_status, p_to text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '%', format('core.illegal_transition|status|A booking cannot move from %s to %s.',
		p_from, p_to) USING ERRCODE = 'WM409';
END $$;

-- POST /bookings/{id}/cancel. The cut-off (programme setting
-- cancel_cutoff_hours, default 24, before the start) applies to a booked
-- place; past it only an admin or coordinator may cancel, saying late.
-- The freed place is offered to the next on the waitlist in this same
-- transaction.
CREATE FUNCTION booking_cancel(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                               p_reason text, p_late boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	l record;
	v_late boolean := false;
	b core.booking;
BEGIN
	SELECT * INTO l FROM core.booking_lock(p_staff, p_id);
	IF l.reach IS NULL THEN
		RETURN NULL;
	END IF;
	IF (l.b).status NOT IN ('booked', 'waitlisted', 'offered') THEN
		PERFORM core.booking_illegal((l.b).status, 'cancelled');
	END IF;
	IF (l.b).status = 'booked' AND core.clock() > (l.s).starts_at - make_interval(secs => 3600 *
	       core.booking_setting(l.settings, 'cancel_cutoff_hours', 24, 0, 8760)) THEN
		IF l.reach <> 'manage' OR NOT p_late THEN
			RAISE EXCEPTION 'core.past_cutoff|late|The cancellation cut-off for this session has passed; an admin or coordinator may still cancel with "late": true.'
				USING ERRCODE = 'WM422';
		END IF;
		v_late := true;
	END IF;
	UPDATE core.booking SET status = 'cancelled', cancelled_at = core.clock(),
	       cancel_reason = p_reason, updated_at = now(), version = version + 1
	WHERE id = p_id RETURNING * INTO b;
	IF (l.b).status = 'booked' THEN
		UPDATE core.seat SET active = false
		WHERE session_id = b.session_id AND person_id = b.person_id AND source = 'booking';
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, (l.s).org_id, 'booking.cancel', 'booking', p_id, b.person_id, p_addr, p_rid,
	        jsonb_build_object('fields', jsonb_build_array('status', 'cancel_reason'),
	                           'from', (l.b).status, 'late', v_late));
	IF (l.b).status IN ('booked', 'offered') THEN
		PERFORM core.booking_free_place(p_staff, p_addr, p_rid, b.session_id);
	END IF;
	RETURN core.booking_json(b, true);
END $$;

-- POST /bookings/{id}/accept: an offer becomes a booking (its place was
-- held). An offer past its expiry is expired here, the next person offered,
-- and the answer is 409 core.offer_expired — returned, not raised, so that
-- bookkeeping is kept. Same {"status","body"} / {"check"} shape as
-- booking_create.
CREATE FUNCTION booking_accept(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                               p_hook_types text[], p_checked boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	l record;
	b core.booking;
BEGIN
	SELECT * INTO l FROM core.booking_lock(p_staff, p_id);
	IF l.reach IS NULL THEN
		RETURN NULL;
	END IF;
	IF (l.b).status <> 'offered' THEN
		PERFORM core.booking_illegal((l.b).status, 'booked');
	END IF;
	IF (l.b).offer_expires_at <= core.clock() THEN
		PERFORM core.booking_expire(p_staff, p_addr, p_rid, p_id);
		RETURN jsonb_build_object('status', 409, 'replayed', false, 'body',
			jsonb_build_object('error', jsonb_build_object('code', 'core.offer_expired',
				'message', 'The offer expired at ' || core.booking_ts((l.b).offer_expires_at)
				           || '; the place has gone to the next person waiting.')));
	END IF;
	IF l.type = ANY (p_hook_types) AND NOT p_checked THEN
		RETURN jsonb_build_object('check',
		                          core.booking_check_request((l.b).session_id, (l.b).person_id));
	END IF;
	UPDATE core.booking SET status = 'booked', updated_at = now(), version = version + 1
	WHERE id = p_id RETURNING * INTO b;
	PERFORM core.booking_seat(b.session_id, b.person_id);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, (l.s).org_id, 'booking.accept', 'booking', p_id, b.person_id, p_addr, p_rid,
	        jsonb_build_object('fields', jsonb_build_array('status'), 'from', 'offered'));
	RETURN jsonb_build_object('status', 200, 'body', core.booking_json(b, true),
	                          'replayed', false);
END $$;

-- POST /bookings/{id}/decline: the offer is turned down, the next person
-- waiting is offered the place.
CREATE FUNCTION booking_decline(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	l record;
	b core.booking;
BEGIN
	SELECT * INTO l FROM core.booking_lock(p_staff, p_id);
	IF l.reach IS NULL THEN
		RETURN NULL;
	END IF;
	IF (l.b).status <> 'offered' THEN
		PERFORM core.booking_illegal((l.b).status, 'declined');
	END IF;
	UPDATE core.booking SET status = 'declined', updated_at = now(), version = version + 1
	WHERE id = p_id RETURNING * INTO b;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, (l.s).org_id, 'booking.decline', 'booking', p_id, b.person_id, p_addr,
	        p_rid, jsonb_build_object('fields', jsonb_build_array('status'), 'from', 'offered'));
	PERFORM core.booking_free_place(p_staff, p_addr, p_rid, b.session_id);
	RETURN core.booking_json(b, true);
END $$;

-- An offer (locked by the caller) runs out: expired, next person offered.
CREATE FUNCTION booking_expire(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	b core.booking;
BEGIN
	UPDATE core.booking SET status = 'expired', updated_at = now(), version = version + 1
	WHERE id = p_id AND status = 'offered' RETURNING * INTO b;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, s.org_id, 'booking.expire', 'booking', p_id, b.person_id, p_addr, p_rid,
	       jsonb_build_object('fields', jsonb_build_array('status'), 'from', 'offered')
	FROM core.session s WHERE s.id = b.session_id;
	PERFORM core.booking_free_place(p_staff, p_addr, p_rid, b.session_id);
END $$;

-- The job (core/jobs.c, every jobs.interval_ms in every process): expired
-- offers become 'expired' and their places go to the next person waiting.
-- SKIP LOCKED lets several processes run it at once without waiting on
-- each other or handling an offer twice. Returns how many expired.
CREATE FUNCTION booking_expire_offers() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
	n integer := 0;
BEGIN
	FOR v_id IN
		SELECT id FROM core.booking
		WHERE status = 'offered' AND offer_expires_at <= core.clock()
		ORDER BY offer_expires_at, id LIMIT 500
		FOR UPDATE SKIP LOCKED
	LOOP
		PERFORM core.booking_expire(NULL, NULL, 'job', v_id);
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;

-- The job: Idempotency-Keys are remembered for 24 hours.
CREATE FUNCTION idempotency_expire() RETURNS integer LANGUAGE sql AS $$
	WITH d AS (DELETE FROM core.idempotency
	           WHERE created_at <= core.clock() - interval '24 hours' RETURNING 1)
	SELECT count(*)::integer FROM d
$$;

-- Called by the session cancel route (S2, with PERFORM) in its
-- transaction: every live booking of the cancelled session is cancelled
-- (reason 'session cancelled'); its seats were freed by session_sync.
CREATE FUNCTION booking_session_cancelled(p_session bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	WITH c AS (
		UPDATE core.booking SET status = 'cancelled', cancelled_at = core.clock(),
		       cancel_reason = 'session cancelled', updated_at = now(), version = version + 1
		WHERE session_id = p_session AND status IN ('booked', 'waitlisted', 'offered')
		RETURNING id, person_id)
	INSERT INTO core.audit (org_id, action, object_type, object_id, person_id, detail)
	SELECT s.org_id, 'booking.cancel', 'booking', c.id, c.person_id,
	       jsonb_build_object('fields', jsonb_build_array('status'), 'reason',
	                          'session cancelled')
	FROM c, core.session s WHERE s.id = p_session;
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE core.session SET booked = 0 WHERE id = p_session AND booked <> 0;
	UPDATE core.seat SET active = false WHERE session_id = p_session AND source = 'booking';
	RETURN n;
END $$;

-- More places (capacity raised or removed on a session): offer them to
-- the people waiting, in order.
CREATE FUNCTION booking_capacity_grown() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	w core.booking;
BEGIN
	IF NEW.status <> 'scheduled' OR NEW.starts_at <= core.clock()
	   OR (NEW.capacity IS NOT NULL AND OLD.capacity IS NOT NULL
	       AND NEW.capacity <= OLD.capacity) THEN
		RETURN NULL;
	END IF;
	LOOP
		-- SKIP LOCKED: a booking being cancelled right now is not waited
		-- for (its canceller waits for this session row: no deadlock).
		SELECT * INTO w FROM core.booking
		WHERE session_id = NEW.id AND status = 'waitlisted'
		ORDER BY waitlisted_at, id LIMIT 1 FOR UPDATE SKIP LOCKED;
		EXIT WHEN NOT FOUND;
		UPDATE core.session SET booked = booked + 1
		WHERE id = NEW.id AND (capacity IS NULL OR booked < capacity);
		EXIT WHEN NOT FOUND;
		UPDATE core.booking SET status = 'offered', offered_at = core.clock(),
		       offer_expires_at = least(core.clock() + make_interval(secs => 3600 *
		           (SELECT core.booking_setting(pr.settings, 'offer_hours', 24, 0.01, 720)
		            FROM core.programme pr WHERE pr.id = NEW.programme_id)),
		           NEW.starts_at),
		       updated_at = now(), version = version + 1
		WHERE id = w.id;
		INSERT INTO core.audit (org_id, action, object_type, object_id, person_id, detail)
		VALUES (NEW.org_id, 'booking.offer', 'booking', w.id, w.person_id,
		        jsonb_build_object('fields', jsonb_build_array('status'), 'to', 'offered',
		                           'reason', 'capacity'));
	END LOOP;
	RETURN NULL;
END $$;
CREATE TRIGGER booking_capacity_grown AFTER UPDATE OF capacity ON session
	FOR EACH ROW WHEN (NEW.capacity IS DISTINCT FROM OLD.capacity)
	EXECUTE FUNCTION booking_capacity_grown();

-- GET /sessions/{id}/bookings: admins and coordinators see every booking;
-- facilitators and mentors of the organisation only their caseload's.
-- Keyset by id; NULL when the session is out of reach (404).
CREATE FUNCTION booking_list(p_staff bigint, p_addr inet, p_rid text, p_session bigint,
                             p_status text, p_limit integer, p_cursor bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_org bigint;
	v_reach text;
	page jsonb;
	n integer;
BEGIN
	SELECT s.org_id INTO v_org FROM core.session s
	JOIN core.programme pr ON pr.id = s.programme_id AND pr.archived_at IS NULL
	WHERE s.id = p_session;
	v_reach := CASE WHEN v_org IS NOT NULL THEN core.booking_reach(p_staff, v_org) END;
	IF v_reach IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT coalesce(jsonb_agg(core.booking_json(b, true) ORDER BY b.id), '[]'), count(*)
	INTO page, n
	FROM (SELECT * FROM core.booking b
	      WHERE b.session_id = p_session AND b.id > coalesce(p_cursor, 0)
	        AND (p_status IS NULL OR b.status = p_status::core.booking_status)
	        AND (v_reach = 'manage'
	             OR coalesce(core.person_access(p_staff, b.person_id), '') = 'caseload')
	      ORDER BY b.id LIMIT p_limit + 1) b;
	IF n > p_limit THEN
		page := page - p_limit;
		RETURN jsonb_build_object('items', page,
		                          'next_cursor', (page -> (p_limit - 1) ->> 'id'));
	END IF;
	RETURN jsonb_build_object('items', page, 'next_cursor', NULL);
END $$;

-- GET /bookings/{id}.
CREATE FUNCTION booking_get(p_staff bigint, p_addr inet, p_rid text, p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT core.booking_json(b, true)
	FROM core.booking b JOIN core.session s ON s.id = b.session_id
	WHERE b.id = p_id
	  AND core.booking_person_ok(p_staff, s.org_id, b.person_id,
	                             core.booking_reach(p_staff, s.org_id))
$$;
