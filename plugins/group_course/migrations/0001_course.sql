-- group_course 0001: cohort plans, the timetable layout, bank holidays,
-- re-laying a timetable, catch-up sessions and guest approvals (see
-- plugins/group_course/README.md).
--
-- A course is a core.programme of type 'group_course' whose curriculum (the
-- ordered modules) lives in programme.settings, validated by the plugin's
-- programme_validate hook. A cohort is a core.cohort plus its delivery plan
-- here; its sessions are ordinary core.session rows (cohort_id, module =
-- the module key, title = the module title, booking_mode 'enrolled'), laid
-- out by group_course.cohort_layout in the programme's time zone, so calendar
-- feeds, registers, seats and clashes are the core's.
--
-- Runs with search_path = group_course: objects here are created
-- unqualified, everything else is qualified. Every route function takes the
-- request context first (staff id, peer address, request id), returns NULL
-- when the object is out of the caller's scope (the API answers 404), and
-- refuses with RAISE 'group_course.<code>|<field>|<message>' USING ERRCODE
-- 'WM4xx'. Every change writes core.audit rows.

-- --- Bank holidays ----------------------------------------------------------

-- Days no cohort session is laid on, per region (the plugin's config key
-- bank_holiday_region picks one). Seeded with England and Wales 2026-2028
-- (gov.uk/bank-holidays, substitute days included); later years are added
-- by a later migration.
CREATE TABLE bank_holiday (
	region text NOT NULL CHECK (region ~ '^[a-z][a-z0-9_]{0,30}$'),
	day date NOT NULL,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	PRIMARY KEY (region, day)
);
INSERT INTO bank_holiday (region, day, name) VALUES
	('england_wales', '2026-01-01', 'New Year''s Day'),
	('england_wales', '2026-04-03', 'Good Friday'),
	('england_wales', '2026-04-06', 'Easter Monday'),
	('england_wales', '2026-05-04', 'Early May bank holiday'),
	('england_wales', '2026-05-25', 'Spring bank holiday'),
	('england_wales', '2026-08-31', 'Summer bank holiday'),
	('england_wales', '2026-12-25', 'Christmas Day'),
	('england_wales', '2026-12-28', 'Boxing Day (substitute day)'),
	('england_wales', '2027-01-01', 'New Year''s Day'),
	('england_wales', '2027-03-26', 'Good Friday'),
	('england_wales', '2027-03-29', 'Easter Monday'),
	('england_wales', '2027-05-03', 'Early May bank holiday'),
	('england_wales', '2027-05-31', 'Spring bank holiday'),
	('england_wales', '2027-08-30', 'Summer bank holiday'),
	('england_wales', '2027-12-27', 'Christmas Day (substitute day)'),
	('england_wales', '2027-12-28', 'Boxing Day (substitute day)'),
	('england_wales', '2028-01-03', 'New Year''s Day (substitute day)'),
	('england_wales', '2028-04-14', 'Good Friday'),
	('england_wales', '2028-04-17', 'Easter Monday'),
	('england_wales', '2028-05-01', 'Early May bank holiday'),
	('england_wales', '2028-05-29', 'Spring bank holiday'),
	('england_wales', '2028-08-28', 'Summer bank holiday'),
	('england_wales', '2028-12-25', 'Christmas Day'),
	('england_wales', '2028-12-26', 'Boxing Day');

-- --- Cohort plans -----------------------------------------------------------

-- How a cohort is delivered. 'weekly': one module a week on the weekday of
-- the first day, one session of session_minutes from start_time.
-- 'alternating_days': full days with two modules each (morning_start and
-- afternoon_start, each session_minutes long), two days one week (the first
-- day and first day + second_day_offset) and one day the next, alternating.
-- A bank holiday of `region` or a 'skip' closure of the organisation (or the
-- cohort's venue) removes that day from the pattern, which moves on to the
-- next day it allows.
CREATE TABLE cohort_plan (
	cohort_id bigint PRIMARY KEY REFERENCES core.cohort,
	pattern text NOT NULL CHECK (pattern IN ('weekly', 'alternating_days')),
	start_time time NOT NULL DEFAULT '09:30',      -- weekly
	morning_start time NOT NULL DEFAULT '09:30',   -- alternating_days
	afternoon_start time NOT NULL DEFAULT '13:00', -- alternating_days
	session_minutes integer NOT NULL CHECK (session_minutes BETWEEN 15 AND 600),
	second_day_offset integer NOT NULL DEFAULT 2 CHECK (second_day_offset BETWEEN 1 AND 6),
	region text NOT NULL DEFAULT 'england_wales' CHECK (region ~ '^[a-z][a-z0-9_]{0,30}$'),
	venue_id bigint REFERENCES core.venue,
	room_id bigint REFERENCES core.room,
	location_kind core.location_kind NOT NULL,
	delivery_mode core.delivery_mode NOT NULL DEFAULT 'face_to_face',
	-- Who runs every session laid out: [{staff_id, role}], as the core's
	-- session routes take it.
	staff jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(staff) = 'array'),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES core.staff,
	updated_at timestamptz NOT NULL DEFAULT now(),
	CHECK (pattern <> 'alternating_days'
	       OR afternoon_start >= morning_start + make_interval(mins => session_minutes))
);

-- Every re-lay, for the timetable's history.
CREATE TABLE relay (
	id bigserial PRIMARY KEY,
	cohort_id bigint NOT NULL REFERENCES core.cohort,
	from_module text NOT NULL,
	from_date date NOT NULL,
	reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
	cancelled bigint[] NOT NULL,
	kept bigint[] NOT NULL,
	laid bigint[] NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES core.staff
);
CREATE INDEX relay_cohort ON relay (cohort_id, id);

-- A catch-up session for one enrolment (the session is a core.session of
-- the cohort with catch_up = true, seating that person only).
CREATE TABLE catch_up (
	session_id bigint PRIMARY KEY REFERENCES core.session,
	enrolment_id bigint NOT NULL REFERENCES core.enrolment,
	module text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES core.staff
);
CREATE INDEX catch_up_enrolment ON catch_up (enrolment_id);

-- A module with "guests": true (outside speakers, employers) needs each of
-- its sessions approved (escorts, security clearance) before the day.
CREATE TABLE guest_approval (
	session_id bigint PRIMARY KEY REFERENCES core.session,
	approved_by bigint NOT NULL REFERENCES core.staff,
	approved_at timestamptz NOT NULL DEFAULT now(),
	note text CHECK (length(note) BETWEEN 1 AND 1000)
);

-- --- Small helpers ------------------------------------------------------------

-- A date from the API ('YYYY-MM-DD'), or 400 naming the field.
CREATE FUNCTION date_in(p_text text, p_field text) RETURNS date LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_text IS NULL THEN
		RETURN NULL;
	END IF;
	IF p_text !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
		RAISE EXCEPTION '%', format('group_course.bad_date|%s|%s must be a date: YYYY-MM-DD.',
			p_field, p_field) USING ERRCODE = 'WM400';
	END IF;
	RETURN p_text::date;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
	RAISE EXCEPTION '%', format('group_course.bad_date|%s|%s is not a date of the calendar.',
		p_field, p_field) USING ERRCODE = 'WM400';
END $$;

-- A local time of day from the API ('HH:MM'), or 400 naming the field.
CREATE FUNCTION time_in(p_text text, p_field text) RETURNS time LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_text IS NULL THEN
		RETURN NULL;
	END IF;
	IF p_text !~ '^([01][0-9]|2[0-3]):[0-5][0-9]$' THEN
		RAISE EXCEPTION '%', format('group_course.bad_time|%s|%s must be a local time: HH:MM.',
			p_field, p_field) USING ERRCODE = 'WM400';
	END IF;
	RETURN p_text::time;
END $$;

-- The course's modules (settings.modules), in curriculum order, with their
-- position (1-based).
CREATE FUNCTION modules(p_settings jsonb)
RETURNS TABLE (pos integer, key text, title text, theme text, required boolean, guests boolean)
LANGUAGE sql IMMUTABLE AS $$
	SELECT m.i::integer, m.v->>'key', coalesce(m.v->>'title', m.v->>'key'), m.v->>'theme',
	       coalesce((m.v->>'required')::boolean, true), coalesce((m.v->>'guests')::boolean, false)
	FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_settings->'modules') = 'array'
	                               THEN p_settings->'modules' ELSE '[]'::jsonb END)
	     WITH ORDINALITY m(v, i)
	WHERE jsonb_typeof(m.v) = 'object' AND m.v->>'key' IS NOT NULL
$$;

-- Why day `d` takes no session of a cohort of organisation `p_org` at venue
-- `p_venue`: a bank holiday of `p_region` or a 'skip' closure; NULL when it
-- is free.
CREATE FUNCTION day_blocked(p_org bigint, p_venue bigint, p_region text, d date) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		(SELECT 'bank holiday: ' || bh.name FROM group_course.bank_holiday bh
		 WHERE bh.region = p_region AND bh.day = d),
		(SELECT 'closure: ' || c.reason FROM core.closure c
		 WHERE c.org_id = p_org AND c.effect = 'skip'
		   AND (c.venue_id IS NULL OR c.venue_id = p_venue)
		   AND d BETWEEN c.starts_on AND c.ends_on
		 ORDER BY c.id LIMIT 1))
$$;

-- The candidate days of a pattern from day one `p_from`, in order, without
-- the blocked ones: weekly every 7 days; alternating_days two days one
-- week (day one and day one + offset) and one day the next.
CREATE FUNCTION pattern_days(p_pattern text, p_offset integer, p_from date, p_org bigint,
                             p_venue bigint, p_region text, p_count integer)
RETURNS SETOF date LANGUAGE plpgsql STABLE AS $$
DECLARE
	w integer := 0;
	d date;
	n integer := 0;
BEGIN
	WHILE n < p_count LOOP
		FOREACH d IN ARRAY CASE
			WHEN p_pattern = 'weekly' THEN ARRAY[p_from + 7 * w]
			WHEN w % 2 = 0 THEN ARRAY[p_from + 7 * w, p_from + 7 * w + p_offset]
			ELSE ARRAY[p_from + 7 * w] END LOOP
			EXIT WHEN n >= p_count;
			IF group_course.day_blocked(p_org, p_venue, p_region, d) IS NULL THEN
				n := n + 1;
				RETURN NEXT d;
			END IF;
		END LOOP;
		w := w + 1;
		-- Two years of closed days is a mistake, not a timetable.
		IF w > 104 THEN
			RAISE EXCEPTION '%', format('group_course.no_free_days|starts_on|No free day for the timetable within two years of %s (bank holidays and closures).',
				p_from) USING ERRCODE = 'WM422';
		END IF;
	END LOOP;
END $$;

-- A catch-up session is for the people invited to it only: no enrolment
-- seat on a catch-up of the cohort stays active. Since core 0016
-- core.seat_sync_cohort never places one, so this finds nothing; it stays as
-- a guard (and the demo calls it).
CREATE FUNCTION catch_up_unseat(p_cohort bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE core.seat st SET active = false
	FROM core.session s
	WHERE st.session_id = s.id AND s.cohort_id = p_cohort AND s.catch_up
	  AND st.source = 'enrolment' AND st.active
$$;

-- --- The layout ---------------------------------------------------------------

-- Lays out the sessions of cohort `p_cohort` for every module from
-- `p_from_module` on (all modules when NULL) that has no scheduled,
-- non-catch-up session in the cohort yet, from day one `p_from` (the
-- cohort's start when NULL), with the cohort's plan. Each session is made by
-- core.session_lay_out (staff and room clashes refused naming the other
-- session, a 'flag' closure marks it, the cohort's seats follow), its local
-- start read in the programme's zone by core.instant_in (clock changes:
-- 09:30 stays 09:30 local). Raises one 'group_course.guest_approval_missing'
-- alert per new session of a module with guests. Returns the new session
-- ids in start order. Used by the routes and by the demo (the one
-- implementation of the pattern).
CREATE FUNCTION cohort_layout(p_actor bigint, p_cohort bigint, p_from_module text DEFAULT NULL,
                              p_from date DEFAULT NULL) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
	c core.cohort;
	pr core.programme;
	pl group_course.cohort_plan;
	v_from_pos integer;
	todo jsonb;
	mod jsonb;
	days date[];
	n_days integer;
	slot integer := 0;
	d date;
	t time;
	s timestamptz;
	ids bigint[] := ARRAY[]::bigint[];
	new_ids bigint[];
	b jsonb;
BEGIN
	SELECT * INTO c FROM core.cohort WHERE id = p_cohort;
	SELECT * INTO pr FROM core.programme WHERE id = c.programme_id;
	SELECT * INTO pl FROM group_course.cohort_plan WHERE cohort_id = p_cohort;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'group_course.no_plan|cohort_id|This cohort has no delivery plan.'
			USING ERRCODE = 'WM422';
	END IF;
	IF p_from_module IS NOT NULL THEN
		SELECT m.pos INTO v_from_pos FROM group_course.modules(pr.settings) m
		WHERE m.key = p_from_module;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'group_course.unknown_module|from_module|No such module in this course.'
				USING ERRCODE = 'WM422';
		END IF;
	END IF;
	-- The modules still to lay, in curriculum order.
	SELECT coalesce(jsonb_agg(jsonb_build_object('key', m.key, 'title', m.title,
	                                             'guests', m.guests) ORDER BY m.pos), '[]')
	INTO todo
	FROM group_course.modules(pr.settings) m
	WHERE m.pos >= coalesce(v_from_pos, 1)
	  AND NOT EXISTS (SELECT 1 FROM core.session x
	                  WHERE x.cohort_id = p_cohort AND x.module = m.key AND NOT x.catch_up
	                    AND x.status = 'scheduled');
	n_days := jsonb_array_length(todo);
	IF n_days = 0 THEN
		RETURN ids;
	END IF;
	IF pl.pattern = 'alternating_days' THEN
		n_days := (n_days + 1) / 2;
	END IF;
	SELECT array_agg(x ORDER BY x) INTO days
	FROM group_course.pattern_days(pl.pattern, pl.second_day_offset,
	                               coalesce(p_from, c.starts_on), pr.org_id, pl.venue_id,
	                               pl.region, n_days) x;
	FOR mod IN SELECT value FROM jsonb_array_elements(todo) LOOP
		IF pl.pattern = 'weekly' THEN
			d := days[slot + 1];
			t := pl.start_time;
		ELSE
			d := days[slot / 2 + 1];
			t := CASE WHEN slot % 2 = 0 THEN pl.morning_start ELSE pl.afternoon_start END;
		END IF;
		slot := slot + 1;
		s := core.instant_in(to_char(d + t, 'YYYY-MM-DD"T"HH24:MI:SS'), pr.time_zone,
		                     'starts_on');
		b := jsonb_build_object('title', mod->>'title', 'module', mod->>'key',
		                        'cohort_id', p_cohort, 'venue_id', pl.venue_id,
		                        'room_id', pl.room_id, 'location_kind', pl.location_kind,
		                        'delivery_mode', pl.delivery_mode, 'booking_mode', 'enrolled',
		                        'staff', pl.staff);
		new_ids := core.session_lay_out(p_actor, pr, NULL, b, jsonb_build_array(
			jsonb_build_object('s', s, 'e', s + make_interval(mins => pl.session_minutes))));
		ids := ids || new_ids;
		IF (mod->>'guests')::boolean THEN
			PERFORM core.alert_raise(pr.org_id, 'group_course.guest_approval_missing', NULL,
			                         p_cohort, new_ids[1], NULL,
			                         format('Module "%s" on %s has outside guests: no guest approval yet.',
			                                mod->>'title',
			                                core.local_when_text(s, pr.time_zone)),
			                         jsonb_build_object('module', mod->>'key'));
		END IF;
	END LOOP;
	PERFORM group_course.catch_up_unseat(p_cohort);
	RETURN ids;
END $$;

-- The cohort's end date follows its timetable: the local date of its last
-- scheduled session, when later than the recorded one (or none is).
CREATE FUNCTION cohort_extend(p_cohort bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE core.cohort c SET ends_on = x.last, updated_at = now(), version = c.version + 1
	FROM (SELECT max((s.starts_at AT TIME ZONE pr.time_zone)::date) AS last
	      FROM core.session s JOIN core.programme pr ON pr.id = s.programme_id
	      WHERE s.cohort_id = p_cohort AND s.status = 'scheduled') x
	WHERE c.id = p_cohort AND x.last IS NOT NULL AND (c.ends_on IS NULL OR c.ends_on < x.last)
$$;

-- --- JSON ---------------------------------------------------------------------

CREATE FUNCTION plan_json(pl group_course.cohort_plan) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('pattern', pl.pattern,
		'start_time', CASE WHEN pl.pattern = 'weekly' THEN to_char(pl.start_time, 'HH24:MI') END,
		'morning_start', CASE WHEN pl.pattern = 'alternating_days'
		                      THEN to_char(pl.morning_start, 'HH24:MI') END,
		'afternoon_start', CASE WHEN pl.pattern = 'alternating_days'
		                        THEN to_char(pl.afternoon_start, 'HH24:MI') END,
		'second_day_offset', CASE WHEN pl.pattern = 'alternating_days'
		                          THEN pl.second_day_offset END,
		'session_minutes', pl.session_minutes, 'region', pl.region, 'venue_id', pl.venue_id,
		'room_id', pl.room_id, 'location_kind', pl.location_kind,
		'delivery_mode', pl.delivery_mode, 'staff', pl.staff)
$$;

-- One session of a timetable: the core's session JSON plus what a course
-- coordinator checks.
CREATE FUNCTION timetable_session_json(s core.session, p_tz text, p_settings jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT core.session_json(s, p_tz) || jsonb_build_object(
		'module_position', (SELECT m.pos FROM group_course.modules(p_settings) m
		                    WHERE m.key = s.module),
		'guests', coalesce(g.guests, false),
		'guest_approval', (SELECT jsonb_build_object('approved_by', ga.approved_by,
		                          'approved_at', core.utc_text(ga.approved_at), 'note', ga.note)
		                   FROM group_course.guest_approval ga WHERE ga.session_id = s.id),
		'guest_approval_missing', coalesce(g.guests, false) AND s.status = 'scheduled'
		                          AND NOT EXISTS (SELECT 1 FROM group_course.guest_approval ga
		                                          WHERE ga.session_id = s.id),
		'attendance_taken', EXISTS (SELECT 1 FROM core.attendance a WHERE a.session_id = s.id),
		'catch_up_enrolment_id', (SELECT cu.enrolment_id FROM group_course.catch_up cu
		                          WHERE cu.session_id = s.id))
	FROM (SELECT (SELECT m.guests FROM group_course.modules(p_settings) m
	              WHERE m.key = s.module) AS guests) g
$$;

CREATE FUNCTION timetable_json(p_cohort bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'cohort', core.cohort_json(c),
		'programme', jsonb_build_object('id', pr.id, 'name', pr.name,
		                                'time_zone', pr.time_zone),
		'plan', (SELECT group_course.plan_json(pl) FROM group_course.cohort_plan pl
		         WHERE pl.cohort_id = c.id),
		'modules', coalesce((
			SELECT jsonb_agg(jsonb_build_object('position', m.pos, 'key', m.key,
				'title', m.title, 'required', m.required, 'guests', m.guests,
				'session_ids', coalesce((SELECT jsonb_agg(s.id ORDER BY s.starts_at)
				                         FROM core.session s
				                         WHERE s.cohort_id = c.id AND s.module = m.key
				                           AND NOT s.catch_up AND s.status = 'scheduled'),
				                        '[]'::jsonb),
				'catch_up_session_ids', coalesce((SELECT jsonb_agg(s.id ORDER BY s.starts_at)
				                                  FROM core.session s
				                                  WHERE s.cohort_id = c.id AND s.module = m.key
				                                    AND s.catch_up AND s.status = 'scheduled'),
				                                 '[]'::jsonb))
				ORDER BY m.pos)
			FROM group_course.modules(pr.settings) m), '[]'::jsonb),
		'sessions', coalesce((
			SELECT jsonb_agg(group_course.timetable_session_json(s, pr.time_zone, pr.settings)
			                 ORDER BY s.starts_at, s.id)
			FROM core.session s WHERE s.cohort_id = c.id), '[]'::jsonb),
		'relays', coalesce((
			SELECT jsonb_agg(jsonb_build_object('id', r.id, 'from_module', r.from_module,
				'from_date', to_char(r.from_date, 'YYYY-MM-DD'), 'reason', r.reason,
				'cancelled', to_jsonb(r.cancelled), 'kept', to_jsonb(r.kept),
				'laid', to_jsonb(r.laid), 'created_at', core.utc_text(r.created_at),
				'created_by', r.created_by) ORDER BY r.id)
			FROM group_course.relay r WHERE r.cohort_id = c.id), '[]'::jsonb))
	FROM core.cohort c JOIN core.programme pr ON pr.id = c.programme_id
	WHERE c.id = p_cohort
$$;

-- --- Routes -------------------------------------------------------------------

-- Refuses a programme that is not a course, naming the field (in scope:
-- the caller manages or runs it).
CREATE FUNCTION course_refuse_type(pr core.programme, p_field text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF pr.type <> 'group_course' THEN
		RAISE EXCEPTION '%', format('group_course.not_a_course|%s|This programme is not a group course.',
			p_field) USING ERRCODE = 'WM422';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM group_course.modules(pr.settings)) THEN
		RAISE EXCEPTION '%', format('group_course.no_modules|%s|The course has no modules yet: set settings.modules first.',
			p_field) USING ERRCODE = 'WM422';
	END IF;
END $$;

-- GET /api/v1/group_course/courses/{id}: the curriculum and its cohorts,
-- for those who manage or run the course.
CREATE FUNCTION course_get(p_staff bigint, p_addr inet, p_rid text, p_programme bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', pr.id, 'organisation_id', pr.org_id, 'name', pr.name,
		'description', pr.description, 'time_zone', pr.time_zone,
		'rule_version', pr.settings->'rule_version', 'min_share', pr.settings->'min_share',
		'absence_alert_after', pr.settings->'absence_alert_after',
		'qualification', pr.settings->'qualification',
		'prerequisites', coalesce(pr.settings->'prerequisites', '[]'::jsonb),
		'modules', coalesce((SELECT jsonb_agg(jsonb_build_object('position', m.pos,
		                        'key', m.key, 'title', m.title, 'theme', m.theme,
		                        'required', m.required, 'guests', m.guests) ORDER BY m.pos)
		                     FROM group_course.modules(pr.settings) m), '[]'::jsonb),
		'counts', jsonb_build_object(
			'modules', (SELECT count(*) FROM group_course.modules(pr.settings)),
			'required', (SELECT count(*) FROM group_course.modules(pr.settings) m
			             WHERE m.required),
			'with_guests', (SELECT count(*) FROM group_course.modules(pr.settings) m
			                WHERE m.guests)),
		'cohorts', coalesce((SELECT jsonb_agg(jsonb_build_object('id', c.id, 'name', c.name,
		                         'starts_on', to_char(c.starts_on, 'YYYY-MM-DD'),
		                         'ends_on', to_char(c.ends_on, 'YYYY-MM-DD'),
		                         'status', c.status, 'capacity', c.capacity,
		                         'pattern', pl.pattern) ORDER BY c.starts_on, c.id)
		                     FROM core.cohort c
		                     LEFT JOIN group_course.cohort_plan pl ON pl.cohort_id = c.id
		                     WHERE c.programme_id = pr.id), '[]'::jsonb),
		'access', a.access)
	FROM core.programme pr
	CROSS JOIN LATERAL (SELECT core.programme_access(p_staff, pr.id) AS access) a
	WHERE pr.id = p_programme AND pr.type = 'group_course' AND a.access IN ('manage', 'run')
$$;

-- POST /api/v1/group_course/cohorts: the core cohort (core.cohort_create:
-- its checks and its 'cohort.create' audit row), the plan, the timetable;
-- ends_on, when not given, becomes the last session's date. `b` is the
-- validated body; `p_region` the plugin's bank-holiday region.
CREATE FUNCTION cohort_create(p_staff bigint, p_addr inet, p_rid text, b jsonb, p_region text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	pr core.programme;
	v_cohort jsonb;
	v_id bigint;
	v_starts date := group_course.date_in(b->>'starts_on', 'starts_on');
	v_ends date := group_course.date_in(b->>'ends_on', 'ends_on');
	v_pattern text := b->>'pattern';
	v_kind core.location_kind;
	pl group_course.cohort_plan;
	ids bigint[];
BEGIN
	SELECT * INTO pr FROM core.programme
	WHERE id = (b->>'programme_id')::bigint AND archived_at IS NULL FOR SHARE;
	IF NOT FOUND OR core.programme_access(p_staff, pr.id) IS DISTINCT FROM 'manage' THEN
		RAISE EXCEPTION 'core.not_found|programme_id|No such course.' USING ERRCODE = 'WM404';
	END IF;
	PERFORM group_course.course_refuse_type(pr, 'programme_id');
	IF v_pattern = 'weekly' AND (b ? 'morning_start' OR b ? 'afternoon_start'
	                             OR b ? 'second_day_offset') THEN
		RAISE EXCEPTION '%', format('group_course.not_for_pattern|%s|Only the alternating_days pattern has morning and afternoon sessions.',
			CASE WHEN b ? 'morning_start' THEN 'morning_start'
			     WHEN b ? 'afternoon_start' THEN 'afternoon_start'
			     ELSE 'second_day_offset' END) USING ERRCODE = 'WM400';
	END IF;
	IF v_pattern = 'alternating_days' AND b ? 'start_time' THEN
		RAISE EXCEPTION 'group_course.not_for_pattern|start_time|The alternating_days pattern takes morning_start and afternoon_start.'
			USING ERRCODE = 'WM400';
	END IF;
	-- The place: the room implies its venue; the location kind defaults
	-- to the venue's.
	SELECT x.venue_id, x.room_id INTO pl.venue_id, pl.room_id
	FROM core.session_place(pr.org_id, (b->>'venue_id')::bigint, (b->>'room_id')::bigint) x;
	v_kind := coalesce((b->>'location_kind')::core.location_kind,
	                   (SELECT v.location_kind FROM core.venue v WHERE v.id = pl.venue_id));
	IF v_kind IS NULL THEN
		RAISE EXCEPTION 'group_course.location_required|location_kind|Give location_kind, or a venue_id whose kind it takes.'
			USING ERRCODE = 'WM422';
	END IF;
	PERFORM core.session_check_staff(pr.org_id, b->'staff');

	IF v_pattern = 'alternating_days'
	   AND coalesce(group_course.time_in(b->>'afternoon_start', 'afternoon_start'), '13:00')
	       < coalesce(group_course.time_in(b->>'morning_start', 'morning_start'), '09:30')
	         + make_interval(mins => coalesce((b->>'session_minutes')::integer, 150)) THEN
		RAISE EXCEPTION 'group_course.sessions_overlap|afternoon_start|The afternoon session would start before the morning one ends.'
			USING ERRCODE = 'WM422';
	END IF;
	v_cohort := core.cohort_create(p_staff, p_addr, p_rid, pr.id,
	                               jsonb_build_object('name', b->'name',
	                                                  'starts_on', to_char(v_starts, 'YYYY-MM-DD'),
	                                                  'ends_on', to_char(v_ends, 'YYYY-MM-DD'),
	                                                  'capacity', b->'capacity'));
	v_id := (v_cohort->>'id')::bigint;
	INSERT INTO group_course.cohort_plan (cohort_id, pattern, start_time, morning_start,
		afternoon_start, session_minutes, second_day_offset, region, venue_id, room_id,
		location_kind, delivery_mode, staff, created_by)
	VALUES (v_id, v_pattern,
	        coalesce(group_course.time_in(b->>'start_time', 'start_time'), '09:30'),
	        coalesce(group_course.time_in(b->>'morning_start', 'morning_start'), '09:30'),
	        coalesce(group_course.time_in(b->>'afternoon_start', 'afternoon_start'), '13:00'),
	        coalesce((b->>'session_minutes')::integer,
	                 CASE v_pattern WHEN 'weekly' THEN 240 ELSE 150 END),
	        coalesce((b->>'second_day_offset')::integer, 2), coalesce(p_region, 'england_wales'),
	        pl.venue_id, pl.room_id, v_kind,
	        coalesce((b->>'delivery_mode')::core.delivery_mode, 'face_to_face'),
	        coalesce(b->'staff', '[]'::jsonb), p_staff);
	ids := group_course.cohort_layout(p_staff, v_id, NULL, v_starts);
	IF v_ends IS NULL THEN
		PERFORM group_course.cohort_extend(v_id);
	ELSIF EXISTS (SELECT 1 FROM core.session s WHERE s.id = ANY (ids)
	              AND (s.starts_at AT TIME ZONE pr.time_zone)::date > v_ends) THEN
		RAISE EXCEPTION 'group_course.ends_too_early|ends_on|The timetable runs past ends_on: leave ends_on out, or give a later date.'
			USING ERRCODE = 'WM422';
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'group_course.cohort_create', 'cohort', v_id, p_addr, p_rid,
	        jsonb_build_object('programme_id', pr.id, 'pattern', v_pattern,
	                           'sessions', cardinality(ids),
	                           'fields', (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)
	                                      FROM jsonb_object_keys(b) k)));
	RETURN group_course.timetable_json(v_id);
END $$;

-- GET /api/v1/group_course/cohorts/{id}/timetable: for those who manage or
-- run the course (core.cohort_access); a cohort of another programme type
-- is not found.
CREATE FUNCTION timetable_get(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT group_course.timetable_json(c.id)
	FROM core.cohort c JOIN core.programme pr ON pr.id = c.programme_id
	WHERE c.id = p_cohort AND pr.type = 'group_course'
	  AND core.cohort_access(p_staff, c.id) IS NOT NULL
$$;

-- POST /api/v1/group_course/cohorts/{id}/relay {from_module, from_date,
-- reason}: every scheduled session of that module and the later ones
-- (catch-ups aside) with no attendance recorded is cancelled (the core's
-- cancellation: cancel_reason, SEQUENCE + 1, seats and staff freed, bookings
-- handed on); sessions with attendance are kept untouched; then every
-- module from from_module on left without a scheduled session is laid out
-- again with the cohort's pattern, from_date being day one.
CREATE FUNCTION cohort_relay(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint, b jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c core.cohort;
	pr core.programme;
	v_pos integer;
	v_from date := group_course.date_in(b->>'from_date', 'from_date');
	v_today date;
	v_cancel bigint[];
	v_kept bigint[];
	ids bigint[];
	v_relay bigint;
BEGIN
	SELECT * INTO c FROM core.cohort WHERE id = p_cohort FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT * INTO pr FROM core.programme WHERE id = c.programme_id;
	IF pr.type <> 'group_course' OR core.programme_access(p_staff, pr.id)
	                                IS DISTINCT FROM 'manage' THEN
		RETURN NULL;
	END IF;
	-- Registers of this cohort wait for the re-lay, and it for them (the
	-- lock core.register_lock takes for a cohort's sessions).
	PERFORM pg_advisory_xact_lock(5313, (p_cohort % 2147483647)::integer);
	SELECT m.pos INTO v_pos FROM group_course.modules(pr.settings) m
	WHERE m.key = b->>'from_module';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'group_course.unknown_module|from_module|No such module in this course.'
			USING ERRCODE = 'WM422';
	END IF;
	IF c.status IN ('finished', 'cancelled') THEN
		RAISE EXCEPTION '%', format('group_course.cohort_closed|cohort_id|The cohort is %s: its timetable cannot change.',
			c.status) USING ERRCODE = 'WM409';
	END IF;
	v_today := (core.clock() AT TIME ZONE pr.time_zone)::date;
	IF v_from < v_today THEN
		RAISE EXCEPTION 'group_course.past_date|from_date|from_date is in the past: a timetable is re-laid from today or later.'
			USING ERRCODE = 'WM422';
	END IF;
	SELECT coalesce(array_agg(s.id ORDER BY s.starts_at) FILTER (WHERE NOT x.attended), '{}'),
	       coalesce(array_agg(s.id ORDER BY s.starts_at) FILTER (WHERE x.attended), '{}')
	INTO v_cancel, v_kept
	FROM core.session s
	JOIN group_course.modules(pr.settings) m ON m.key = s.module AND m.pos >= v_pos
	CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM core.attendance a
	                                   WHERE a.session_id = s.id) AS attended) x
	WHERE s.cohort_id = p_cohort AND NOT s.catch_up AND s.status = 'scheduled';
	PERFORM 1 FROM core.session WHERE id = ANY (v_cancel) ORDER BY id FOR UPDATE;
	PERFORM core.session_cancel_many(v_cancel, b->>'reason');
	UPDATE core.alert SET resolved_at = now(), resolved_by = p_staff
	WHERE kind = 'group_course.guest_approval_missing' AND session_id = ANY (v_cancel)
	  AND resolved_at IS NULL;
	ids := group_course.cohort_layout(p_staff, p_cohort, b->>'from_module', v_from);
	PERFORM group_course.cohort_extend(p_cohort);
	INSERT INTO group_course.relay (cohort_id, from_module, from_date, reason, cancelled, kept,
	                                laid, created_by)
	VALUES (p_cohort, b->>'from_module', v_from, b->>'reason', v_cancel, v_kept, ids, p_staff)
	RETURNING id INTO v_relay;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, pr.org_id, 'session.cancel', 'session', x, p_addr, p_rid,
	       jsonb_build_object('fields', jsonb_build_array('status', 'cancel_reason'),
	                          'relay_id', v_relay)
	FROM unnest(v_cancel) x;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'group_course.cohort_relay', 'cohort', p_cohort, p_addr, p_rid,
	        jsonb_build_object('relay_id', v_relay, 'from_module', b->>'from_module',
	                           'from_date', v_from, 'cancelled', cardinality(v_cancel),
	                           'kept', cardinality(v_kept), 'laid', cardinality(ids)));
	RETURN jsonb_build_object('relay_id', v_relay, 'cancelled', to_jsonb(v_cancel),
	                          'kept', to_jsonb(v_kept), 'laid', to_jsonb(ids),
	                          'timetable', group_course.timetable_json(p_cohort));
END $$;

-- POST /api/v1/group_course/enrolments/{id}/catch-ups {module, start,
-- duration_minutes?, venue_id?, room_id?, location_kind?, delivery_mode?,
-- staff?}: a session of the cohort for that module with catch_up = true, on
-- which the enrolment's person alone is seated (seat source 'invited', core
-- 0016): the cohort's seat sync leaves catch-ups alone and the completion
-- facts call a catch-up expected only of the people it seats, so nobody
-- else can be absent from it, and it counts for its module. Refused on a
-- closed day, for someone who has left, or at a time the person is not
-- expected in the course (before joining, on hold). Admins and
-- coordinators, and the facilitators who run the course.
CREATE FUNCTION catch_up_create(p_staff bigint, p_addr inet, p_rid text, p_enrolment bigint,
                                b jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	e core.enrolment;
	c core.cohort;
	pr core.programme;
	pl group_course.cohort_plan;
	m record;
	s timestamptz;
	ids bigint[];
	v_sid bigint;
	v_blocked text;
	v_minutes integer;
	v_kind core.location_kind;
	v_venue bigint;
BEGIN
	SELECT * INTO e FROM core.enrolment WHERE id = p_enrolment FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT * INTO c FROM core.cohort WHERE id = e.cohort_id;
	SELECT * INTO pr FROM core.programme WHERE id = c.programme_id AND archived_at IS NULL;
	IF NOT FOUND OR pr.type <> 'group_course'
	   OR coalesce(core.programme_access(p_staff, pr.id), '') NOT IN ('manage', 'run') THEN
		RETURN NULL;
	END IF;
	IF e.status = 'left' THEN
		RAISE EXCEPTION 'group_course.enrolment_left|enrolment_id|This person has left the course: no catch-up can be arranged.'
			USING ERRCODE = 'WM409';
	END IF;
	SELECT * INTO m FROM group_course.modules(pr.settings) x WHERE x.key = b->>'module';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'group_course.unknown_module|module|No such module in this course.'
			USING ERRCODE = 'WM422';
	END IF;
	SELECT * INTO pl FROM group_course.cohort_plan WHERE cohort_id = c.id;
	s := core.instant_in(b->>'start', pr.time_zone, 'start');
	v_venue := CASE WHEN b ? 'venue_id' OR b ? 'room_id' THEN (b->>'venue_id')::bigint
	                ELSE pl.venue_id END;
	v_blocked := group_course.day_blocked(pr.org_id, v_venue, coalesce(pl.region, 'england_wales'),
	                                      (s AT TIME ZONE pr.time_zone)::date);
	IF v_blocked IS NOT NULL THEN
		RAISE EXCEPTION '%', format('group_course.closed_day|start|No session can be held that day (%s).',
			v_blocked) USING ERRCODE = 'WM422';
	END IF;
	v_minutes := coalesce((b->>'duration_minutes')::integer, pl.session_minutes, 150);
	v_kind := coalesce((b->>'location_kind')::core.location_kind,
	                   (SELECT v.location_kind FROM core.venue v
	                    WHERE v.id = v_venue AND NOT (b ? 'location_kind')),
	                   pl.location_kind);
	IF v_kind IS NULL THEN
		RAISE EXCEPTION 'group_course.location_required|location_kind|Give location_kind, or a venue_id whose kind it takes.'
			USING ERRCODE = 'WM422';
	END IF;
	IF NOT coalesce(core.enrolment_expects(e.id, s), false) THEN
		RAISE EXCEPTION 'group_course.not_expected|start|This person is not expected in the course then (before joining, on hold, or after leaving).'
			USING ERRCODE = 'WM422';
	END IF;
	ids := core.session_lay_out(p_staff, pr, NULL, jsonb_build_object(
		'title', left(m.title || ' (catch-up)', 200), 'module', m.key, 'catch_up', true,
		'cohort_id', c.id, 'venue_id', v_venue, 'room_id', b->'room_id',
		'location_kind', v_kind,
		'delivery_mode', coalesce(b->>'delivery_mode', pl.delivery_mode::text, 'face_to_face'),
		'booking_mode', 'enrolled', 'staff', coalesce(b->'staff', '[]'::jsonb)),
		jsonb_build_array(jsonb_build_object('s', s,
		                                     'e', s + make_interval(mins => v_minutes))));
	v_sid := ids[1];
	BEGIN
		INSERT INTO core.seat (session_id, person_id, source, during, active)
		SELECT x.id, e.person_id, 'invited', x.during, true FROM core.session x
		WHERE x.id = v_sid;
	EXCEPTION WHEN exclusion_violation THEN
		PERFORM core.booking_raise_clash(p_staff, v_sid, e.person_id);
	END;
	INSERT INTO group_course.catch_up (session_id, enrolment_id, module, created_by)
	VALUES (v_sid, e.id, m.key, p_staff);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'group_course.catch_up_create', 'session', v_sid, e.person_id,
	        p_addr, p_rid, jsonb_build_object('enrolment_id', e.id, 'cohort_id', c.id,
	                                          'module', m.key,
	                                          'fields', (SELECT jsonb_agg(k ORDER BY k)
	                                                     FROM jsonb_object_keys(b) k)));
	IF m.guests THEN
		PERFORM core.alert_raise(pr.org_id, 'group_course.guest_approval_missing', NULL, c.id,
		                         v_sid, NULL,
		                         format('Module "%s" on %s has outside guests: no guest approval yet.',
		                                m.title, core.local_when_text(s, pr.time_zone)),
		                         jsonb_build_object('module', m.key));
	END IF;
	RETURN (SELECT group_course.timetable_session_json(x, pr.time_zone, pr.settings)
	               || jsonb_build_object('enrolment_id', e.id, 'person_id', e.person_id)
	        FROM core.session x WHERE x.id = v_sid);
END $$;

-- POST /api/v1/group_course/sessions/{id}/guest-approval {note?}: records
-- that the outside guests of this session are approved (once: a second
-- approval answers the first) and resolves its open
-- 'group_course.guest_approval_missing' alerts. Admins and coordinators.
CREATE FUNCTION guest_approve(p_staff bigint, p_addr inet, p_rid text, p_session bigint, b jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	s core.session;
	pr core.programme;
	v_guests boolean;
	v_new boolean := false;
	ga group_course.guest_approval;
BEGIN
	SELECT * INTO s FROM core.session WHERE id = p_session FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT * INTO pr FROM core.programme WHERE id = s.programme_id;
	IF pr.type <> 'group_course' OR NOT core.session_manages(p_staff, s.id) THEN
		RETURN NULL;
	END IF;
	SELECT m.guests INTO v_guests FROM group_course.modules(pr.settings) m
	WHERE m.key = s.module;
	IF NOT coalesce(v_guests, false) THEN
		RAISE EXCEPTION 'group_course.no_guests||This session''s module has no outside guests: there is nothing to approve.'
			USING ERRCODE = 'WM422';
	END IF;
	IF s.status <> 'scheduled' THEN
		RAISE EXCEPTION 'group_course.session_cancelled||This session was cancelled.'
			USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO group_course.guest_approval (session_id, approved_by, note)
	VALUES (s.id, p_staff, b->>'note')
	ON CONFLICT (session_id) DO NOTHING
	RETURNING * INTO ga;
	IF FOUND THEN
		v_new := true;
		UPDATE core.alert SET resolved_at = now(), resolved_by = p_staff
		WHERE session_id = s.id AND kind = 'group_course.guest_approval_missing'
		  AND resolved_at IS NULL;
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        remote_addr, request_id, detail)
		VALUES (p_staff, s.org_id, 'group_course.guest_approve', 'session', s.id, p_addr, p_rid,
		        jsonb_build_object('module', s.module,
		                           'fields', CASE WHEN b ? 'note' THEN '["note"]'::jsonb
		                                          ELSE '[]'::jsonb END));
	ELSE
		SELECT * INTO ga FROM group_course.guest_approval WHERE session_id = s.id;
	END IF;
	RETURN jsonb_build_object('session_id', s.id, 'module', s.module,
	                          'approved_by', ga.approved_by,
	                          'approved_at', core.utc_text(ga.approved_at), 'note', ga.note,
	                          'created', v_new);
END $$;

-- GET /api/v1/group_course/checks?days=N: the scheduled sessions of the
-- next N days, of the courses the caller manages or runs, whose module has
-- outside guests and no approval yet.
CREATE FUNCTION checks(p_staff bigint, p_addr inet, p_rid text, p_days integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	WITH w AS (SELECT core.clock() AS t0, core.clock() + make_interval(days => p_days) AS t1),
	x AS (
		SELECT s, pr.time_zone, m.title AS module_title
		FROM w, core.session s
		JOIN core.programme pr ON pr.id = s.programme_id AND pr.type = 'group_course'
		                      AND pr.archived_at IS NULL
		JOIN group_course.modules(pr.settings) m ON m.key = s.module AND m.guests
		WHERE s.status = 'scheduled' AND s.starts_at >= w.t0 AND s.starts_at < w.t1
		  AND NOT EXISTS (SELECT 1 FROM group_course.guest_approval ga
		                  WHERE ga.session_id = s.id)
		  AND core.programme_access(p_staff, pr.id) IN ('manage', 'run'))
	SELECT jsonb_build_object(
		'days', p_days, 'from', core.utc_text(w.t0), 'to', core.utc_text(w.t1),
		'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
		                       'check', 'guest_approval_missing',
		                       'session_id', (x.s).id, 'programme_id', (x.s).programme_id,
		                       'cohort_id', (x.s).cohort_id, 'module', (x.s).module,
		                       'module_title', x.module_title, 'title', (x.s).title,
		                       'starts_at', core.utc_text((x.s).starts_at),
		                       'local', core.session_local((x.s).starts_at, (x.s).ends_at,
		                                                   x.time_zone))
		                       ORDER BY (x.s).starts_at, (x.s).id)
		                   FROM x), '[]'::jsonb))
	FROM w
$$;
