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

-- As booking_reach, for one session: a facilitator or mentor reaches only
-- the sessions they can see (0010's core.session_sees: they staff it or its
-- programme), the same answer as GET /sessions/{id}. plpgsql: session_sees
-- belongs to another migration.
CREATE FUNCTION booking_session_reach(p_staff bigint, p_org bigint, p_programme bigint,
                                      p_session bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v text := core.booking_reach(p_staff, p_org);
BEGIN
	IF v = 'caseload' AND NOT core.session_sees(p_staff, p_org, p_programme, p_session) THEN
		RETURN NULL;
	END IF;
	RETURN v;
END $$;

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

-- Refuses a seat clash (exclusion violation on seat_person_free). The
-- session the person is already seated at is named (id, title, local time)
-- only to an admin or coordinator of the organisation that runs it; anyone
-- else — another organisation holding the same person, a facilitator or
-- mentor — learns only that there is another session at that time.
-- Called from EXCEPTION handlers.
CREATE FUNCTION booking_raise_clash(p_staff bigint, p_session bigint, p_person bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	o record;
BEGIN
	SELECT s.id, s.org_id, s.title, pr.time_zone,
	       to_char(s.starts_at AT TIME ZONE pr.time_zone, 'YYYY-MM-DD HH24:MI') AS starts,
	       to_char(s.ends_at AT TIME ZONE pr.time_zone, 'HH24:MI') AS ends
	INTO o
	FROM core.seat st
	JOIN core.session s ON s.id = st.session_id
	JOIN core.programme pr ON pr.id = s.programme_id
	WHERE st.person_id = p_person AND st.active AND st.session_id <> p_session
	  AND st.during && (SELECT during FROM core.session WHERE id = p_session)
	ORDER BY s.starts_at LIMIT 1;
	IF o.id IS NOT NULL AND core.has_role(p_staff, o.org_id,
	                                      ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		RAISE EXCEPTION '%', format('core.person_clash|person_id|The person is already expected at session %s "%s" (%s-%s %s) at that time.',
			o.id, o.title, o.starts, o.ends, o.time_zone) USING ERRCODE = 'WM409';
	END IF;
	RAISE EXCEPTION 'core.person_clash|person_id|The person is already expected at another session at an overlapping time.'
		USING ERRCODE = 'WM409';
END $$;

-- An active booking seat for a booked person (seat_person_free makes a
-- double booking impossible: 409 core.person_clash).
CREATE FUNCTION booking_seat(p_staff bigint, p_session bigint, p_person bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		INSERT INTO core.seat (session_id, person_id, source, during, active)
		SELECT id, p_person, 'booking', during, true FROM core.session WHERE id = p_session
		ON CONFLICT (session_id, person_id) DO UPDATE
			SET source = 'booking', active = true, during = EXCLUDED.during
			WHERE NOT core.seat.active;
	EXCEPTION WHEN exclusion_violation THEN
		PERFORM core.booking_raise_clash(p_staff, p_session, p_person);
	END;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'core.already_expected|person_id|The person is already expected at this session.'
			USING ERRCODE = 'WM409';
	END IF;
END $$;

-- Keep apart: the live non-association (and the other person) that the
-- organisation records between `p_person` and someone at the session —
-- a booking in one of `p_statuses`, or an active seat. No row: none.
CREATE FUNCTION booking_apart(p_org bigint, p_session bigint, p_person bigint,
                              p_statuses core.booking_status[], OUT na bigint, OUT other bigint)
LANGUAGE sql STABLE AS $$
	SELECT n.id, CASE WHEN n.person_a = p_person THEN n.person_b ELSE n.person_a END
	FROM core.non_association n
	WHERE n.org_id = p_org AND n.ended_at IS NULL AND p_person IN (n.person_a, n.person_b)
	  AND (EXISTS (SELECT 1 FROM core.booking o
	               WHERE o.session_id = p_session AND o.status = ANY (p_statuses)
	                 AND o.person_id IN (n.person_a, n.person_b) AND o.person_id <> p_person)
	       OR EXISTS (SELECT 1 FROM core.seat st
	                  WHERE st.session_id = p_session AND st.active
	                    AND st.person_id IN (n.person_a, n.person_b)
	                    AND st.person_id <> p_person))
	ORDER BY n.id LIMIT 1
$$;

-- An alert for the organisation's coordinators that `p_person` was kept
-- apart from `p_other` at a session (both ids in detail, never in the
-- message). One open alert per person and session: raised once.
CREATE FUNCTION booking_alert_apart(p_staff bigint, p_org bigint, p_session bigint,
                                    p_person bigint, p_other bigint, p_na bigint, p_via text,
                                    p_message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM core.alert
	               WHERE org_id = p_org AND kind = 'core.non_association'
	                 AND session_id = p_session AND person_id = p_person
	                 AND resolved_at IS NULL) THEN
		INSERT INTO core.alert (org_id, kind, person_id, session_id, message, detail)
		VALUES (p_org, 'core.non_association', p_person, p_session, p_message,
		        jsonb_build_object('person_id', p_person, 'other_person_id', p_other,
		                           'non_association_id', p_na, 'session_id', p_session,
		                           'booked_by', p_staff, 'via', p_via));
	END IF;
END $$;

-- The 409 core.keep_apart answer: names nobody.
CREATE FUNCTION booking_apart_reply(p_message text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('status', 409, 'replayed', false, 'body',
		jsonb_build_object('error', jsonb_build_object(
			'code', 'core.keep_apart', 'field', 'person_id', 'message', p_message)))
$$;

-- Offers a place of session `s` (locked by the caller, scheduled, not
-- started) to the first person waiting (FIFO by waitlisted_at, id) who is
-- not to be kept apart from anyone booked, offered or seated there. People
-- passed over stay on the waitlist (their turn comes when that changes)
-- and the coordinators are alerted, once. Returns the booking offered, or
-- NULL when nobody may have the place. `p_via` says why ('capacity') in
-- the audit when a person did not free the place.
CREATE FUNCTION booking_offer_next(p_staff bigint, p_addr inet, p_rid text, s core.session,
                                   p_via text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	w core.booking;
	a record;
	v_hours numeric;
BEGIN
	SELECT core.booking_setting(pr.settings, 'offer_hours', 24, 0.01, 720) INTO v_hours
	FROM core.programme pr WHERE pr.id = s.programme_id;
	FOR w IN SELECT * FROM core.booking
	         WHERE session_id = s.id AND status = 'waitlisted'
	         ORDER BY waitlisted_at, id FOR UPDATE
	LOOP
		SELECT * INTO a FROM core.booking_apart(s.org_id, s.id, w.person_id,
		                                        ARRAY['booked', 'offered']::core.booking_status[]);
		IF a.na IS NOT NULL THEN
			PERFORM core.booking_alert_apart(p_staff, s.org_id, s.id, w.person_id, a.other,
				a.na, 'offer',
				'A freed place was not offered to this person: they are to be kept apart from '
				'someone booked on this session. They stay on the waitlist.');
			CONTINUE;
		END IF;
		UPDATE core.booking SET status = 'offered', offered_at = core.clock(),
		       offer_expires_at = least(core.clock() + make_interval(secs => 3600 * v_hours),
		                                s.starts_at),
		       updated_at = now(), version = version + 1
		WHERE id = w.id;
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_staff, s.org_id, 'booking.offer', 'booking', w.id, w.person_id, p_addr, p_rid,
		        jsonb_build_object('fields', jsonb_build_array('status'), 'to', 'offered')
		        || CASE WHEN p_via IS NOT NULL THEN jsonb_build_object('via', p_via)
		           ELSE '{}'::jsonb END);
		RETURN w.id;
	END LOOP;
	RETURN NULL;
END $$;

-- Locks session `p_session` for a change to its bookings. Every path that
-- locks a session and its bookings takes the session row first (as the
-- session cancel and PATCH do), then the bookings: two of them never hold
-- what the other waits for.
CREATE FUNCTION booking_lock_session(p_session bigint) RETURNS core.session
LANGUAGE sql AS $$
	SELECT * FROM core.session WHERE id = p_session FOR NO KEY UPDATE
$$;

-- A place of session `p_session` is free (a booking or an offer ended):
-- offered to the next person waiting who may have it (booking_offer_next),
-- who keeps it until offer_expires_at; with nobody (or the session started
-- or cancelled) the place is given back. The caller holds the session row.
CREATE FUNCTION booking_free_place(p_staff bigint, p_addr inet, p_rid text, p_session bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	s core.session := core.booking_lock_session(p_session);
	v bigint;
BEGIN
	IF s.status = 'scheduled' AND s.starts_at > core.clock() THEN
		v := core.booking_offer_next(p_staff, p_addr, p_rid, s, NULL);
		IF v IS NOT NULL THEN
			RETURN v;
		END IF;
	END IF;
	UPDATE core.session SET booked = booked - 1 WHERE id = p_session AND booked > 0;
	RETURN NULL;
END $$;

-- POST /sessions/{id}/bookings, in one call: scope, replay
-- (Idempotency-Key), facts, non-associations, capacity, waitlist, seat,
-- audit. Returns
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
	l core.session;
	v_reach text;
	a record;
	v_status core.booking_status;
	b core.booking;
	v_code int;
	v_body jsonb;
BEGIN
	-- Scope first: a stored answer is replayed only to someone who may
	-- still see the session and the person.
	SELECT se.*, pr.type, pr.settings INTO s
	FROM core.session se JOIN core.programme pr ON pr.id = se.programme_id
	WHERE se.id = p_session AND pr.archived_at IS NULL;
	v_reach := CASE WHEN FOUND THEN
		core.booking_session_reach(p_staff, s.org_id, s.programme_id, s.id) END;
	IF v_reach IS NULL THEN
		RETURN NULL;
	END IF;
	IF NOT coalesce(core.booking_person_ok(p_staff, s.org_id, p_person, v_reach), false) THEN
		RAISE EXCEPTION 'core.not_found|person_id|No such person.' USING ERRCODE = 'WM404';
	END IF;

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
		-- until this one commits, then replays its answer. Keys are aged by
		-- core.clock(), as they are looked up and expired.
		INSERT INTO core.idempotency AS i (staff_id, key, route, request_hash, status, response,
		                                   created_at)
		VALUES (p_staff, p_key, 'POST /sessions/{id}/bookings', v_hash, 0, '{}', core.clock())
		ON CONFLICT (staff_id, key) DO UPDATE
			SET route = EXCLUDED.route, request_hash = EXCLUDED.request_hash, status = 0,
			    response = '{}', created_at = EXCLUDED.created_at
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

	-- The session row, locked (after the key, never before: a request with
	-- the same key waits on the key holding nothing): bookings of this
	-- session are decided one at a time from here, so the keep-apart check
	-- below cannot miss a booking being made concurrently.
	l := core.booking_lock_session(p_session);
	IF l.status <> 'scheduled' THEN
		RAISE EXCEPTION 'core.not_bookable||This session is cancelled.' USING ERRCODE = 'WM409';
	ELSIF l.starts_at <= core.clock() THEN
		RAISE EXCEPTION 'core.not_bookable||This session has already started.'
			USING ERRCODE = 'WM409';
	END IF;

	IF EXISTS (SELECT 1 FROM core.booking WHERE session_id = p_session AND person_id = p_person
	           AND status IN ('booked', 'waitlisted', 'offered')) THEN
		RAISE EXCEPTION 'core.already_booked|person_id|The person is already booked, offered or waitlisted for this session.'
			USING ERRCODE = 'WM409';
	END IF;

	-- Keep apart: anyone booked, offered, waitlisted (an offer would bring
	-- them together later) or seated at the session whom the organisation
	-- records as not to be placed with this person. Refused as a normal
	-- answer (not an exception) so the alert is kept.
	SELECT * INTO a FROM core.booking_apart(s.org_id, p_session, p_person,
		ARRAY['booked', 'offered', 'waitlisted']::core.booking_status[]);
	IF a.na IS NOT NULL THEN
		PERFORM core.booking_alert_apart(p_staff, s.org_id, p_session, p_person, a.other, a.na,
			'booking',
			'A booking was refused: the person is to be kept apart from someone already '
			'booked or waiting for this session.');
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_staff, s.org_id, 'booking.refused', 'session', p_session, p_person, p_addr,
		        p_rid, jsonb_build_object('reason', 'keep_apart'));
		v_code := 409;
		v_body := core.booking_apart_reply(
			'This person cannot be booked on this session: someone already booked or waiting '
			'for it is to be kept apart from them. A coordinator has been alerted.') -> 'body';
	ELSE
		-- The one place capacity is decided (R10): no count, no race.
		UPDATE core.session SET booked = booked + 1
		WHERE id = p_session AND (capacity IS NULL OR booked < capacity);
		v_status := CASE WHEN FOUND THEN 'booked' ELSE 'waitlisted' END;
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
			PERFORM core.booking_seat(p_staff, p_session, p_person);
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

-- The booking `p_id` with what scope needs, its session row locked first
-- and then the booking (booking_lock_session), or reach NULL when the
-- caller may not act on it (nothing locked).
CREATE FUNCTION booking_lock(p_staff bigint, p_id bigint, OUT b core.booking,
                             OUT s core.session, OUT settings jsonb, OUT type text,
                             OUT reach text) LANGUAGE plpgsql AS $$
BEGIN
	SELECT * INTO b FROM core.booking WHERE id = p_id;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	SELECT * INTO s FROM core.session WHERE id = b.session_id;
	reach := core.booking_session_reach(p_staff, s.org_id, s.programme_id, s.id);
	IF NOT coalesce(core.booking_person_ok(p_staff, s.org_id, b.person_id, reach), false) THEN
		reach := NULL;
		RETURN;
	END IF;
	s := core.booking_lock_session(b.session_id);
	SELECT * INTO b FROM core.booking WHERE id = p_id FOR UPDATE;
	SELECT pr.settings, pr.type INTO settings, type FROM core.programme pr
	WHERE pr.id = s.programme_id;
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
-- held). Refused once the session has started or been cancelled (409
-- core.not_bookable). An offer past its expiry is expired here, the next
-- person offered, and the answer is 409 core.offer_expired; a person now
-- to be kept apart from someone booked or offered there is refused 409
-- core.keep_apart (naming nobody; the offer stands until it expires or is
-- declined, and a coordinator is alerted) — both returned, not raised, so
-- that the bookkeeping and the alert are kept. Same {"status","body"} /
-- {"check"} shape as booking_create.
CREATE FUNCTION booking_accept(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                               p_hook_types text[], p_checked boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	l record;
	a record;
	b core.booking;
BEGIN
	SELECT * INTO l FROM core.booking_lock(p_staff, p_id);
	IF l.reach IS NULL THEN
		RETURN NULL;
	END IF;
	IF (l.b).status <> 'offered' THEN
		PERFORM core.booking_illegal((l.b).status, 'booked');
	END IF;
	IF (l.s).status <> 'scheduled' THEN
		RAISE EXCEPTION 'core.not_bookable||This session is cancelled.' USING ERRCODE = 'WM409';
	ELSIF (l.s).starts_at <= core.clock() THEN
		RAISE EXCEPTION 'core.not_bookable||This session has already started.'
			USING ERRCODE = 'WM409';
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
	SELECT * INTO a FROM core.booking_apart((l.s).org_id, (l.s).id, (l.b).person_id,
	                                        ARRAY['booked', 'offered']::core.booking_status[]);
	IF a.na IS NOT NULL THEN
		PERFORM core.booking_alert_apart(p_staff, (l.s).org_id, (l.s).id, (l.b).person_id,
			a.other, a.na, 'accept',
			'An offered place could not be accepted: the person is to be kept apart from '
			'someone booked on this session.');
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_staff, (l.s).org_id, 'booking.refused', 'booking', p_id, (l.b).person_id,
		        p_addr, p_rid, jsonb_build_object('reason', 'keep_apart', 'via', 'accept'));
		RETURN core.booking_apart_reply(
			'This offer cannot be accepted: someone booked on this session is to be kept apart '
			'from this person. A coordinator has been alerted.');
	END IF;
	UPDATE core.booking SET status = 'booked', updated_at = now(), version = version + 1
	WHERE id = p_id RETURNING * INTO b;
	PERFORM core.booking_seat(p_staff, b.session_id, b.person_id);
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

-- An offer runs out: expired, next person offered. The caller holds the
-- session row and then the booking.
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
-- Session rows first, in id order, then their offers (the lock order of
-- every booking path); SKIP LOCKED on both, so several processes run it at
-- once without waiting on each other or on a request (a session busy now
-- is taken on the next run) and no offer is handled twice. Returns how
-- many expired.
CREATE FUNCTION booking_expire_offers() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	v_session bigint;
	v_id bigint;
	n integer := 0;
BEGIN
	FOR v_session IN
		SELECT s.id FROM core.session s
		WHERE s.id IN (SELECT o.session_id FROM core.booking o
		               WHERE o.status = 'offered' AND o.offer_expires_at <= core.clock())
		ORDER BY s.id LIMIT 100
		FOR NO KEY UPDATE OF s SKIP LOCKED
	LOOP
		FOR v_id IN
			SELECT id FROM core.booking
			WHERE session_id = v_session AND status = 'offered'
			  AND offer_expires_at <= core.clock()
			ORDER BY offer_expires_at, id
			FOR UPDATE SKIP LOCKED
		LOOP
			PERFORM core.booking_expire(NULL, NULL, 'job', v_id);
			n := n + 1;
		END LOOP;
	END LOOP;
	RETURN n;
END $$;

-- The job: Idempotency-Keys are remembered for 24 hours.
CREATE FUNCTION idempotency_expire() RETURNS integer LANGUAGE sql AS $$
	WITH d AS (DELETE FROM core.idempotency
	           WHERE created_at <= core.clock() - interval '24 hours' RETURNING 1)
	SELECT count(*)::integer FROM d
$$;

-- Every live booking of a cancelled session is cancelled (reason 'session
-- cancelled'); its booking seats are freed. The session row is locked
-- first (the caller's cancel already holds it). Audited with the actor
-- when the caller knows it, and {"via": "session_cancel"} always.
CREATE FUNCTION booking_session_cancelled(p_session bigint, p_staff bigint, p_addr inet,
                                          p_rid text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	s core.session := core.booking_lock_session(p_session);
	n integer;
BEGIN
	WITH c AS (
		UPDATE core.booking SET status = 'cancelled', cancelled_at = core.clock(),
		       cancel_reason = 'session cancelled', updated_at = now(), version = version + 1
		WHERE session_id = p_session AND status IN ('booked', 'waitlisted', 'offered')
		RETURNING id, person_id)
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, s.org_id, 'booking.cancel', 'booking', c.id, c.person_id, p_addr, p_rid,
	       jsonb_build_object('fields', jsonb_build_array('status'), 'reason',
	                          'session cancelled', 'via', 'session_cancel')
	FROM c;
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE core.session SET booked = 0 WHERE id = p_session AND booked <> 0;
	UPDATE core.seat SET active = false WHERE session_id = p_session AND source = 'booking';
	RETURN n;
END $$;

-- The form S2's session cancel and P's closures call (with PERFORM, in
-- their transaction; they pass the session only, so no actor is recorded).
CREATE FUNCTION booking_session_cancelled(p_session bigint) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
	RETURN core.booking_session_cancelled(p_session, NULL::bigint, NULL::inet, NULL::text);
END $$;

-- More places (capacity raised or removed on a session): offer them to
-- the people waiting who may have them, in order. A trigger: the session
-- row is already locked by the UPDATE, the bookings come after it; the
-- actor is not known here (audited with {"via": "capacity"}).
CREATE FUNCTION booking_capacity_grown() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status <> 'scheduled' OR NEW.starts_at <= core.clock()
	   OR (NEW.capacity IS NOT NULL AND OLD.capacity IS NOT NULL
	       AND NEW.capacity <= OLD.capacity) THEN
		RETURN NULL;
	END IF;
	LOOP
		UPDATE core.session SET booked = booked + 1
		WHERE id = NEW.id AND (capacity IS NULL OR booked < capacity);
		EXIT WHEN NOT FOUND;
		IF core.booking_offer_next(NULL, NULL, NULL, NEW, 'capacity') IS NULL THEN
			UPDATE core.session SET booked = booked - 1 WHERE id = NEW.id;
			EXIT;
		END IF;
	END LOOP;
	RETURN NULL;
END $$;
CREATE TRIGGER booking_capacity_grown AFTER UPDATE OF capacity ON session
	FOR EACH ROW WHEN (NEW.capacity IS DISTINCT FROM OLD.capacity)
	EXECUTE FUNCTION booking_capacity_grown();

-- GET /sessions/{id}/bookings: admins and coordinators see every booking;
-- facilitators and mentors who can see the session only their caseload's.
-- Keyset by id; NULL when the session is out of reach (404).
CREATE FUNCTION booking_list(p_staff bigint, p_addr inet, p_rid text, p_session bigint,
                             p_status text, p_limit integer, p_cursor bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	s record;
	v_reach text;
	page jsonb;
	n integer;
BEGIN
	SELECT se.id, se.org_id, se.programme_id INTO s FROM core.session se
	JOIN core.programme pr ON pr.id = se.programme_id AND pr.archived_at IS NULL
	WHERE se.id = p_session;
	v_reach := CASE WHEN FOUND THEN
		core.booking_session_reach(p_staff, s.org_id, s.programme_id, s.id) END;
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

-- GET /bookings/{id}: as the list, for one booking.
CREATE FUNCTION booking_get(p_staff bigint, p_addr inet, p_rid text, p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT core.booking_json(b, true)
	FROM core.booking b JOIN core.session s ON s.id = b.session_id
	WHERE b.id = p_id
	  AND core.booking_person_ok(p_staff, s.org_id, b.person_id,
	                             core.booking_session_reach(p_staff, s.org_id, s.programme_id,
	                                                        s.id))
$$;
