-- Sessions and series (issue 4): one-off sessions, recurring series laid
-- out from an RRULE expanded by libical in C (core/recur.c), who runs each
-- session, moving, cancelling and restaffing one. Runs after 0008 with
-- search_path = core, public.
--
-- The clash rules are 0008's exclusion constraints; the functions here
-- catch their violations and re-raise them naming the other session, so a
-- coordinator sees what is in the way (only when the caller manages the
-- other session's organisation: a staff member or participant shared with
-- another organisation says nothing about it).

-- Optimistic concurrency for PATCH /sessions/{id} (sequence is the
-- calendar's, bumped only for changes a calendar user cares about).
ALTER TABLE session ADD COLUMN version integer NOT NULL DEFAULT 1;
CREATE INDEX session_series ON session (series_id, starts_at) WHERE series_id IS NOT NULL;

-- --- Scope ---------------------------------------------------------------

-- Admins and coordinators of the session's organisation, for a programme
-- not archived.
CREATE FUNCTION session_manages(p_staff bigint, p_session bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM core.session s
	               JOIN core.programme pr ON pr.id = s.programme_id AND pr.archived_at IS NULL
	               WHERE s.id = p_session
	                 AND core.has_role(p_staff, s.org_id,
	                                   ARRAY['admin', 'coordinator']::core.staff_role[]))
$$;

-- Who may read a session: its organisation's admins and coordinators; its
-- facilitators and mentors when they staff it or are on the programme's
-- staff list. Commissioners never (the routes refuse them anyway).
CREATE FUNCTION session_sees(p_staff bigint, p_org bigint, p_programme bigint, p_session bigint)
RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[])
	    OR (core.has_role(p_staff, p_org, ARRAY['facilitator', 'mentor']::core.staff_role[])
	        AND (EXISTS (SELECT 1 FROM core.session_staff ss
	                     WHERE ss.session_id = p_session AND ss.staff_id = p_staff)
	             OR EXISTS (SELECT 1 FROM core.programme_staff ps
	                        WHERE ps.programme_id = p_programme AND ps.staff_id = p_staff)))
$$;

CREATE FUNCTION session_visible(p_staff bigint, p_session bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM core.session s
	               JOIN core.programme pr ON pr.id = s.programme_id AND pr.archived_at IS NULL
	               WHERE s.id = p_session
	                 AND core.session_sees(p_staff, s.org_id, s.programme_id, s.id))
$$;

-- A series: as its sessions, through any of them or the programme.
CREATE FUNCTION series_visible(p_staff bigint, p_series bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM core.series sr
	               JOIN core.programme pr ON pr.id = sr.programme_id AND pr.archived_at IS NULL
	               WHERE sr.id = p_series
	                 AND (core.has_role(p_staff, pr.org_id,
	                                    ARRAY['admin', 'coordinator']::core.staff_role[])
	                      OR (core.has_role(p_staff, pr.org_id,
	                                        ARRAY['facilitator', 'mentor']::core.staff_role[])
	                          AND (EXISTS (SELECT 1 FROM core.programme_staff ps
	                                       WHERE ps.programme_id = pr.id
	                                         AND ps.staff_id = p_staff)
	                               OR EXISTS (SELECT 1 FROM core.session s
	                                          JOIN core.session_staff ss ON ss.session_id = s.id
	                                          WHERE s.series_id = sr.id
	                                            AND ss.staff_id = p_staff)))))
$$;

-- --- JSON ------------------------------------------------------------------

CREATE FUNCTION session_local(p_start timestamptz, p_end timestamptz, p_tz text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('date', to_char(p_start AT TIME ZONE p_tz, 'YYYY-MM-DD'),
	                          'start', to_char(p_start AT TIME ZONE p_tz, 'HH24:MI'),
	                          'end', to_char(p_end AT TIME ZONE p_tz, 'HH24:MI'),
	                          'time_zone', p_tz)
$$;

CREATE FUNCTION session_json(s core.session, p_tz text) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', s.id, 'programme_id', s.programme_id, 'organisation_id', s.org_id,
		'series_id', s.series_id, 'recurrence_id', core.utc_text(s.recurrence_id),
		'cohort_id', s.cohort_id, 'title', s.title,
		'starts_at', core.utc_text(s.starts_at), 'ends_at', core.utc_text(s.ends_at),
		'local', core.session_local(s.starts_at, s.ends_at, p_tz),
		'status', s.status, 'moved', s.moved, 'closure_id', s.closure_id,
		'cancel_reason', s.cancel_reason, 'delivery_mode', s.delivery_mode,
		'location_kind', s.location_kind, 'venue_id', s.venue_id, 'room_id', s.room_id,
		'establishment', s.establishment, 'capacity', s.capacity, 'booked', s.booked,
		'booking_mode', s.booking_mode, 'module', s.module, 'catch_up', s.catch_up,
		'sequence', s.sequence, 'version', s.version,
		'created_at', core.utc_text(s.created_at), 'updated_at', core.utc_text(s.updated_at))
$$;

-- One session with who runs it and how many are expected, booked and
-- waiting: counts only, never participants.
CREATE FUNCTION session_detail(p_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT core.session_json(s, pr.time_zone) || jsonb_build_object(
		'staff', COALESCE((SELECT jsonb_agg(jsonb_build_object(
		                       'staff_id', ss.staff_id, 'display_name', st.display_name,
		                       'role', ss.role) ORDER BY ss.staff_id)
		                   FROM core.session_staff ss JOIN core.staff st ON st.id = ss.staff_id
		                   WHERE ss.session_id = s.id), '[]'::jsonb),
		'counts', jsonb_build_object(
			'expected', (SELECT count(*) FROM core.seat
			             WHERE session_id = s.id AND source = 'enrolment' AND active),
			'booked', (SELECT count(*) FROM core.booking
			           WHERE session_id = s.id AND status = 'booked'),
			'waitlisted', (SELECT count(*) FROM core.booking
			               WHERE session_id = s.id AND status = 'waitlisted')))
	FROM core.session s JOIN core.programme pr ON pr.id = s.programme_id
	WHERE s.id = p_id
$$;

-- What calendar feeds (issue 6) turn into one VEVENT: the rule, its
-- cancelled instances (EXDATE) and its changed ones (RECURRENCE-ID).
CREATE FUNCTION series_json(p_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', sr.id, 'programme_id', sr.programme_id, 'cohort_id', sr.cohort_id,
		'title', sr.title, 'rrule', sr.rrule,
		'dtstart_local', to_char(sr.dtstart_local, 'YYYY-MM-DD"T"HH24:MI:SS'),
		'time_zone', sr.time_zone,
		'duration_minutes', (extract(epoch FROM sr.duration) / 60)::integer,
		'delivery_mode', sr.delivery_mode, 'location_kind', sr.location_kind,
		'venue_id', sr.venue_id, 'room_id', sr.room_id, 'capacity', sr.capacity,
		'booking_mode', sr.booking_mode, 'expanded_until', core.utc_text(sr.expanded_until),
		'sequence', sr.sequence, 'cancelled_at', core.utc_text(sr.cancelled_at),
		'created_at', core.utc_text(sr.created_at), 'updated_at', core.utc_text(sr.updated_at),
		'sessions', (SELECT count(*) FROM core.session WHERE series_id = sr.id),
		'exdates', COALESCE((SELECT jsonb_agg(jsonb_build_object(
		                         'session_id', s.id,
		                         'recurrence_id', core.utc_text(s.recurrence_id),
		                         'recurrence_local', to_char(s.recurrence_id AT TIME ZONE sr.time_zone,
		                                                     'YYYY-MM-DD"T"HH24:MI:SS'),
		                         'cancel_reason', s.cancel_reason, 'sequence', s.sequence)
		                         ORDER BY s.recurrence_id)
		                     FROM core.session s
		                     WHERE s.series_id = sr.id AND s.status = 'cancelled'), '[]'::jsonb),
		'overrides', COALESCE((SELECT jsonb_agg(core.session_json(s, sr.time_zone)
		                           || jsonb_build_object('recurrence_local',
		                                  to_char(s.recurrence_id AT TIME ZONE sr.time_zone,
		                                          'YYYY-MM-DD"T"HH24:MI:SS'))
		                           ORDER BY s.recurrence_id)
		                       FROM core.session s
		                       WHERE s.series_id = sr.id AND s.status = 'scheduled'
		                         AND (s.moved OR s.title <> sr.title
		                              OR s.venue_id IS DISTINCT FROM sr.venue_id
		                              OR s.room_id IS DISTINCT FROM sr.room_id
		                              OR s.location_kind <> sr.location_kind
		                              OR s.delivery_mode <> sr.delivery_mode)), '[]'::jsonb))
	FROM core.series sr WHERE sr.id = p_id
$$;

-- --- Checks shared by create and update -------------------------------------

-- The venue and room of a session in organisation `p_org`: a room implies
-- its venue; both must be the organisation's and not archived.
CREATE FUNCTION session_place(p_org bigint, p_venue bigint, p_room bigint, OUT venue_id bigint,
                              OUT room_id bigint, OUT establishment text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	venue_id := p_venue;
	room_id := p_room;
	IF p_room IS NOT NULL THEN
		SELECT r.venue_id INTO venue_id FROM core.room r JOIN core.venue v ON v.id = r.venue_id
		WHERE r.id = p_room AND v.org_id = p_org AND r.archived_at IS NULL
		  AND v.archived_at IS NULL;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'core.not_found|room_id|No such room.' USING ERRCODE = 'WM404';
		END IF;
		IF p_venue IS NOT NULL AND p_venue <> venue_id THEN
			RAISE EXCEPTION 'core.room_not_in_venue|room_id|The room is not in that venue.'
				USING ERRCODE = 'WM422';
		END IF;
	END IF;
	IF venue_id IS NOT NULL THEN
		SELECT v.establishment INTO establishment FROM core.venue v
		WHERE v.id = venue_id AND v.org_id = p_org AND v.archived_at IS NULL;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'core.not_found|venue_id|No such venue.' USING ERRCODE = 'WM404';
		END IF;
	END IF;
END $$;

-- Everyone in `p_staff` ([{staff_id, role}]) must work for the organisation
-- (a staff member of another organisation is refused exactly as one who
-- does not exist: the reply says nothing about them).
CREATE FUNCTION session_check_staff(p_org bigint, p_staff jsonb) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
	bad integer;
BEGIN
	SELECT e.i - 1 INTO bad
	FROM jsonb_array_elements(COALESCE(p_staff, '[]'::jsonb)) WITH ORDINALITY e(v, i)
	WHERE NOT core.has_role((e.v->>'staff_id')::bigint, p_org,
	                        ARRAY['admin', 'coordinator', 'facilitator', 'mentor']::core.staff_role[])
	   OR EXISTS (SELECT 1 FROM core.staff st WHERE st.id = (e.v->>'staff_id')::bigint
	              AND st.disabled_at IS NOT NULL)
	ORDER BY e.i LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION '%', format('core.not_member|staff|staff[%s] is not a staff member of the programme''s organisation.', bad)
			USING ERRCODE = 'WM422';
	END IF;
END $$;

-- "session 41 "Title" on 2027-03-02 at 10:00 (Europe/London)"
CREATE FUNCTION session_named(p_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT format('session %s "%s" on %s at %s (%s)', s.id, s.title,
	              to_char(s.starts_at AT TIME ZONE pr.time_zone, 'YYYY-MM-DD'),
	              to_char(s.starts_at AT TIME ZONE pr.time_zone, 'HH24:MI'), pr.time_zone)
	FROM core.session s JOIN core.programme pr ON pr.id = s.programme_id WHERE s.id = p_id
$$;

-- The other session of a clash as `p_actor` may see it: named (id, title,
-- local time) for an admin or coordinator of its organisation; otherwise
-- (a staff member or participant shared with another organisation) without
-- a word about it.
CREATE FUNCTION session_clash_named(p_actor bigint, p_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN core.has_role(p_actor, s.org_id,
	                               ARRAY['admin', 'coordinator']::core.staff_role[])
	            THEN core.session_named(s.id)
	            ELSE 'another session at an overlapping time' END
	FROM core.session s WHERE s.id = p_id
$$;

-- After an exclusion violation on `p_constraint` (the statement's changes
-- rolled back): finds what is in the way of sessions at `p_ranges` (other
-- than `p_own`) and raises 409 naming it, as far as `p_actor` may see it.
CREATE FUNCTION session_raise_clash(p_actor bigint, p_constraint text, p_room bigint,
                                    p_staff bigint[], p_cohort bigint, p_ranges tstzrange[],
                                    p_own bigint[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	other bigint;
	who bigint;
BEGIN
	IF p_constraint = 'session_room_free' THEN
		SELECT s.id INTO other FROM core.session s
		WHERE s.room_id = p_room AND s.status = 'scheduled' AND s.during && ANY (p_ranges)
		  AND s.id <> ALL (p_own)
		ORDER BY s.starts_at, s.id LIMIT 1;
		RAISE EXCEPTION '%', format('core.room_clash|room_id|The room is taken then: %s.',
			COALESCE(core.session_clash_named(p_actor, other),
			         'another session of this request'))
			USING ERRCODE = 'WM409';
	ELSIF p_constraint = 'session_staff_free' THEN
		SELECT ss.session_id, ss.staff_id INTO other, who FROM core.session_staff ss
		WHERE ss.active AND ss.staff_id = ANY (p_staff) AND ss.during && ANY (p_ranges)
		  AND ss.session_id <> ALL (p_own)
		ORDER BY ss.during, ss.session_id LIMIT 1;
		RAISE EXCEPTION '%', format('core.staff_clash|staff|%s.', COALESCE(
			format('Staff member %s already runs %s', who,
			       core.session_clash_named(p_actor, other)),
			'A staff member would run two sessions of this request at once'))
			USING ERRCODE = 'WM409';
	ELSE
		SELECT st.session_id, st.person_id INTO other, who FROM core.seat st
		WHERE st.active AND st.during && ANY (p_ranges) AND st.session_id <> ALL (p_own)
		  AND (st.person_id IN (SELECT e.person_id FROM core.enrolment e
		                        WHERE e.cohort_id = p_cohort AND e.status <> 'left')
		       OR st.person_id IN (SELECT o.person_id FROM core.seat o
		                           WHERE o.session_id = ANY (p_own)))
		ORDER BY st.during, st.session_id LIMIT 1;
		RAISE EXCEPTION '%', format('core.person_clash|person_id|%s.', COALESCE(
			format('Person %s is expected at %s then', who,
			       core.session_clash_named(p_actor, other)),
			'A participant would be in two sessions at once'))
			USING ERRCODE = 'WM409';
	END IF;
END $$;

-- --- Creating -----------------------------------------------------------------

-- Lays out sessions of programme `pr` at `p_instances` ([{s, e}] UTC) with
-- the fields of `b`, as instances of `p_series` (or one-off): closures on
-- the local date skip (a cancelled row, so feeds can emit EXDATE) or flag
-- them; staff and room clashes are refused naming the other session; a
-- cohort's seats follow. Returns the new ids.
CREATE FUNCTION session_lay_out(p_actor bigint, pr core.programme, p_series bigint, b jsonb,
                                p_instances jsonb) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
	place record;
	ids bigint[];
	ranges tstzrange[];
	staff_ids bigint[];
	v_cohort bigint := (b->>'cohort_id')::bigint;
	c text;
BEGIN
	SELECT * INTO place FROM core.session_place(pr.org_id, (b->>'venue_id')::bigint,
	                                            (b->>'room_id')::bigint);
	PERFORM core.session_check_staff(pr.org_id, b->'staff');
	IF v_cohort IS NOT NULL AND NOT EXISTS (SELECT 1 FROM core.cohort ch
	                                        WHERE ch.id = v_cohort AND ch.programme_id = pr.id) THEN
		RAISE EXCEPTION 'core.not_found|cohort_id|No such cohort in this programme.'
			USING ERRCODE = 'WM404';
	END IF;
	SELECT array_agg(tstzrange((i->>'s')::timestamptz, (i->>'e')::timestamptz, '[)'))
	INTO ranges FROM jsonb_array_elements(p_instances) i;
	SELECT array_agg((e->>'staff_id')::bigint) INTO staff_ids
	FROM jsonb_array_elements(COALESCE(b->'staff', '[]'::jsonb)) e;
	-- An exclusion race can deadlock (each insert waits for the other):
	-- the victim's attempt is rolled back, so the other goes on, and the
	-- next attempt waits for it and then sees the clash.
	FOR attempt IN 1..3 LOOP
		BEGIN
			WITH x AS (SELECT (i->>'s')::timestamptz AS s, (i->>'e')::timestamptz AS e
			           FROM jsonb_array_elements(p_instances) i),
			k AS (SELECT x.s, x.e,
			             (SELECT cl FROM core.closure cl
			              WHERE cl.org_id = pr.org_id AND cl.effect = 'skip'
			                AND (cl.venue_id IS NULL OR cl.venue_id = place.venue_id)
			                AND (x.s AT TIME ZONE pr.time_zone)::date
			                    BETWEEN cl.starts_on AND cl.ends_on
			              ORDER BY cl.id LIMIT 1) AS skip,
			             (SELECT cl.id FROM core.closure cl
			              WHERE cl.org_id = pr.org_id AND cl.effect = 'flag'
			                AND (cl.venue_id IS NULL OR cl.venue_id = place.venue_id)
			                AND (x.s AT TIME ZONE pr.time_zone)::date
			                    BETWEEN cl.starts_on AND cl.ends_on
			              ORDER BY cl.id LIMIT 1) AS flag
			      FROM x),
			ins AS (INSERT INTO core.session (
			            programme_id, org_id, series_id, recurrence_id, cohort_id, title, starts_at,
			            ends_at, status, closure_id, cancel_reason, delivery_mode, location_kind,
			            venue_id, room_id, establishment, capacity, booking_mode, module, catch_up,
			            created_by)
			        SELECT pr.id, pr.org_id, p_series, CASE WHEN p_series IS NOT NULL THEN k.s END,
			               v_cohort, b->>'title', k.s, k.e,
			               CASE WHEN k.skip IS NULL THEN 'scheduled' ELSE 'cancelled'
			               END::core.session_status,
			               CASE WHEN k.skip IS NULL THEN k.flag END, (k.skip).reason,
			               COALESCE(b->>'delivery_mode', 'face_to_face')::core.delivery_mode,
			               (b->>'location_kind')::core.location_kind, place.venue_id, place.room_id,
			               place.establishment, (b->>'capacity')::integer,
			               COALESCE(b->>'booking_mode', 'enrolled')::core.booking_mode,
			               b->>'module', COALESCE((b->>'catch_up')::boolean, false), p_actor
			        FROM k ORDER BY k.s
			        RETURNING id)
			SELECT array_agg(id ORDER BY id) INTO ids FROM ins;
			INSERT INTO core.session_staff (session_id, staff_id, role, during, active)
			SELECT s.id, (e->>'staff_id')::bigint, (e->>'role')::core.programme_role, s.during,
			       s.status = 'scheduled'
			FROM core.session s, jsonb_array_elements(COALESCE(b->'staff', '[]'::jsonb)) e
			WHERE s.id = ANY (ids);
			IF v_cohort IS NOT NULL THEN
				PERFORM core.seat_sync_cohort(v_cohort);
			END IF;
			EXIT;
		EXCEPTION WHEN exclusion_violation THEN
			GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME;
			PERFORM core.session_raise_clash(p_actor, c, place.room_id, staff_ids, v_cohort,
			                                 ranges, '{}');
		WHEN deadlock_detected THEN
			IF attempt = 3 THEN
				RAISE;
			END IF;
		END;
	END LOOP;
	RETURN ids;
END $$;

-- Statement 1 of POST /programmes/{id}/series: scope, and the start as a
-- local date-time in the programme's zone for libical (refusing a local
-- time the zone skips or repeats). NULL when the caller may not manage the
-- programme.
CREATE FUNCTION series_plan(p_actor bigint, p_programme bigint, p_start text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	pr core.programme;
	t timestamptz;
BEGIN
	SELECT * INTO pr FROM core.programme WHERE id = p_programme AND archived_at IS NULL;
	IF NOT FOUND OR NOT core.has_role(p_actor, pr.org_id,
	                                  ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		RETURN NULL;
	END IF;
	t := date_trunc('second', core.instant_in(p_start, pr.time_zone, 'start'));
	RETURN jsonb_build_object('time_zone', pr.time_zone,
	                          'dtstart_local', to_char(t AT TIME ZONE pr.time_zone,
	                                                   'YYYY-MM-DD"T"HH24:MI:SS'));
END $$;

-- Statement 2: the series and its sessions, in one transaction. `p_tz` is
-- the zone the instances were expanded in (the programme's, unless it
-- changed meanwhile).
CREATE FUNCTION series_create(p_actor bigint, p_addr inet, p_rid text, p_programme bigint,
                              p_tz text, b jsonb, p_instances jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	pr core.programme;
	sr core.series;
	ids bigint[];
BEGIN
	SELECT * INTO pr FROM core.programme WHERE id = p_programme AND archived_at IS NULL
	FOR SHARE;
	IF NOT FOUND OR NOT core.has_role(p_actor, pr.org_id,
	                                  ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		RETURN NULL;
	END IF;
	IF pr.time_zone <> p_tz THEN
		RAISE EXCEPTION 'core.conflict|time_zone|The programme''s time zone changed meanwhile: send the request again.'
			USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.series (programme_id, cohort_id, title, rrule, dtstart_local, time_zone,
	                         duration, delivery_mode, location_kind, venue_id, room_id,
	                         capacity, booking_mode, expanded_until, created_by)
	VALUES (pr.id, (b->>'cohort_id')::bigint, b->>'title', b->>'rrule',
	        (b->>'dtstart_local')::timestamp, pr.time_zone,
	        make_interval(mins => (b->>'duration_minutes')::integer),
	        COALESCE(b->>'delivery_mode', 'face_to_face')::core.delivery_mode,
	        (b->>'location_kind')::core.location_kind,
	        (SELECT venue_id FROM core.session_place(pr.org_id, (b->>'venue_id')::bigint,
	                                                 (b->>'room_id')::bigint)),
	        (b->>'room_id')::bigint, (b->>'capacity')::integer,
	        COALESCE(b->>'booking_mode', 'enrolled')::core.booking_mode,
	        (b->>'expanded_until')::timestamptz, p_actor)
	RETURNING * INTO sr;
	ids := core.session_lay_out(p_actor, pr, sr.id, b, p_instances);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	SELECT p_actor, pr.org_id, 'series.create', 'series', sr.id, p_addr, p_rid,
	       jsonb_build_object('programme_id', pr.id,
	                          'fields', (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(b) k),
	                          'sessions', count(*),
	                          'skipped', count(*) FILTER (WHERE s.status = 'cancelled'),
	                          'flagged', count(*) FILTER (WHERE s.closure_id IS NOT NULL))
	FROM core.session s WHERE s.id = ANY (ids);
	RETURN jsonb_build_object(
		'series', core.series_json(sr.id),
		'sessions', (SELECT jsonb_agg(core.session_json(s, pr.time_zone) ORDER BY s.starts_at, s.id)
		             FROM core.session s WHERE s.id = ANY (ids)));
END $$;

-- POST /programmes/{id}/sessions: one session, its start read in the
-- programme's zone.
CREATE FUNCTION session_create(p_actor bigint, p_addr inet, p_rid text, p_programme bigint,
                               b jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	pr core.programme;
	t timestamptz;
	ids bigint[];
BEGIN
	SELECT * INTO pr FROM core.programme WHERE id = p_programme AND archived_at IS NULL
	FOR SHARE;
	IF NOT FOUND OR NOT core.has_role(p_actor, pr.org_id,
	                                  ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		RETURN NULL;
	END IF;
	t := core.instant_in(b->>'start', pr.time_zone, 'start');
	ids := core.session_lay_out(p_actor, pr, NULL, b, jsonb_build_array(jsonb_build_object(
		's', t, 'e', t + make_interval(mins => (b->>'duration_minutes')::integer))));
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_actor, pr.org_id, 'session.create', 'session', ids[1], p_addr, p_rid,
	        jsonb_build_object('programme_id', pr.id, 'fields',
	                           (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(b) k)));
	RETURN core.session_detail(ids[1]);
END $$;

-- --- Changing --------------------------------------------------------------

-- Bookings of a cancelled session: S4's core.booking_session_cancelled
-- decides, when that migration is there (looked up at run time).
CREATE FUNCTION session_cancelled_hook(p_id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF to_regprocedure('core.booking_session_cancelled(bigint)') IS NOT NULL THEN
		EXECUTE 'SELECT core.booking_session_cancelled($1)' USING p_id;
	END IF;
END $$;

-- PATCH /sessions/{id}: `b` holds only the fields sent (JSON null clears
-- an optional one). A series instance keeps its recurrence_id and is
-- marked moved when its time changes. SEQUENCE goes up for what a calendar
-- shows (time, place, title, mode); seats and staff follow the time (0008's
-- session_sync trigger), and a clash is refused naming the other session.
-- Moved (in time or to another venue), closures are applied again as when
-- laying out: onto a 'skip' closure is refused (422 core.closed_day), onto
-- a 'flag' closure sets closure_id (and off one clears it).
CREATE FUNCTION session_update(p_actor bigint, p_addr inet, p_rid text, p_id bigint, b jsonb,
                               p_version integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	s core.session;
	n core.session;
	tz text;
	place record;
	c text;
	staff_ids bigint[];
	closed bigint;
BEGIN
	SELECT * INTO s FROM core.session WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR NOT core.session_manages(p_actor, p_id) THEN
		RETURN NULL;
	END IF;
	SELECT time_zone INTO tz FROM core.programme WHERE id = s.programme_id;
	IF p_version IS NOT NULL AND p_version <> s.version THEN
		RAISE EXCEPTION '%', format('core.stale|version|The session has changed since version %s (it is at %s): reload it.', p_version, s.version)
			USING ERRCODE = 'WM409';
	END IF;
	IF s.status = 'cancelled' THEN
		RAISE EXCEPTION 'core.illegal_transition|status|A cancelled session cannot be changed.'
			USING ERRCODE = 'WM409';
	END IF;
	n := s;
	IF b ? 'start' THEN
		n.starts_at := core.instant_in(b->>'start', tz, 'start');
	END IF;
	n.ends_at := n.starts_at + CASE WHEN b ? 'duration_minutes'
	                                THEN make_interval(mins => (b->>'duration_minutes')::integer)
	                                ELSE s.ends_at - s.starts_at END;
	IF b ? 'venue_id' THEN
		n.venue_id := (b->>'venue_id')::bigint;
		IF n.venue_id IS DISTINCT FROM s.venue_id AND NOT (b ? 'room_id') THEN
			n.room_id := NULL; -- the old room is in the old venue
		END IF;
	END IF;
	IF b ? 'room_id' THEN
		n.room_id := (b->>'room_id')::bigint;
		IF NOT (b ? 'venue_id') AND n.room_id IS NOT NULL THEN
			n.venue_id := NULL; -- implied by the room
		END IF;
	END IF;
	SELECT * INTO place FROM core.session_place(s.org_id, n.venue_id, n.room_id);
	n.venue_id := place.venue_id;
	n.room_id := place.room_id;
	n.establishment := place.establishment;
	IF (n.starts_at, n.venue_id) IS DISTINCT FROM (s.starts_at, s.venue_id) THEN
		SELECT cl.id INTO closed FROM core.closure cl
		WHERE cl.org_id = s.org_id AND cl.effect = 'skip'
		  AND (cl.venue_id IS NULL OR cl.venue_id = n.venue_id)
		  AND (n.starts_at AT TIME ZONE tz)::date BETWEEN cl.starts_on AND cl.ends_on
		ORDER BY cl.id LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION '%', format('core.closed_day|start|%s is closed (closure %s): sessions are not held then. Choose another day.',
				to_char(n.starts_at AT TIME ZONE tz, 'YYYY-MM-DD'), closed)
				USING ERRCODE = 'WM422';
		END IF;
		n.closure_id := (SELECT cl.id FROM core.closure cl
		                 WHERE cl.org_id = s.org_id AND cl.effect = 'flag'
		                   AND (cl.venue_id IS NULL OR cl.venue_id = n.venue_id)
		                   AND (n.starts_at AT TIME ZONE tz)::date
		                       BETWEEN cl.starts_on AND cl.ends_on
		                 ORDER BY cl.id LIMIT 1);
	END IF;
	IF b ? 'capacity' THEN
		n.capacity := (b->>'capacity')::integer;
		IF n.capacity < s.booked THEN
			RAISE EXCEPTION '%', format('core.capacity_below_booked|capacity|%s people are booked: capacity cannot go below that.', s.booked)
				USING ERRCODE = 'WM422';
		END IF;
	END IF;
	IF b ? 'title' THEN n.title := b->>'title'; END IF;
	IF b ? 'module' THEN n.module := b->>'module'; END IF;
	IF b ? 'catch_up' THEN n.catch_up := (b->>'catch_up')::boolean; END IF;
	IF b ? 'delivery_mode' THEN n.delivery_mode := (b->>'delivery_mode')::core.delivery_mode; END IF;
	IF b ? 'location_kind' THEN n.location_kind := (b->>'location_kind')::core.location_kind; END IF;
	SELECT array_agg(staff_id) INTO staff_ids FROM core.session_staff WHERE session_id = p_id;
	-- An exclusion race can deadlock (each insert waits for the other):
	-- the victim's attempt is rolled back, so the other goes on, and the
	-- next attempt waits for it and then sees the clash.
	FOR attempt IN 1..3 LOOP
		BEGIN
			UPDATE core.session SET
				starts_at = n.starts_at, ends_at = n.ends_at, venue_id = n.venue_id,
				room_id = n.room_id, establishment = n.establishment, capacity = n.capacity,
				closure_id = n.closure_id,
				title = n.title, module = n.module, catch_up = n.catch_up,
				delivery_mode = n.delivery_mode, location_kind = n.location_kind,
				moved = s.moved OR (s.series_id IS NOT NULL
				                    AND (n.starts_at <> s.starts_at OR n.ends_at <> s.ends_at)),
				sequence = s.sequence + CASE WHEN (n.starts_at, n.ends_at, n.title, n.delivery_mode,
				                                   n.location_kind)
				                                  IS DISTINCT FROM (s.starts_at, s.ends_at, s.title,
				                                                    s.delivery_mode, s.location_kind)
				                                  OR n.venue_id IS DISTINCT FROM s.venue_id
				                                  OR n.room_id IS DISTINCT FROM s.room_id
				                             THEN 1 ELSE 0 END,
				version = s.version + 1, updated_at = now()
			WHERE id = p_id;
			IF s.cohort_id IS NOT NULL AND (n.starts_at, n.ends_at) <> (s.starts_at, s.ends_at) THEN
				PERFORM core.seat_sync_cohort(s.cohort_id);
			END IF;
			EXIT;
		EXCEPTION WHEN exclusion_violation THEN
			GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME;
			PERFORM core.session_raise_clash(p_actor, c, n.room_id, staff_ids, s.cohort_id,
				ARRAY[tstzrange(n.starts_at, n.ends_at, '[)')], ARRAY[p_id]);
		WHEN deadlock_detected THEN
			IF attempt = 3 THEN
				RAISE;
			END IF;
		END;
	END LOOP;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_actor, s.org_id, 'session.update', 'session', p_id, p_addr, p_rid,
	        jsonb_build_object('fields', (SELECT jsonb_agg(k ORDER BY k)
	                                      FROM jsonb_object_keys(b) k)));
	RETURN core.session_detail(p_id);
END $$;

-- Cancels scheduled sessions `p_ids` (locked by the caller): staff and
-- seats are freed by 0008's trigger, bookings by S4's hook.
CREATE FUNCTION session_cancel_many(p_ids bigint[], p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	i bigint;
BEGIN
	UPDATE core.session SET status = 'cancelled', cancel_reason = p_reason,
	       sequence = sequence + 1, version = version + 1, updated_at = now()
	WHERE id = ANY (p_ids) AND status = 'scheduled';
	FOREACH i IN ARRAY p_ids LOOP
		PERFORM core.session_cancelled_hook(i);
	END LOOP;
END $$;

-- Whether sessions `p_ids` may be cancelled: one with attendance recorded
-- never (409 core.has_attendance: cancelling would erase the absences);
-- one that has started only when the caller insists (`p_force`, else 422
-- core.already_started). Returns whether `p_force` was needed.
CREATE FUNCTION session_cancel_check(p_ids bigint[], p_force boolean, p_field text)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
	started integer;
BEGIN
	IF EXISTS (SELECT 1 FROM core.attendance a WHERE a.session_id = ANY (p_ids)) THEN
		RAISE EXCEPTION '%', format('core.has_attendance|%s|%s', p_field, CASE
			WHEN cardinality(p_ids) = 1 THEN 'Attendance has been recorded for this session: it cannot be cancelled.'
			ELSE 'Attendance has been recorded for a session from that date on: cancel from a later date.' END)
			USING ERRCODE = 'WM409';
	END IF;
	SELECT count(*) INTO started FROM core.session s
	WHERE s.id = ANY (p_ids) AND s.starts_at <= core.clock();
	IF started > 0 AND NOT COALESCE(p_force, false) THEN
		RAISE EXCEPTION '%', format('core.already_started|%s|%s', p_field, CASE
			WHEN cardinality(p_ids) = 1 THEN 'The session has already started: send "force": true to cancel it anyway.'
			ELSE format('%s of these sessions have already started: cancel from a later date, or send "force": true.', started) END)
			USING ERRCODE = 'WM422';
	END IF;
	RETURN started > 0;
END $$;

CREATE FUNCTION session_cancel(p_actor bigint, p_addr inet, p_rid text, p_id bigint,
                               p_reason text, p_force boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	s core.session;
	forced boolean;
BEGIN
	SELECT * INTO s FROM core.session WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR NOT core.session_manages(p_actor, p_id) THEN
		RETURN NULL;
	END IF;
	IF s.status = 'cancelled' THEN
		RAISE EXCEPTION 'core.illegal_transition|status|The session is already cancelled.'
			USING ERRCODE = 'WM409';
	END IF;
	forced := core.session_cancel_check(ARRAY[p_id], p_force, '');
	PERFORM core.session_cancel_many(ARRAY[p_id], p_reason);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_actor, s.org_id, 'session.cancel', 'session', p_id, p_addr, p_rid,
	        jsonb_build_object('fields', jsonb_build_array('status', 'cancel_reason'),
	                           'forced', forced));
	RETURN core.session_detail(p_id);
END $$;

-- PUT /sessions/{id}/staff: the whole set ([{staff_id, role}]).
CREATE FUNCTION session_set_staff(p_actor bigint, p_addr inet, p_rid text, p_id bigint,
                                  p_staff jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	s core.session;
	c text;
	staff_ids bigint[];
	old_ids bigint[];
BEGIN
	SELECT * INTO s FROM core.session WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR NOT core.session_manages(p_actor, p_id) THEN
		RETURN NULL;
	END IF;
	IF s.status = 'cancelled' THEN
		RAISE EXCEPTION 'core.illegal_transition|status|A cancelled session cannot be restaffed.'
			USING ERRCODE = 'WM409';
	END IF;
	PERFORM core.session_check_staff(s.org_id, p_staff);
	SELECT COALESCE(array_agg((e->>'staff_id')::bigint), '{}') INTO staff_ids
	FROM jsonb_array_elements(p_staff) e;
	SELECT COALESCE(array_agg(ss.staff_id ORDER BY ss.staff_id), '{}') INTO old_ids
	FROM core.session_staff ss WHERE ss.session_id = p_id;
	-- An exclusion race can deadlock (each insert waits for the other):
	-- the victim's attempt is rolled back, so the other goes on, and the
	-- next attempt waits for it and then sees the clash.
	FOR attempt IN 1..3 LOOP
		BEGIN
			DELETE FROM core.session_staff WHERE session_id = p_id AND staff_id <> ALL (staff_ids);
			INSERT INTO core.session_staff (session_id, staff_id, role, during, active)
			SELECT p_id, (e->>'staff_id')::bigint, (e->>'role')::core.programme_role, s.during, true
			FROM jsonb_array_elements(p_staff) e
			ON CONFLICT (session_id, staff_id) DO UPDATE SET role = EXCLUDED.role, active = true,
			                                                 during = EXCLUDED.during;
			EXIT;
		EXCEPTION WHEN exclusion_violation THEN
			GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME;
			PERFORM core.session_raise_clash(p_actor, c, NULL, staff_ids, NULL, ARRAY[s.during],
			                                 ARRAY[p_id]);
		WHEN deadlock_detected THEN
			IF attempt = 3 THEN
				RAISE;
			END IF;
		END;
	END LOOP;
	UPDATE core.session SET version = version + 1, updated_at = now() WHERE id = p_id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_actor, s.org_id, 'session.staff', 'session', p_id, p_addr, p_rid,
	        jsonb_build_object('fields', jsonb_build_array('staff'),
	                           'staff_count', cardinality(staff_ids),
	                           'added', (SELECT COALESCE(jsonb_agg(i ORDER BY i), '[]'::jsonb)
	                                     FROM unnest(staff_ids) i WHERE i <> ALL (old_ids)),
	                           'removed', (SELECT COALESCE(jsonb_agg(i ORDER BY i), '[]'::jsonb)
	                                       FROM unnest(old_ids) i WHERE i <> ALL (staff_ids))));
	RETURN core.session_detail(p_id);
END $$;

-- POST /series/{id}/cancel: every scheduled instance on or after local
-- date `p_from`. The series is over (cancelled_at) when none is left. As
-- for one session: none of them may have attendance recorded, and any that
-- has started needs `p_force`.
CREATE FUNCTION series_cancel(p_actor bigint, p_addr inet, p_rid text, p_id bigint, p_from date,
                              p_reason text, p_force boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	sr core.series;
	org bigint;
	ids bigint[];
	forced boolean;
BEGIN
	SELECT * INTO sr FROM core.series WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT pr.org_id INTO org FROM core.programme pr
	WHERE pr.id = sr.programme_id AND pr.archived_at IS NULL
	  AND core.has_role(p_actor, pr.org_id, ARRAY['admin', 'coordinator']::core.staff_role[]);
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF sr.cancelled_at IS NOT NULL THEN
		RAISE EXCEPTION 'core.illegal_transition|status|The series is already cancelled.'
			USING ERRCODE = 'WM409';
	END IF;
	SELECT COALESCE(array_agg(id ORDER BY id), '{}') INTO ids FROM (
		SELECT id FROM core.session
		WHERE series_id = p_id AND status = 'scheduled'
		  AND (starts_at AT TIME ZONE sr.time_zone)::date >= p_from
		ORDER BY id FOR UPDATE) x;
	forced := core.session_cancel_check(ids, p_force, 'from');
	PERFORM core.session_cancel_many(ids, p_reason);
	UPDATE core.series SET sequence = sequence + 1, updated_at = now(),
	       cancelled_at = CASE WHEN NOT EXISTS (SELECT 1 FROM core.session
	                                            WHERE series_id = p_id AND status = 'scheduled')
	                           THEN now() END
	WHERE id = p_id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_actor, org, 'series.cancel', 'series', p_id, p_addr, p_rid,
	        jsonb_build_object('from', p_from, 'sessions', cardinality(ids), 'forced', forced));
	RETURN jsonb_build_object('series', core.series_json(p_id), 'cancelled', cardinality(ids));
END $$;
