-- group_course 0003: what a course leads to — certificates, the graduation
-- (a family event: a booked session of its own that participants' households
-- are booked onto through the core's booking function, so it shows in their
-- family calendar feeds), onward referrals to the seven pathways out of
-- reoffending and to mentoring (core referral records), the per-cohort
-- report for commissioners, and the demo (group_course.demo_load).
--
-- Runs with search_path = group_course; every name is qualified. Each route
-- of gc_outcomes.c / gc_report.c is one call of one function here, taking
-- the request context first (staff, peer address, request id): it checks
-- scope (NULL = 404, ids reveal nothing), refuses with
-- RAISE 'group_course.<code>|<field>|<message>' USING ERRCODE 'WM4xx', makes
-- the change, writes the audit rows and returns the JSON reply. Functions
-- that call functions of the other migrations (0001, 0002) are plpgsql, resolved at
-- run time.

CREATE TYPE pathway AS ENUM (
	'accommodation', 'education_training_employment', 'health', 'drugs_alcohol',
	'finance_benefit_debt', 'children_families', 'attitudes_thinking_behaviour', 'mentoring');

-- One certificate per enrolment, only ever for a completed one. The number
-- is "LCP-<cohort>-<n>", n counting the cohort's certificates from 1; the
-- qualification is copied from the programme's settings when issued, so a
-- later change of settings never rewrites a certificate.
CREATE TABLE certificate (
	id bigserial PRIMARY KEY,
	enrolment_id bigint NOT NULL UNIQUE REFERENCES core.enrolment,
	cohort_id bigint NOT NULL REFERENCES core.cohort,
	serial integer NOT NULL CHECK (serial > 0),
	number text NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 60),
	rule_version text NOT NULL CHECK (length(rule_version) BETWEEN 1 AND 100),
	qualification_name text CHECK (length(qualification_name) BETWEEN 1 AND 200),
	qualification_level integer,
	qualification_credits integer,
	issued_at timestamptz NOT NULL DEFAULT now(),
	issued_by bigint REFERENCES core.staff,
	UNIQUE (cohort_id, serial)
);

-- A cohort's graduation: a session of the course's programme, booked (not
-- enrolled) and outside the cohort (cohort_id NULL, so the cohort's seats
-- never spread to it and it never counts in anyone's completion), module
-- 'graduation'.
CREATE TABLE graduation (
	cohort_id bigint PRIMARY KEY REFERENCES core.cohort,
	session_id bigint NOT NULL UNIQUE REFERENCES core.session,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES core.staff
);

-- Households invited through a graduate: their members' bookings are core
-- bookings of the graduation session.
CREATE TABLE graduation_household (
	cohort_id bigint NOT NULL REFERENCES graduation,
	household_id bigint NOT NULL REFERENCES core.household,
	enrolment_id bigint NOT NULL REFERENCES core.enrolment,
	added_at timestamptz NOT NULL DEFAULT now(),
	added_by bigint REFERENCES core.staff,
	PRIMARY KEY (cohort_id, household_id)
);

-- An onward referral made from a course: the core referral record (in the
-- course's organisation or, with live consent, another), its pathway, and
-- where the participant stood when it was made.
CREATE TABLE onward_referral (
	id bigserial PRIMARY KEY,
	enrolment_id bigint NOT NULL REFERENCES core.enrolment,
	referral_id bigint NOT NULL UNIQUE REFERENCES core.referral,
	pathway pathway NOT NULL,
	organisation_id bigint NOT NULL REFERENCES core.organisation,
	note text CHECK (length(note) BETWEEN 1 AND 2000),
	completion_result core.completion_result,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES core.staff,
	UNIQUE (enrolment_id, pathway, organisation_id)
);
CREATE INDEX onward_referral_enrolment ON onward_referral (enrolment_id);

-- --- Scope -------------------------------------------------------------------

-- How `p_staff` reaches a course's outcomes: 'manage' (admin or
-- coordinator of the programme's organisation) or, when `p_run` allows it,
-- 'run' (a facilitator of the organisation who runs the programme and, for
-- a person's outcome, has the person on their caseload); NULL otherwise,
-- and for a programme of another type (not a course: not found, as the
-- plugin's other routes answer).
CREATE FUNCTION out_access(p_staff bigint, p_programme bigint, p_person bigint, p_run boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
	a text := core.programme_access(p_staff, p_programme);
BEGIN
	IF NOT EXISTS (SELECT 1 FROM core.programme
	               WHERE id = p_programme AND type = 'group_course') THEN
		RETURN NULL;
	END IF;
	IF a = 'manage' THEN
		RETURN a;
	END IF;
	IF a = 'run' AND p_run
	   AND core.has_role(p_staff, (SELECT org_id FROM core.programme WHERE id = p_programme),
	                     ARRAY['facilitator']::core.staff_role[])
	   AND (p_person IS NULL OR core.person_access(p_staff, p_person) IS NOT NULL) THEN
		RETURN 'run';
	END IF;
	RETURN NULL;
END $$;

-- --- Certificates ------------------------------------------------------------

CREATE FUNCTION certificate_json(c group_course.certificate, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id, 'number', c.number, 'enrolment_id', c.enrolment_id,
		'cohort_id', c.cohort_id, 'programme_id', co.programme_id, 'person_id', e.person_id,
		'person', CASE WHEN core.person_access(p_staff, e.person_id) IS NOT NULL
		               THEN jsonb_build_object('given_name', p.given_name,
		                                       'family_name', p.family_name) END,
		'rule_version', c.rule_version,
		'qualification', CASE WHEN c.qualification_name IS NOT NULL THEN jsonb_build_object(
			'name', c.qualification_name, 'level', c.qualification_level,
			'credits', c.qualification_credits) END,
		'issued_at', core.utc_text(c.issued_at),
		'issued_by', core.staff_shown(p_staff, c.issued_by))
	FROM core.enrolment e JOIN core.person p ON p.id = e.person_id
	JOIN core.cohort co ON co.id = c.cohort_id
	WHERE e.id = c.enrolment_id
$$;

-- POST /enrolments/{id}/certificate: only for a completed enrolment (the
-- stored decision of the plugin's rule), once.
CREATE FUNCTION certificate_issue(p_staff bigint, p_addr inet, p_rid text, p_enrolment bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	e core.enrolment;
	co core.cohort;
	pr core.programme;
	cp core.completion;
	c group_course.certificate;
	q jsonb;
	v_serial integer;
BEGIN
	SELECT * INTO e FROM core.enrolment WHERE id = p_enrolment;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	-- The cohort row serialises the numbering of its certificates.
	SELECT * INTO co FROM core.cohort WHERE id = e.cohort_id FOR UPDATE;
	SELECT * INTO pr FROM core.programme WHERE id = co.programme_id;
	IF group_course.out_access(p_staff, pr.id, e.person_id, true) IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT * INTO c FROM group_course.certificate WHERE enrolment_id = e.id;
	IF FOUND THEN
		RAISE EXCEPTION '%', format('group_course.already_issued||Certificate %s was issued for this enrolment already.',
			c.number) USING ERRCODE = 'WM409';
	END IF;
	SELECT * INTO cp FROM core.completion WHERE enrolment_id = e.id;
	IF NOT FOUND OR cp.result <> 'completed' THEN
		RAISE EXCEPTION '%', format('group_course.not_completed||A certificate is issued only on completion; this enrolment is %s.',
			replace(coalesce(cp.result::text, 'in_progress'), '_', ' ')) USING ERRCODE = 'WM409';
	END IF;
	q := pr.settings->'qualification';
	IF jsonb_typeof(q) IS DISTINCT FROM 'object' THEN
		q := NULL;
	END IF;
	SELECT coalesce(max(serial), 0) + 1 INTO v_serial FROM group_course.certificate
	WHERE cohort_id = co.id;
	INSERT INTO group_course.certificate (enrolment_id, cohort_id, serial, number, rule_version,
	                                      qualification_name, qualification_level,
	                                      qualification_credits, issued_by)
	VALUES (e.id, co.id, v_serial, format('LCP-%s-%s', co.id, v_serial), cp.rule_version,
	        q->>'name', (q->>'level')::integer, (q->>'credits')::integer, p_staff)
	RETURNING * INTO c;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'group_course.certificate_issue', 'certificate', c.id,
	        e.person_id, p_addr, p_rid,
	        jsonb_build_object('enrolment_id', e.id, 'cohort_id', co.id, 'number', c.number,
	                           'rule_version', c.rule_version,
	                           'qualification', q IS NOT NULL));
	RETURN group_course.certificate_json(c, p_staff);
END $$;

-- GET /cohorts/{id}/certificates: in number order; a child named on one is
-- an audited read.
CREATE FUNCTION certificate_list(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	co core.cohort;
	pr core.programme;
BEGIN
	SELECT * INTO co FROM core.cohort WHERE id = p_cohort;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT * INTO pr FROM core.programme WHERE id = co.programme_id;
	IF group_course.out_access(p_staff, pr.id, NULL, true) IS NULL THEN
		RETURN NULL;
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id)
	SELECT p_staff, pr.org_id, 'group_course.certificate_read_child', 'certificate', c.id,
	       e.person_id, p_addr, p_rid
	FROM group_course.certificate c JOIN core.enrolment e ON e.id = c.enrolment_id
	WHERE c.cohort_id = co.id AND core.is_child(e.person_id)
	  AND core.person_access(p_staff, e.person_id) IS NOT NULL;
	RETURN jsonb_build_object('cohort_id', co.id, 'items', coalesce((
		SELECT jsonb_agg(group_course.certificate_json(c, p_staff) ORDER BY c.serial)
		FROM group_course.certificate c WHERE c.cohort_id = co.id), '[]'::jsonb));
END $$;

-- --- Graduation --------------------------------------------------------------

CREATE FUNCTION graduation_json(g group_course.graduation, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'cohort_id', g.cohort_id,
		'session', jsonb_build_object(
			'id', s.id, 'programme_id', s.programme_id, 'title', s.title,
			'module', s.module, 'booking_mode', s.booking_mode, 'status', s.status,
			'starts_at', core.utc_text(s.starts_at), 'ends_at', core.utc_text(s.ends_at),
			'local', jsonb_build_object(
				'date', to_char(s.starts_at AT TIME ZONE pr.time_zone, 'YYYY-MM-DD'),
				'start', to_char(s.starts_at AT TIME ZONE pr.time_zone, 'HH24:MI'),
				'end', to_char(s.ends_at AT TIME ZONE pr.time_zone, 'HH24:MI'),
				'time_zone', pr.time_zone),
			'location_kind', s.location_kind, 'venue_id', s.venue_id, 'room_id', s.room_id,
			'capacity', s.capacity, 'booked', s.booked, 'sequence', s.sequence),
		'households', coalesce((SELECT jsonb_agg(jsonb_build_object(
			'household_id', gh.household_id, 'enrolment_id', gh.enrolment_id,
			'added_at', core.utc_text(gh.added_at),
			'added_by', core.staff_shown(p_staff, gh.added_by)) ORDER BY gh.added_at,
			gh.household_id)
			FROM group_course.graduation_household gh WHERE gh.cohort_id = g.cohort_id),
			'[]'::jsonb),
		'bookings', (SELECT jsonb_build_object(
			'booked', count(*) FILTER (WHERE b.status = 'booked'),
			'waitlisted', count(*) FILTER (WHERE b.status = 'waitlisted'),
			'offered', count(*) FILTER (WHERE b.status = 'offered'))
			FROM core.booking b WHERE b.session_id = s.id),
		'created_at', core.utc_text(g.created_at),
		'created_by', core.staff_shown(p_staff, g.created_by))
	FROM core.session s JOIN core.programme pr ON pr.id = s.programme_id
	WHERE s.id = g.session_id
$$;

-- The session behind a graduation, as any route or the demo makes it:
-- start (local in the programme's zone, or RFC 3339), duration, a venue
-- (default: the venue of the cohort's last session) and room, a title
-- and a capacity. A day a 'skip' closure of the organisation (or the venue)
-- closes is refused; a room already taken then is 409 core.room_clash.
CREATE FUNCTION graduation_session(p_staff bigint, co core.cohort, pr core.programme, b jsonb)
RETURNS core.session LANGUAGE plpgsql AS $$
DECLARE
	s core.session;
	v core.venue;
	v_room bigint := (b->>'room_id')::bigint;
	v_venue bigint := (b->>'venue_id')::bigint;
	v_start timestamptz;
	v_day date;
BEGIN
	IF v_room IS NOT NULL THEN
		SELECT r.venue_id INTO v_venue FROM core.room r JOIN core.venue ve ON ve.id = r.venue_id
		WHERE r.id = v_room AND r.archived_at IS NULL AND ve.org_id = pr.org_id
		  AND (v_venue IS NULL OR ve.id = v_venue);
		IF v_venue IS NULL THEN
			RAISE EXCEPTION 'core.not_found|room_id|No such room.' USING ERRCODE = 'WM404';
		END IF;
	END IF;
	IF v_venue IS NULL AND NOT b ? 'venue_id' THEN
		SELECT s2.venue_id INTO v_venue FROM core.session s2
		WHERE s2.cohort_id = co.id AND s2.venue_id IS NOT NULL
		ORDER BY s2.starts_at DESC, s2.id DESC LIMIT 1;
	END IF;
	IF v_venue IS NOT NULL THEN
		SELECT * INTO v FROM core.venue
		WHERE id = v_venue AND org_id = pr.org_id AND archived_at IS NULL;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'core.not_found|venue_id|No such venue.' USING ERRCODE = 'WM404';
		END IF;
	END IF;
	v_start := core.instant_in(b->>'start', pr.time_zone, 'start');
	v_day := (v_start AT TIME ZONE pr.time_zone)::date;
	IF EXISTS (SELECT 1 FROM core.closure cl
	           WHERE cl.org_id = pr.org_id AND cl.effect = 'skip'
	             AND (cl.venue_id IS NULL OR cl.venue_id = v.id)
	             AND v_day BETWEEN cl.starts_on AND cl.ends_on) THEN
		RAISE EXCEPTION '%', format('group_course.closed_day|start|%s is a closed day for this organisation or venue: choose another date.',
			to_char(v_day, 'YYYY-MM-DD')) USING ERRCODE = 'WM422';
	END IF;
	BEGIN
		INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at,
		                          location_kind, venue_id, room_id, establishment, capacity,
		                          booking_mode, module, created_by)
		VALUES (pr.id, pr.org_id, coalesce(b->>'title', 'Graduation: ' || co.name), v_start,
		        v_start + make_interval(mins => (b->>'duration_minutes')::integer),
		        coalesce(v.location_kind, 'community_venue'), v.id, v_room, v.establishment,
		        (b->>'capacity')::integer, 'booked', 'graduation', p_staff)
		RETURNING * INTO s;
	EXCEPTION WHEN exclusion_violation THEN
		RAISE EXCEPTION 'core.room_clash|room_id|The room is taken by another session at that time.'
			USING ERRCODE = 'WM409';
	END;
	RETURN s;
END $$;

-- POST /cohorts/{id}/graduation: one per cohort.
CREATE FUNCTION graduation_create(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint,
                                  b jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	co core.cohort;
	pr core.programme;
	s core.session;
	g group_course.graduation;
BEGIN
	SELECT * INTO co FROM core.cohort WHERE id = p_cohort FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT * INTO pr FROM core.programme WHERE id = co.programme_id;
	IF group_course.out_access(p_staff, pr.id, NULL, false) IS NULL THEN
		RETURN NULL;
	END IF;
	IF co.status = 'cancelled' THEN
		RAISE EXCEPTION 'group_course.cohort_cancelled||This cohort was cancelled: it has no graduation.'
			USING ERRCODE = 'WM409';
	END IF;
	SELECT * INTO g FROM group_course.graduation WHERE cohort_id = co.id;
	IF FOUND THEN
		RAISE EXCEPTION '%', format('group_course.graduation_exists||This cohort''s graduation is session %s already; move or cancel that session instead.',
			g.session_id) USING ERRCODE = 'WM409';
	END IF;
	s := group_course.graduation_session(p_staff, co, pr, b);
	INSERT INTO group_course.graduation (cohort_id, session_id, created_by)
	VALUES (co.id, s.id, p_staff) RETURNING * INTO g;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'group_course.graduation_create', 'session', s.id, p_addr, p_rid,
	        jsonb_build_object('cohort_id', co.id, 'fields', (
	            SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)
	            FROM jsonb_object_keys(b) k WHERE jsonb_typeof(b->k) <> 'null')));
	RETURN group_course.graduation_json(g, p_staff);
END $$;

-- GET /cohorts/{id}/graduation.
CREATE FUNCTION graduation_get(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	co core.cohort;
	g group_course.graduation;
BEGIN
	SELECT * INTO co FROM core.cohort WHERE id = p_cohort;
	IF NOT FOUND OR group_course.out_access(p_staff, co.programme_id, NULL, true) IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT * INTO g FROM group_course.graduation WHERE cohort_id = co.id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'group_course.no_graduation||This cohort has no graduation yet.'
			USING ERRCODE = 'WM404';
	END IF;
	RETURN group_course.graduation_json(g, p_staff);
END $$;

-- Books every member of household `p_household` (the graduate first) onto
-- graduation session `p_session` through the core's booking function, as a
-- coordinator booking them would (capacity, waitlist, keep-apart, seat
-- clashes, audit); the course's booking_check hook is not asked: family
-- members are guests, not participants. One member's refusal does not stop
-- the others: each member's outcome is returned.
CREATE FUNCTION graduation_book_household(p_staff bigint, p_addr inet, p_rid text,
                                          p_session bigint, p_household bigint,
                                          p_graduate bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	m record;
	r jsonb;
	v_out jsonb := '[]'::jsonb;
	v_msg text;
	v_state text;
BEGIN
	FOR m IN SELECT hm.person_id, hm.relationship FROM core.household_member hm
	         WHERE hm.household_id = p_household
	         ORDER BY hm.person_id <> p_graduate, hm.added_at, hm.person_id LOOP
		IF EXISTS (SELECT 1 FROM core.booking WHERE session_id = p_session
		           AND person_id = m.person_id AND status IN ('booked', 'waitlisted', 'offered')) THEN
			v_out := v_out || jsonb_build_object('person_id', m.person_id,
				'relationship', m.relationship, 'outcome', 'already_booked');
			CONTINUE;
		END IF;
		BEGIN
			r := core.booking_create(p_staff, p_addr, p_rid, p_session, m.person_id, NULL,
			                         ARRAY[]::text[], true);
			v_out := v_out || jsonb_build_object('person_id', m.person_id,
				'relationship', m.relationship,
				'outcome', CASE WHEN (r->>'status')::integer = 201 THEN r#>>'{body,status}'
				                ELSE 'refused' END,
				'booking_id', CASE WHEN (r->>'status')::integer = 201
				                   THEN (r#>>'{body,id}')::bigint END,
				'code', CASE WHEN (r->>'status')::integer <> 201
				             THEN r#>>'{body,error,code}' END);
		EXCEPTION WHEN SQLSTATE 'WM404' OR SQLSTATE 'WM409' OR SQLSTATE 'WM422' THEN
			GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE;
			v_out := v_out || jsonb_build_object('person_id', m.person_id,
				'relationship', m.relationship, 'outcome', 'refused',
				'code', split_part(v_msg, '|', 1));
		END;
	END LOOP;
	RETURN v_out;
END $$;

-- POST /cohorts/{id}/graduation/households {enrolment_id, household_id}:
-- a completing participant's household (of the course's organisation, the
-- participant a member) booked onto the graduation. Asking again books
-- whoever joined the household since.
CREATE FUNCTION graduation_household_add(p_staff bigint, p_addr inet, p_rid text,
                                         p_cohort bigint, p_enrolment bigint,
                                         p_household bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	co core.cohort;
	pr core.programme;
	g group_course.graduation;
	e core.enrolment;
	cp core.completion;
	h core.household;
	v_members jsonb;
BEGIN
	SELECT * INTO co FROM core.cohort WHERE id = p_cohort;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT * INTO pr FROM core.programme WHERE id = co.programme_id;
	IF group_course.out_access(p_staff, pr.id, NULL, false) IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT * INTO g FROM group_course.graduation WHERE cohort_id = co.id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'group_course.no_graduation||Schedule the graduation first (POST /api/v1/group_course/cohorts/{id}/graduation).'
			USING ERRCODE = 'WM409';
	END IF;
	SELECT * INTO e FROM core.enrolment WHERE id = p_enrolment AND cohort_id = co.id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'core.not_found|enrolment_id|No such enrolment in this cohort.'
			USING ERRCODE = 'WM404';
	END IF;
	SELECT * INTO h FROM core.household WHERE id = p_household AND org_id = pr.org_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'core.not_found|household_id|No such household.'
			USING ERRCODE = 'WM404';
	END IF;
	SELECT * INTO cp FROM core.completion WHERE enrolment_id = e.id;
	IF NOT FOUND OR cp.result <> 'completed' THEN
		RAISE EXCEPTION '%', format('group_course.not_completed|enrolment_id|Only a graduate''s household is invited; this enrolment is %s.',
			replace(coalesce(cp.result::text, 'in_progress'), '_', ' ')) USING ERRCODE = 'WM409';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM core.household_member
	               WHERE household_id = h.id AND person_id = e.person_id) THEN
		RAISE EXCEPTION 'group_course.not_in_household|household_id|The participant is not a member of this household.'
			USING ERRCODE = 'WM422';
	END IF;
	INSERT INTO group_course.graduation_household (cohort_id, household_id, enrolment_id,
	                                               added_by)
	VALUES (co.id, h.id, e.id, p_staff) ON CONFLICT (cohort_id, household_id) DO NOTHING;
	v_members := group_course.graduation_book_household(p_staff, p_addr, p_rid, g.session_id,
	                                                    h.id, e.person_id);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'group_course.graduation_household', 'household', h.id,
	        e.person_id, p_addr, p_rid,
	        jsonb_build_object('cohort_id', co.id, 'enrolment_id', e.id,
	                           'session_id', g.session_id,
	                           'outcomes', (SELECT jsonb_object_agg(o, n) FROM (
	                               SELECT x->>'outcome' AS o, count(*) AS n
	                               FROM jsonb_array_elements(v_members) x GROUP BY 1) y)));
	RETURN jsonb_build_object('cohort_id', co.id, 'session_id', g.session_id,
	                          'enrolment_id', e.id, 'household_id', h.id,
	                          'members', v_members);
END $$;

-- --- Onward referrals ----------------------------------------------------------

CREATE FUNCTION onward_json(o group_course.onward_referral, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', o.id, 'enrolment_id', o.enrolment_id, 'pathway', o.pathway,
		'organisation_id', o.organisation_id, 'referral_id', o.referral_id,
		-- The referral's own progress only where it stays in the course's
		-- organisation: another organisation's record is its own.
		'referral_status', CASE WHEN r.org_id = pr.org_id THEN r.status END,
		'previous_referral_id', CASE WHEN core.person_access(p_staff, e.person_id) = 'full'
		                             THEN r.previous_referral_id END,
		'note', o.note, 'completion_result', o.completion_result,
		'created_at', core.utc_text(o.created_at),
		'created_by', core.staff_shown(p_staff, o.created_by))
	FROM core.referral r, core.enrolment e
	JOIN core.cohort co ON co.id = e.cohort_id JOIN core.programme pr ON pr.id = co.programme_id
	WHERE r.id = o.referral_id AND e.id = o.enrolment_id
$$;

-- POST /enrolments/{id}/onward {pathway, organisation_id?, note?}: a core
-- referral of the person (received, source partner_organisation, the
-- course's organisation as referrer, previous_referral_id = the
-- enrolment's referral) in the course's own organisation or — only with a
-- live consent to refer to or share with it, as the core's referral on
-- requires — in another, which then holds the person.
CREATE FUNCTION onward_create(p_staff bigint, p_addr inet, p_rid text, p_enrolment bigint,
                              p_pathway text, p_org bigint, p_note text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	e core.enrolment;
	pr core.programme;
	v_to bigint;
	v_consent bigint;
	v_from text;
	v_ref bigint;
	v_linked integer := 0;
	v_result core.completion_result;
	o group_course.onward_referral;
	today date := core.referral_today();
BEGIN
	SELECT * INTO e FROM core.enrolment WHERE id = p_enrolment;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT pr2.* INTO pr FROM core.programme pr2 JOIN core.cohort co ON co.programme_id = pr2.id
	WHERE co.id = e.cohort_id;
	IF group_course.out_access(p_staff, pr.id, e.person_id, true) IS NULL THEN
		RETURN NULL;
	END IF;
	IF EXISTS (SELECT 1 FROM core.person WHERE id = e.person_id AND erased_at IS NOT NULL)
	   OR NOT core.referral_org_holds(pr.org_id, e.person_id) THEN
		RETURN NULL;
	END IF;
	v_to := coalesce(p_org, pr.org_id);
	IF v_to <> pr.org_id THEN
		v_consent := coalesce(
			core.consent_allows(e.person_id, pr.org_id, v_to, 'referral', today),
			core.consent_allows(e.person_id, pr.org_id, v_to, 'share_with_organisation', today));
		-- Unknown, archived or without consent: one answer, so the reply
		-- does not tell whether an organisation exists.
		IF v_consent IS NULL OR NOT EXISTS (
			SELECT 1 FROM core.organisation WHERE id = v_to AND archived_at IS NULL) THEN
			RAISE EXCEPTION 'group_course.consent_required|organisation_id|There is no live consent to refer this person to that organisation.'
				USING ERRCODE = 'WM422';
		END IF;
	END IF;
	IF EXISTS (SELECT 1 FROM group_course.onward_referral
	           WHERE enrolment_id = e.id AND pathway = p_pathway::group_course.pathway
	             AND organisation_id = v_to) THEN
		RAISE EXCEPTION 'group_course.already_referred|pathway|This participant was referred on for this pathway to this organisation already.'
			USING ERRCODE = 'WM409';
	END IF;
	SELECT name INTO v_from FROM core.organisation WHERE id = pr.org_id;
	SELECT result INTO v_result FROM core.completion WHERE enrolment_id = e.id;
	INSERT INTO core.referral (org_id, person_id, source, referrer_organisation, referred_on,
	                           previous_referral_id, consent_id, created_by)
	VALUES (v_to, e.person_id, 'partner_organisation', v_from, today, e.referral_id, v_consent,
	        p_staff)
	RETURNING id INTO v_ref;
	INSERT INTO core.referral_history (referral_id, from_status, to_status, by_staff)
	VALUES (v_ref, NULL, 'received', p_staff);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, v_to, 'referral.create', 'referral', v_ref, e.person_id, p_addr, p_rid,
	        jsonb_build_object('source', 'partner_organisation', 'status', 'received',
	                           'previous_referral_id', e.referral_id, 'consent_id', v_consent,
	                           'pathway', p_pathway));
	IF v_to <> pr.org_id THEN
		INSERT INTO core.person_org (person_id, org_id, created_by)
		VALUES (e.person_id, v_to, p_staff) ON CONFLICT DO NOTHING;
		GET DIAGNOSTICS v_linked = ROW_COUNT;
		IF v_linked > 0 THEN
			INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
			                        person_id, remote_addr, request_id, detail)
			VALUES (p_staff, pr.org_id, 'person.share', 'person', e.person_id, e.person_id,
			        p_addr, p_rid, jsonb_build_object('to_organisation_id', v_to,
			                                          'consent_id', v_consent,
			                                          'referral_id', v_ref));
		END IF;
	END IF;
	INSERT INTO group_course.onward_referral (enrolment_id, referral_id, pathway,
	                                          organisation_id, note, completion_result,
	                                          created_by)
	VALUES (e.id, v_ref, p_pathway::group_course.pathway, v_to, p_note, v_result, p_staff)
	RETURNING * INTO o;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'group_course.onward_create', 'onward_referral', o.id,
	        e.person_id, p_addr, p_rid,
	        jsonb_build_object('enrolment_id', e.id, 'referral_id', v_ref,
	                           'pathway', p_pathway, 'organisation_id', v_to,
	                           'fields', CASE WHEN p_note IS NULL THEN '[]'::jsonb
	                                          ELSE '["note"]'::jsonb END));
	RETURN group_course.onward_json(o, p_staff);
END $$;

-- GET /enrolments/{id}/onward.
CREATE FUNCTION onward_list(p_staff bigint, p_addr inet, p_rid text, p_enrolment bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	e core.enrolment;
	v_prog bigint;
	v_org bigint;
BEGIN
	SELECT * INTO e FROM core.enrolment WHERE id = p_enrolment;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT co.programme_id, pr.org_id INTO v_prog, v_org
	FROM core.cohort co JOIN core.programme pr ON pr.id = co.programme_id
	WHERE co.id = e.cohort_id;
	IF group_course.out_access(p_staff, v_prog, e.person_id, true) IS NULL THEN
		RETURN NULL;
	END IF;
	IF core.is_child(e.person_id) THEN
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id)
		VALUES (p_staff, v_org, 'group_course.onward_read_child', 'enrolment', e.id,
		        e.person_id, p_addr, p_rid);
	END IF;
	RETURN jsonb_build_object('enrolment_id', e.id, 'items', coalesce((
		SELECT jsonb_agg(group_course.onward_json(o, p_staff) ORDER BY o.id)
		FROM group_course.onward_referral o WHERE o.enrolment_id = e.id), '[]'::jsonb));
END $$;

-- --- The per-cohort report ---------------------------------------------------

-- One cohort's raw counts. Units: referred — people considered for the
-- cohort (an admission decision of any outcome, or an enrolment); started —
-- enrolled people who attended at least one session; completed — enrolments
-- whose stored completion is 'completed'; attended / expected — attendances
-- over expected places at the cohort's sessions held so far (active
-- enrolment seats, catch-ups included; an absence the service caused is not
-- expected); onward — onward referrals made from the cohort, by pathway.
CREATE FUNCTION report_counts(p_cohort bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_referred bigint;
BEGIN
	-- Admission decisions (0002) for this cohort, whatever their outcome,
	-- and enrolments made without one.
	SELECT count(DISTINCT person_id) INTO v_referred FROM (
		SELECT person_id FROM core.enrolment WHERE cohort_id = p_cohort
		UNION SELECT person_id FROM group_course.admission WHERE cohort_id = p_cohort) x;
	RETURN (
	WITH seats AS (
		SELECT st.person_id, a.session_id IS NOT NULL AS recorded,
		       coalesce(oc.attended, false) AS attended,
		       oc.reason_class IS NOT DISTINCT FROM 'service_cancelled' AS excused
		FROM core.session s
		JOIN core.seat st ON st.session_id = s.id AND st.active AND st.source = 'enrolment'
		LEFT JOIN core.attendance a ON a.session_id = s.id AND a.person_id = st.person_id
		LEFT JOIN core.outcome_code oc ON oc.id = a.outcome_code_id
		WHERE s.cohort_id = p_cohort AND s.status = 'scheduled' AND s.starts_at <= core.clock())
	SELECT jsonb_build_object(
		'referred', v_referred,
		'enrolled', (SELECT count(*) FROM core.enrolment WHERE cohort_id = p_cohort),
		'started', (SELECT count(*) FROM core.enrolment e WHERE e.cohort_id = p_cohort
		            AND EXISTS (SELECT 1 FROM core.attendance a
		                        JOIN core.session s ON s.id = a.session_id
		                        JOIN core.outcome_code oc ON oc.id = a.outcome_code_id
		                        WHERE s.cohort_id = p_cohort AND a.person_id = e.person_id
		                          AND oc.attended)),
		'completed', (SELECT count(*) FROM core.enrolment e
		              JOIN core.completion cp ON cp.enrolment_id = e.id
		              WHERE e.cohort_id = p_cohort AND cp.result = 'completed'),
		'attended', (SELECT count(*) FROM seats WHERE attended),
		'expected', (SELECT count(*) FROM seats WHERE NOT excused),
		'onward', (SELECT jsonb_object_agg(pw::text, (
			SELECT count(*) FROM group_course.onward_referral o
			JOIN core.enrolment e ON e.id = o.enrolment_id
			WHERE e.cohort_id = p_cohort AND o.pathway = pw))
			FROM unnest(enum_range(NULL::group_course.pathway)) pw)));
END $$;

-- A figure as published: {"value": n}, or for a commissioner a count of
-- 1..4 suppressed (core.report_figure).
CREATE FUNCTION report_fig(n bigint, p_suppress boolean) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_suppress THEN core.report_figure(n)::jsonb
	            ELSE jsonb_build_object('value', n) END
$$;

-- One cohort's published figures. For a commissioner, small counts are
-- suppressed as the core's reports do, and so is what would give them
-- away by difference: started is a part of referred and completed a part
-- of started (core.report_cells: secondary suppression), a rate whose
-- numerator or denominator is hidden is hidden, and the onward pathways
-- are one breakdown of their total.
CREATE FUNCTION report_cohort_json(co core.cohort, pr core.programme, p_suppress boolean)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	n jsonb := group_course.report_counts(co.id);
	v_ref bigint := (n->>'referred')::bigint;
	v_started bigint := (n->>'started')::bigint;
	v_done bigint := (n->>'completed')::bigint;
	v_att bigint := (n->>'attended')::bigint;
	v_exp bigint := (n->>'expected')::bigint;
	v_keys text[] := ARRAY(SELECT unnest(enum_range(NULL::group_course.pathway))::text);
	v_counts bigint[];
	f_ref jsonb;
	f_started jsonb;
	f_done jsonb;
	f_rate jsonb;
	f_att jsonb;
	f_by jsonb;
	f_onward jsonb;
	hidden jsonb := jsonb_build_object('value', NULL, 'suppressed', true);
BEGIN
	SELECT array_agg((n->'onward'->>k)::bigint ORDER BY i) INTO v_counts
	FROM unnest(v_keys) WITH ORDINALITY x(k, i);
	f_ref := group_course.report_fig(v_ref, p_suppress);
	IF p_suppress THEN
		f_started := CASE WHEN f_ref ? 'suppressed' AND v_started > 0 THEN hidden
			ELSE core.report_cells(ARRAY['started', 'not_started'],
			                       ARRAY[v_started, v_ref - v_started])::jsonb->'started' END;
		f_done := CASE WHEN f_started ? 'suppressed' AND v_done > 0 THEN hidden
			ELSE core.report_cells(ARRAY['completed', 'not_completed'],
			                       ARRAY[v_done, v_started - v_done])::jsonb->'completed' END;
		f_by := core.report_cells(v_keys, v_counts)::jsonb;
	ELSE
		f_started := jsonb_build_object('value', v_started);
		f_done := jsonb_build_object('value', v_done);
		SELECT jsonb_object_agg(k, jsonb_build_object('value', v_counts[i]) ORDER BY i)
		INTO f_by FROM unnest(v_keys) WITH ORDINALITY x(k, i);
	END IF;
	f_onward := group_course.report_fig((SELECT sum(c) FROM unnest(v_counts) c)::bigint,
	                                    p_suppress);
	f_rate := CASE WHEN f_started ? 'suppressed' OR f_done ? 'suppressed' THEN hidden
	               WHEN v_started = 0 THEN jsonb_build_object('value', NULL)
	               ELSE jsonb_build_object('value', round(v_done::numeric / v_started, 3)) END;
	f_att := CASE WHEN f_started ? 'suppressed' THEN hidden
	              WHEN v_exp = 0 THEN jsonb_build_object('value', NULL)
	              ELSE jsonb_build_object('value', round(v_att::numeric / v_exp, 3)) END;
	RETURN jsonb_build_object(
		'cohort_id', co.id, 'cohort_name', co.name, 'programme_id', pr.id,
		'programme_name', pr.name, 'starts_on', to_char(co.starts_on, 'YYYY-MM-DD'),
		'ends_on', to_char(co.ends_on, 'YYYY-MM-DD'), 'status', co.status,
		'referred', f_ref, 'started', f_started, 'completed', f_done,
		'completion_rate', f_rate, 'attendance_rate', f_att,
		'onward_referrals', jsonb_build_object('total', f_onward, 'by_pathway', f_by));
END $$;

-- GET /reports/cohorts?organisation_id&from&to: the organisation's group
-- course cohorts starting in the period (all of them without one), at most
-- 500. Admins and coordinators see the counts; a commissioner (not also an
-- admin or coordinator there) sees them with small counts suppressed. A
-- cohort's figures cover the whole cohort whatever the period, so two
-- overlapping periods give nothing away by difference (unlike the core's
-- summary, a commissioner may ask for any period). NULL (404) for anyone
-- else.
-- The peer address and request id are unused: reading aggregates is not
-- audited, as the core's reports are not.
CREATE FUNCTION report_cohorts(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                               p_from date, p_to date)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_suppress boolean;
	v_items jsonb;
	v_n integer;
BEGIN
	IF core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		v_suppress := false;
	ELSIF core.has_role(p_staff, p_org, ARRAY['commissioner']::core.staff_role[]) THEN
		v_suppress := true;
	ELSE
		RETURN NULL;
	END IF;
	SELECT count(*), coalesce(jsonb_agg(group_course.report_cohort_json(x.co, x.pr, v_suppress)
	                                    ORDER BY (x.co).starts_on, (x.co).id), '[]'::jsonb)
	INTO v_n, v_items
	FROM (SELECT co, pr FROM core.cohort co JOIN core.programme pr ON pr.id = co.programme_id
	      WHERE pr.org_id = p_org AND pr.type = 'group_course' AND co.status <> 'cancelled'
	        AND (p_from IS NULL OR co.starts_on BETWEEN p_from AND p_to)
	      ORDER BY co.starts_on, co.id LIMIT 500) x;
	RETURN jsonb_build_object(
		'organisation_id', p_org,
		'from', to_char(p_from, 'YYYY-MM-DD'), 'to', to_char(p_to, 'YYYY-MM-DD'),
		'generated_at', core.utc_text(now()),
		'suppressed', v_suppress,
		'suppression', CASE WHEN v_suppress THEN jsonb_build_object('min', 1, 'max', 4) END,
		'units', jsonb_build_object(
			'referred', 'people considered for the cohort (an admission decision or an enrolment)',
			'started', 'enrolled people who attended at least one session',
			'completed', 'enrolments the course''s rule decided completed',
			'completion_rate', 'completed / started',
			'attendance_rate', 'attendances / expected places at sessions held so far',
			'onward_referrals', 'onward referrals made from the cohort'),
		'items', v_items,
		'truncated', v_n >= 500);
END $$;

-- --- Demo ----------------------------------------------------------------------

-- The first day from `p_from` on with weekday `p_dow` (ISO, 1 = Monday) on
-- which organisation `p_org` (venue `p_venue`) holds sessions: no bank
-- holiday, no 'skip' closure (0001's day_blocked).
CREATE FUNCTION demo_day(p_from date, p_dow integer, p_org bigint, p_venue bigint) RETURNS date
LANGUAGE plpgsql STABLE AS $$
DECLARE
	d date := p_from + (p_dow - extract(isodow FROM p_from)::integer + 7) % 7;
BEGIN
	WHILE group_course.day_blocked(p_org, p_venue, 'england_wales', d) IS NOT NULL LOOP
		d := d + 7;
	END LOOP;
	RETURN d;
END $$;

-- The first weekday from `p_from` on that is not blocked and on which the
-- cohort days of the demo do not fall (Monday, Friday: catch-ups).
CREATE FUNCTION demo_free_day(p_from date, p_org bigint, p_venue bigint) RETURNS date
LANGUAGE plpgsql STABLE AS $$
DECLARE
	d date := p_from;
BEGIN
	WHILE extract(isodow FROM d) NOT IN (1, 5)
	      OR group_course.day_blocked(p_org, p_venue, 'england_wales', d) IS NOT NULL LOOP
		d := d + 1;
	END LOOP;
	RETURN d;
END $$;

-- One demo participant (or family member) held by `p_org`.
CREATE FUNCTION demo_person(p_org bigint, p_coord bigint, p_given text, p_family text,
                            p_dob date, p_sex core.person_sex, p_participant boolean,
                            p_custody core.custody_status, p_establishment text,
                            p_release date, p_area text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v bigint;
BEGIN
	INSERT INTO core.person (given_name, family_name, date_of_birth, sex, is_participant,
	                         custody_status, establishment, expected_release_date,
	                         probation_office, area, risk_level, created_by)
	VALUES (p_given, p_family, p_dob, p_sex, p_participant, p_custody, p_establishment,
	        p_release, CASE WHEN p_participant THEN 'Warrington Probation Office' END,
	        CASE WHEN p_participant THEN p_area END,
	        CASE WHEN p_participant THEN 'medium' ELSE 'unknown' END::core.risk_level, p_coord)
	RETURNING id INTO v;
	INSERT INTO core.person_org (person_id, org_id, created_by) VALUES (v, p_org, p_coord);
	RETURN v;
END $$;

-- An accepted referral of `p_person` (received five weeks before
-- `p_start`, each step five days after the last), as the referral routes
-- would have left it.
CREATE FUNCTION demo_referral(p_org bigint, p_coord bigint, p_person bigint,
                              p_source core.referral_source, p_from text, p_on date,
                              p_path core.referral_status[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v bigint;
	i integer;
	v_last core.referral_status := p_path[cardinality(p_path)];
BEGIN
	INSERT INTO core.referral (org_id, person_id, source, referrer_organisation, referred_on,
	                           status, eligibility, eligibility_rule_version, eligibility_note,
	                           decision_reason, created_by, created_at, updated_at, version)
	VALUES (p_org, p_person, p_source, p_from, p_on, v_last,
	        CASE WHEN v_last = 'declined' THEN 'ineligible' ELSE 'eligible' END::core.eligibility_result,
	        'lcp-demo', CASE WHEN v_last = 'declined'
	                         THEN 'Expected release more than six months away.'
	                         ELSE 'Within six months of release; consent recorded.' END,
	        CASE v_last WHEN 'accepted' THEN 'A place on the course.'
	                    WHEN 'declined' THEN 'Not eligible yet: release too far away.'
	                    WHEN 'waiting_list' THEN 'Course full: next cohort.' END,
	        p_coord, p_on + time '09:00',
	        p_on + time '10:00' + (cardinality(p_path) - 1) * interval '5 days',
	        cardinality(p_path))
	RETURNING id INTO v;
	FOR i IN 1 .. cardinality(p_path) LOOP
		INSERT INTO core.referral_history (referral_id, from_status, to_status, at, by_staff)
		VALUES (v, CASE WHEN i > 1 THEN p_path[i - 1] END, p_path[i],
		        p_on + time '10:00' + (i - 1) * interval '5 days', p_coord);
	END LOOP;
	INSERT INTO core.consent (org_id, person_id, purpose, scope, given_on, recorded_by)
	VALUES (p_org, p_person, 'programme_participation', 'Taking part in the Life Change Programme',
	        p_on, p_coord);
	RETURN v;
END $$;

-- A household around participant `p_person`: a partner (the primary
-- contact) and `p_children` children, all held by `p_org`.
CREATE FUNCTION demo_household(p_org bigint, p_coord bigint, p_person bigint, p_family text,
                               p_partner text, p_children text[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	h bigint;
	v bigint;
	i integer;
BEGIN
	INSERT INTO core.household (org_id, name, created_by)
	VALUES (p_org, p_family || ' household', p_coord) RETURNING id INTO h;
	INSERT INTO core.household_member (household_id, person_id, relationship, added_by)
	VALUES (h, p_person, 'participant', p_coord);
	v := group_course.demo_person(p_org, p_coord, p_partner, p_family,
	                              (current_date - interval '31 years' - (length(p_partner) * 41) * interval '1 day')::date,
	                              'female', false, 'not_applicable', NULL, NULL, NULL);
	INSERT INTO core.household_member (household_id, person_id, relationship, primary_contact,
	                                   added_by)
	VALUES (h, v, 'partner', true, p_coord);
	FOR i IN 1 .. coalesce(cardinality(p_children), 0) LOOP
		v := group_course.demo_person(p_org, p_coord, p_children[i], p_family,
		                              (current_date - (3 + 3 * i) * interval '1 year' - (i * 57) * interval '1 day')::date,
		                              CASE WHEN i % 2 = 1 THEN 'male' ELSE 'female' END::core.person_sex,
		                              false, 'not_applicable', NULL, NULL, NULL);
		INSERT INTO core.household_member (household_id, person_id, relationship, added_by)
		VALUES (h, v, 'child', p_coord);
	END LOOP;
	RETURN h;
END $$;

-- An attendance record for `p_person` at the `p_k`-th regular session of
-- cohort `p_cohort` (1 = first), as the register would keep it.
CREATE FUNCTION demo_mark(p_cohort bigint, p_k integer, p_person bigint, p_code text,
                          p_by bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	s core.session;
BEGIN
	SELECT * INTO s FROM core.session
	WHERE cohort_id = p_cohort AND NOT catch_up AND status = 'scheduled'
	ORDER BY starts_at, id OFFSET p_k - 1 LIMIT 1;
	IF s.id IS NULL OR s.starts_at > now() OR NOT EXISTS (
		SELECT 1 FROM core.seat WHERE session_id = s.id AND person_id = p_person AND active) THEN
		RETURN;
	END IF;
	INSERT INTO core.attendance (session_id, person_id, outcome_code_id, late_minutes,
	                             late_reason, note, recorded_by, recorded_at)
	SELECT s.id, p_person, oc.id, CASE WHEN p_code = 'late' THEN 15 END,
	       CASE WHEN p_code = 'late' THEN 'Held up at the gate.' END,
	       CASE p_code WHEN 'absent_acceptable' THEN 'Medical appointment; rang ahead.'
	                   WHEN 'absent_unacceptable' THEN 'No contact before the session.'
	                   WHEN 'regime_logistics' THEN 'No escort available from the wing.' END,
	       p_by, least(now(), s.ends_at + interval '20 minutes')
	FROM core.outcome_code oc WHERE oc.org_id IS NULL AND oc.code = p_code
	ON CONFLICT (session_id, person_id) DO NOTHING;
END $$;

-- The demo the core's `waymarkd demo` loads when this plugin is there
-- (core/demo.c, after its own data, in the same transaction): the Life
-- Change Programme run in a prison visitors' centre (six full days over
-- four weeks, a morning and an afternoon module each, alternating two days
-- and one) and in the community (eight weekly four-hour sessions), each
-- with a cohort of twelve laid out by group_course.cohort_layout; a term of
-- attendance with a late joiner, a prison transfer on hold, leavers,
-- catch-ups, people who will complete and people who will not; the
-- prison cohort's graduation with graduates' families booked on; onward
-- referrals. `p`: {organisation_id, coordinator_id, lead_id (a facilitator
-- of the organisation), mentoring_org_id (optional: an organisation to
-- refer on to for mentoring, with consent)}. No completion is written
-- here: the completion-pending job (core/jobs.c) decides every enrolment
-- by the course's real rule once the server runs. Returns a summary line.
CREATE FUNCTION demo_load(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_org bigint := (p->>'organisation_id')::bigint;
	v_coord bigint := (p->>'coordinator_id')::bigint;
	v_lead bigint := (p->>'lead_id')::bigint;
	v_mentoring bigint := (p->>'mentoring_org_id')::bigint;
	v_hash text := nullif(current_setting('waymark.demo_password_hash', true), '');
	v_peer bigint;
	v_peer_staff jsonb;
	v_fac bigint;
	v_vc bigint;
	v_hall bigint;
	v_group bigint;
	v_lcc bigint;
	v_lcc_room bigint;
	v_mods jsonb;
	v_prog_p bigint;
	v_prog_c bigint;
	v_coh_p bigint;
	v_coh_c bigint;
	v_start_p date;
	v_start_c date;
	v_day date;
	v_people_p bigint[] := '{}';
	v_people_c bigint[] := '{}';
	v_enr_p bigint[] := '{}';
	v_enr_c bigint[] := '{}';
	v_hh bigint[] := '{}';
	v_hh_of integer[] := '{}';
	v_ref bigint;
	v_person bigint;
	v_e bigint;
	i integer;
	k integer;
	v_code text;
	v_grad core.session;
	v_booked integer := 0;
	v_given text[] := ARRAY['Aaron', 'Dean', 'Kieran', 'Marcus', 'Reece', 'Tomasz', 'Callum',
	                        'Jamal', 'Owen', 'Shane', 'Wesley', 'Ravi'];
	v_given_c text[] := ARRAY['Bethany', 'Curtis', 'Danielle', 'Elliot', 'Fern', 'Gavin',
	                          'Hollie', 'Isaac', 'Jade', 'Liam', 'Nadine', 'Ryan'];
	v_family text[] := ARRAY['Ashbury', 'Birchmoor', 'Calloway', 'Dellamere', 'Eastwick',
	                         'Fallowfield', 'Garside', 'Hollinbrook', 'Ingleby', 'Jessamy',
	                         'Kilbride', 'Larkhill', 'Merridew', 'Northcott', 'Orrell',
	                         'Pennock', 'Quarrington', 'Rainford', 'Scarrow', 'Tarlow',
	                         'Underhill', 'Vickerton', 'Westhead', 'Yarrowby'];
	v_partner text[] := ARRAY['Leanne', 'Gemma', 'Kerry', 'Tasha', 'Aisha', 'Megan', 'Chloe',
	                          'Olivia', 'Priya', 'Amber', 'Grace', 'Kayla'];
	v_kids text[] := ARRAY['Mason', 'Ellie', 'Harvey', 'Lacey', 'Oscar', 'Paige', 'Zack',
	                       'Imani', 'Tyler', 'Yasmin', 'Nathan', 'Shannon'];
BEGIN
	-- Staff: a facilitator and a peer mentor (a former participant) of the
	-- course provider, with the demo's password.
	INSERT INTO core.staff (email, display_name, password_hash)
	VALUES ('ruth.okonedo@lifechange.example', 'Ruth Okonedo', v_hash) RETURNING id INTO v_fac;
	INSERT INTO core.staff (email, display_name, password_hash)
	VALUES ('dale.merriman@lifechange.example', 'Dale Merriman', v_hash) RETURNING id INTO v_peer;
	INSERT INTO core.membership (staff_id, org_id, role, created_by)
	VALUES (v_fac, v_org, 'facilitator', v_coord), (v_peer, v_org, 'facilitator', v_coord);
	v_peer_staff := jsonb_build_array(jsonb_build_object('staff_id', v_peer,
	                                                     'role', 'peer_mentor'));

	-- Places: the prison's visitors' centre (the course and the graduation
	-- with families) and a community venue.
	INSERT INTO core.venue (org_id, name, location_kind, establishment, public_name, address,
	                        created_by)
	VALUES (v_org, 'HMP Risley Visitors'' Centre', 'prison', 'HMP Risley',
	        'Risley Visitors'' Centre', 'Warrington Road, Risley', v_coord)
	RETURNING id INTO v_vc;
	INSERT INTO core.room (venue_id, name, capacity) VALUES (v_vc, 'Family hall', 80)
	RETURNING id INTO v_hall;
	INSERT INTO core.room (venue_id, name, capacity) VALUES (v_vc, 'Group room', 14)
	RETURNING id INTO v_group;
	SELECT id INTO v_lcc FROM core.venue WHERE org_id = v_org AND name = 'Life Change Centre';
	IF v_lcc IS NULL THEN
		INSERT INTO core.venue (org_id, name, location_kind, public_name, address, created_by)
		VALUES (v_org, 'Life Change Centre', 'community_venue', 'Life Change Centre',
		        '27 Mercer Street, Warrington', v_coord) RETURNING id INTO v_lcc;
	END IF;
	INSERT INTO core.room (venue_id, name, capacity) VALUES (v_lcc, 'Course room', 16)
	RETURNING id INTO v_lcc_room;

	-- The courses: the Life Change Programme's curriculum, custody and
	-- community versions, completion rule lcp-2027.1 (every required module,
	-- 80% of sessions), an OCN Level 2 award.
	v_mods := '[
	 {"key": "intro", "title": "Introduction to the model", "theme": "The model", "required": true, "guests": false},
	 {"key": "communication", "title": "Communication", "theme": "The model", "required": false, "guests": false},
	 {"key": "values", "title": "Values and beliefs", "theme": "Change", "required": true, "guests": false},
	 {"key": "change", "title": "Making a change", "theme": "Change", "required": true, "guests": false},
	 {"key": "respect", "title": "Judgement and respect", "theme": "Others", "required": false, "guests": false},
	 {"key": "victim_awareness", "title": "Victim awareness", "theme": "Others", "required": false, "guests": false},
	 {"key": "offender_behaviour", "title": "Offender behaviour (a victim of crime speaks)", "theme": "Others", "required": false, "guests": true},
	 {"key": "teamwork", "title": "Communication and teamwork", "theme": "Others", "required": false, "guests": false},
	 {"key": "cv", "title": "CV and interview technique", "theme": "Work", "required": true, "guests": false},
	 {"key": "market_place", "title": "The market place: services and employers", "theme": "Work", "required": false, "guests": true},
	 {"key": "release_plans", "title": "Plans for release", "theme": "Next steps", "required": false, "guests": false},
	 {"key": "next_steps", "title": "What next?", "theme": "Next steps", "required": false, "guests": false}]';
	INSERT INTO core.programme (org_id, type, name, description, time_zone, settings, created_by)
	VALUES (v_org, 'group_course', 'Life Change Programme (custody)',
	        'Six full days in the visitors'' centre at HMP Risley: twelve themed modules, '
	        'ending in a graduation with families.', 'Europe/London',
	        jsonb_build_object('rule_version', 'lcp-2027.1', 'modules', v_mods,
	                           'min_share', 0.8, 'absence_alert_after', 2,
	                           'qualification', jsonb_build_object(
	                               'name', 'OCN Level 2 Award in Personal Development',
	                               'level', 2, 'credits', 3)), v_coord)
	RETURNING id INTO v_prog_p;
	INSERT INTO core.programme (org_id, type, name, description, time_zone, settings, created_by)
	VALUES (v_org, 'group_course', 'Life Change Programme (community)',
	        'Eight weekly four-hour sessions at the Life Change Centre, with local employers '
	        'in the market place week.', 'Europe/London',
	        jsonb_build_object('rule_version', 'lcp-2027.1', 'modules', (
	                               SELECT jsonb_agg(m ORDER BY o) FROM jsonb_array_elements(v_mods)
	                               WITH ORDINALITY x(m, o)
	                               WHERE m->>'key' IN ('intro', 'communication', 'values',
	                                                   'change', 'respect', 'cv',
	                                                   'market_place', 'next_steps')),
	                           'min_share', 0.8, 'absence_alert_after', 2,
	                           'qualification', jsonb_build_object(
	                               'name', 'OCN Level 2 Award in Personal Development',
	                               'level', 2, 'credits', 3),
	                           'prerequisites', '[]'::jsonb), v_coord)
	RETURNING id INTO v_prog_c;
	INSERT INTO core.programme_staff (programme_id, staff_id, role, added_by)
	VALUES (v_prog_p, v_lead, 'lead', v_coord), (v_prog_p, v_peer, 'peer_mentor', v_coord),
	       (v_prog_c, v_fac, 'lead', v_coord), (v_prog_c, v_peer, 'peer_mentor', v_coord);

	-- The custody cohort began on a Tuesday five weeks ago (so it is over);
	-- the community one on a Wednesday five weeks ago (five of eight done).
	v_start_p := group_course.demo_day(current_date - 35, 2, v_org, v_vc);
	v_start_c := group_course.demo_day(current_date - 35, 3, v_org, v_lcc);
	INSERT INTO core.cohort (programme_id, name, starts_on, capacity, status, created_by)
	VALUES (v_prog_p, 'HMP Risley, ' || to_char(v_start_p, 'FMMonth YYYY'), v_start_p, 12,
	        'running', v_coord) RETURNING id INTO v_coh_p;
	INSERT INTO core.cohort (programme_id, name, starts_on, capacity, status, created_by)
	VALUES (v_prog_c, 'Warrington, ' || to_char(v_start_c, 'FMMonth YYYY'), v_start_c, 12,
	        'running', v_coord) RETURNING id INTO v_coh_c;
	INSERT INTO group_course.cohort_plan (cohort_id, pattern, morning_start, afternoon_start,
	                                      session_minutes, venue_id, room_id, location_kind,
	                                      staff, created_by)
	VALUES (v_coh_p, 'alternating_days', '09:30', '13:00', 150, v_vc, v_group, 'prison',
	        jsonb_build_array(jsonb_build_object('staff_id', v_lead, 'role', 'lead'),
	                          jsonb_build_object('staff_id', v_peer, 'role', 'peer_mentor')),
	        v_coord);
	INSERT INTO group_course.cohort_plan (cohort_id, pattern, start_time, session_minutes,
	                                      venue_id, room_id, location_kind, staff, created_by)
	VALUES (v_coh_c, 'weekly', '13:00', 240, v_lcc, v_lcc_room, 'community_venue',
	        jsonb_build_array(jsonb_build_object('staff_id', v_fac, 'role', 'lead'),
	                          jsonb_build_object('staff_id', v_peer, 'role', 'peer_mentor')),
	        v_coord);
	PERFORM group_course.cohort_layout(v_coord, v_coh_p);
	PERFORM group_course.cohort_layout(v_coord, v_coh_c);
	PERFORM group_course.cohort_extend(v_coh_p);
	PERFORM group_course.cohort_extend(v_coh_c);

	-- Participants, their referrals (accepted) and admissions, enrolled a
	-- week before the start. Custody: men at HMP Risley within six months
	-- of release. Community: people on licence or a community sentence.
	FOR i IN 1 .. 12 LOOP
		v_person := group_course.demo_person(v_org, v_coord, v_given[i], v_family[i],
			(current_date - (23 + 2 * i) * interval '1 year' - (i * 37) * interval '1 day')::date,
			'male', true, 'in_custody', 'HMP Risley', current_date + 40 + 9 * i, 'Warrington');
		v_people_p := v_people_p || v_person;
		v_ref := group_course.demo_referral(v_org, v_coord, v_person, 'prison', 'HMP Risley',
			v_start_p - 40 - i, ARRAY['received', 'contacted', 'assessed', 'accepted']::core.referral_status[]);
		INSERT INTO core.enrolment (cohort_id, person_id, joined_on, referral_id, created_by,
		                            created_at)
		VALUES (v_coh_p, v_person,
		        CASE WHEN i = 4 THEN (SELECT (s.starts_at AT TIME ZONE 'Europe/London')::date
		                              FROM core.session s WHERE s.cohort_id = v_coh_p
		                              ORDER BY s.starts_at OFFSET 2 LIMIT 1)
		             ELSE v_start_p - 7 END, v_ref, v_coord, least(now(), (v_start_p - 7) + time '09:00'))
		RETURNING id INTO v_e;
		v_enr_p := v_enr_p || v_e;
		INSERT INTO group_course.admission (referral_id, cohort_id, programme_id, person_id,
		                                    result, outcome, enrolment_id, via, decided_at,
		                                    decided_by)
		VALUES (v_ref, v_coh_p, v_prog_p, v_person, 'eligible', 'enrolled', v_e, 'referral',
		        least(now(), (v_start_p - 7) + time '09:00'), v_coord);

		v_person := group_course.demo_person(v_org, v_coord, v_given_c[i], v_family[12 + i],
			(current_date - (21 + 3 * i) * interval '1 year' - (i * 53) * interval '1 day')::date,
			CASE WHEN i % 3 = 0 THEN 'female' WHEN i % 3 = 1 THEN 'female' ELSE 'male' END::core.person_sex,
			true, CASE WHEN i % 2 = 0 THEN 'community_sentence' ELSE 'on_licence' END::core.custody_status,
			NULL, NULL, 'Warrington');
		v_people_c := v_people_c || v_person;
		v_ref := group_course.demo_referral(v_org, v_coord, v_person, 'probation',
			'Warrington Probation Office', v_start_c - 30 - i,
			ARRAY['received', 'contacted', 'assessed', 'accepted']::core.referral_status[]);
		INSERT INTO core.enrolment (cohort_id, person_id, joined_on, referral_id, created_by,
		                            created_at)
		VALUES (v_coh_c, v_person, CASE WHEN i = 3 THEN v_start_c + 7 ELSE v_start_c - 7 END,
		        v_ref, v_coord, least(now(), (v_start_c - 7) + time '09:00'))
		RETURNING id INTO v_e;
		v_enr_c := v_enr_c || v_e;
		INSERT INTO group_course.admission (referral_id, cohort_id, programme_id, person_id,
		                                    result, outcome, enrolment_id, via, decided_at,
		                                    decided_by)
		VALUES (v_ref, v_coh_c, v_prog_c, v_person, 'eligible', 'enrolled', v_e, 'referral',
		        least(now(), (v_start_c - 7) + time '09:00'), v_coord);
	END LOOP;
	-- Caseloads: the community course's facilitator and the peer mentor
	-- each follow four participants.
	INSERT INTO core.assignment (org_id, staff_id, person_id, kind, created_by)
	SELECT v_org, v_fac, x, 'facilitator'::core.staff_role, v_coord FROM unnest(v_people_c[1:4]) x
	UNION ALL
	SELECT v_org, v_peer, x, 'facilitator'::core.staff_role, v_coord FROM unnest(v_people_p[1:4]) x;
	-- Two more referrals for the custody course: one not eligible yet
	-- (release too far away), one waiting for the next cohort.
	v_person := group_course.demo_person(v_org, v_coord, 'Brandon', 'Westhead',
		(current_date - interval '27 years')::date, 'male', true, 'in_custody', 'HMP Risley',
		current_date + 400, 'Warrington');
	v_ref := group_course.demo_referral(v_org, v_coord, v_person, 'prison', 'HMP Risley',
		v_start_p - 30, ARRAY['received', 'contacted', 'assessed', 'declined']::core.referral_status[]);
	INSERT INTO group_course.admission (referral_id, cohort_id, programme_id, person_id, result,
	                                    reasons, outcome, via, decided_at, decided_by)
	VALUES (v_ref, v_coh_p, v_prog_p, v_person, 'ineligible',
	        '["Expected release is more than six months away."]', 'refused', 'referral',
	        least(now(), (v_start_p - 8) + time '11:00'), v_coord);
	v_person := group_course.demo_person(v_org, v_coord, 'Declan', 'Yarrowby',
		(current_date - interval '33 years')::date, 'male', true, 'in_custody', 'HMP Risley',
		current_date + 120, 'Warrington');
	v_ref := group_course.demo_referral(v_org, v_coord, v_person, 'prison', 'HMP Risley',
		v_start_p - 20, ARRAY['received', 'contacted', 'assessed', 'waiting_list']::core.referral_status[]);
	INSERT INTO group_course.admission (referral_id, cohort_id, programme_id, person_id, result,
	                                    outcome, via, decided_at, decided_by)
	VALUES (v_ref, v_coh_p, v_prog_p, v_person, 'eligible', 'waitlisted', 'referral',
	        least(now(), (v_start_p - 8) + time '11:30'), v_coord)
	RETURNING id INTO v_e;
	INSERT INTO group_course.waitlist (programme_id, referral_id, person_id, admission_id, added_at)
	VALUES (v_prog_p, v_ref, v_person, v_e, least(now(), (v_start_p - 8) + time '11:30'));

	-- A prison transfer puts custody participant 7 on hold from the third
	-- day; participant 11 was released early (left) on the third day;
	-- community participant 6 is on hold (health) from week four and 8
	-- left after week two.
	v_day := (SELECT (s.starts_at AT TIME ZONE 'Europe/London')::date FROM core.session s
	          WHERE s.cohort_id = v_coh_p ORDER BY s.starts_at OFFSET 4 LIMIT 1);
	INSERT INTO core.enrolment_hold (enrolment_id, starts_at, reason, note, created_by)
	VALUES (v_enr_p[7], (v_day + time '08:00') AT TIME ZONE 'Europe/London', 'prison_transfer',
	        'Transferred to HMP Kirkham; can rejoin a later cohort or resume on return.', v_coord);
	UPDATE core.enrolment SET status = 'on_hold', version = version + 1 WHERE id = v_enr_p[7];
	UPDATE core.enrolment SET status = 'left', left_on = v_day, left_reason = 'released',
	       version = version + 1 WHERE id = v_enr_p[11];
	v_day := (SELECT (s.starts_at AT TIME ZONE 'Europe/London')::date FROM core.session s
	          WHERE s.cohort_id = v_coh_c ORDER BY s.starts_at OFFSET 3 LIMIT 1);
	INSERT INTO core.enrolment_hold (enrolment_id, starts_at, reason, note, created_by)
	VALUES (v_enr_c[6], (v_day + time '08:00') AT TIME ZONE 'Europe/London', 'health',
	        'In hospital; back when discharged.', v_coord);
	UPDATE core.enrolment SET status = 'on_hold', version = version + 1 WHERE id = v_enr_c[6];
	UPDATE core.enrolment SET status = 'left', left_on = v_start_c + 8,
	       left_reason = 'expectations_not_met', version = version + 1 WHERE id = v_enr_c[8];
	PERFORM core.seat_sync_cohort(v_coh_p);
	PERFORM core.seat_sync_cohort(v_coh_c);
	PERFORM group_course.catch_up_unseat(v_coh_p);
	PERFORM group_course.catch_up_unseat(v_coh_c);

	-- Catch-ups: custody participant 2 missed "values" (a medical
	-- appointment) and caught up the next morning; 4 joined on day two and
	-- caught up the introduction. Community participant 3 joined in week two:
	-- the introduction is caught up next week.
	v_day := (SELECT (s.starts_at AT TIME ZONE 'Europe/London')::date FROM core.session s
	          WHERE s.cohort_id = v_coh_p AND s.module = 'values');
	PERFORM group_course.catch_up_create(v_lead, NULL, NULL, v_enr_p[2], jsonb_build_object(
		'module', 'values', 'duration_minutes', 120, 'staff', v_peer_staff,
		'start', to_char(group_course.demo_free_day(v_day + 1, v_org, v_vc), 'YYYY-MM-DD')
		         || 'T10:00'));
	v_day := (SELECT (s.starts_at AT TIME ZONE 'Europe/London')::date FROM core.session s
	          WHERE s.cohort_id = v_coh_p AND s.module = 'respect');
	PERFORM group_course.catch_up_create(v_lead, NULL, NULL, v_enr_p[4], jsonb_build_object(
		'module', 'intro', 'duration_minutes', 120, 'staff', v_peer_staff,
		'start', to_char(group_course.demo_free_day(v_day + 1, v_org, v_vc), 'YYYY-MM-DD')
		         || 'T10:00'));
	v_day := group_course.demo_day(current_date + 1, 1, v_org, v_lcc);
	PERFORM group_course.catch_up_create(v_coord, NULL, NULL, v_enr_c[3], jsonb_build_object(
		'module', 'intro', 'duration_minutes', 180, 'venue_id', v_lcc,
		'start', to_char(v_day, 'YYYY-MM-DD') || 'T10:00',
		'staff', jsonb_build_array(jsonb_build_object('staff_id', v_fac, 'role', 'lead'))));

	-- The term's registers: mostly attended; lateness, absences with and
	-- without a reason, a prison regime problem.
	FOR i IN 1 .. 12 LOOP
		FOR k IN 1 .. 12 LOOP
			v_code := CASE
				WHEN i = 2 AND k = 3 THEN 'absent_acceptable'
				WHEN i = 3 AND k IN (6, 8) THEN 'late'
				WHEN i = 5 AND k = 9 THEN 'absent_acceptable'
				WHEN i = 5 AND k IN (11, 12) THEN 'absent_unacceptable'
				WHEN i = 6 AND k = 11 THEN 'absent_acceptable'
				WHEN i = 8 AND k IN (7, 8) THEN 'regime_logistics'
				WHEN i = 9 AND k IN (5, 6, 8) THEN 'absent_acceptable'
				WHEN i = 10 AND k = 2 THEN 'late'
				WHEN i = 12 AND k = 12 THEN 'absent_acceptable'
				ELSE 'attended' END;
			PERFORM group_course.demo_mark(v_coh_p, k, v_people_p[i], v_code, v_lead);
			CONTINUE WHEN k > 8;
			v_code := CASE
				WHEN i = 5 AND k = 4 THEN 'late'
				WHEN i = 10 AND k IN (4, 5) THEN 'absent_unacceptable'
				WHEN i = 11 AND k = 5 THEN 'absent_acceptable'
				ELSE 'attended' END;
			PERFORM group_course.demo_mark(v_coh_c, k, v_people_c[i], v_code, v_fac);
		END LOOP;
	END LOOP;
	INSERT INTO core.attendance (session_id, person_id, outcome_code_id, recorded_by, recorded_at)
	SELECT s.id, e.person_id, oc.id, v_peer, least(now(), s.ends_at + interval '10 minutes')
	FROM group_course.catch_up cu JOIN core.session s ON s.id = cu.session_id
	JOIN core.enrolment e ON e.id = cu.enrolment_id
	JOIN core.outcome_code oc ON oc.org_id IS NULL AND oc.code = 'attended'
	WHERE s.cohort_id = v_coh_p AND s.starts_at < now();

	-- Outside guests of the sessions held were approved beforehand; the
	-- community market place still needs its approval (GET /checks shows it).
	INSERT INTO group_course.guest_approval (session_id, approved_by, approved_at, note)
	SELECT s.id, v_coord, s.starts_at - interval '5 days',
	       'Speakers and employers cleared by the establishment.'
	FROM core.session s
	WHERE s.cohort_id IN (v_coh_p, v_coh_c) AND s.starts_at < now()
	  AND s.module IN ('offender_behaviour', 'market_place');
	UPDATE core.alert al SET resolved_at = now(), resolved_by = v_coord
	FROM group_course.guest_approval ga
	WHERE al.session_id = ga.session_id AND al.kind = 'group_course.guest_approval_missing'
	  AND al.resolved_at IS NULL;
	UPDATE core.cohort SET status = 'finished', updated_at = now(), version = version + 1
	WHERE id = v_coh_p;

	-- Graduations: the custody cohort's on the first open Thursday at least
	-- a week away, in the family hall; the community one's after its last
	-- week. The graduates' households are booked onto the first through the
	-- core's bookings (so it is in their family calendar feed).
	v_grad := group_course.graduation_session(v_coord,
		(SELECT c FROM core.cohort c WHERE c.id = v_coh_p),
		(SELECT pr FROM core.programme pr WHERE pr.id = v_prog_p),
		jsonb_build_object('start', to_char(group_course.demo_day(current_date + 7, 4, v_org, v_vc),
		                                    'YYYY-MM-DD') || 'T14:00',
		                   'duration_minutes', 120, 'venue_id', v_vc, 'room_id', v_hall,
		                   'capacity', 60,
		                   'title', 'Life Change graduation: HMP Risley'));
	INSERT INTO group_course.graduation (cohort_id, session_id, created_by)
	VALUES (v_coh_p, v_grad.id, v_coord);
	INSERT INTO core.session_staff (session_id, staff_id, role, during)
	VALUES (v_grad.id, v_fac, 'lead', v_grad.during),
	       (v_grad.id, v_peer, 'peer_mentor', v_grad.during);
	FOREACH i IN ARRAY ARRAY[1, 2, 4, 5, 6, 10] LOOP
		v_hh := v_hh || group_course.demo_household(v_org, v_coord, v_people_p[i], v_family[i],
			v_partner[i], v_kids[i:i + (i % 3)]);
		v_hh_of := v_hh_of || i;
	END LOOP;
	FOR k IN 1 .. cardinality(v_hh) LOOP
		CONTINUE WHEN v_hh_of[k] = 5; -- did not complete: not invited
		INSERT INTO group_course.graduation_household (cohort_id, household_id, enrolment_id,
		                                               added_by)
		VALUES (v_coh_p, v_hh[k], v_enr_p[v_hh_of[k]], v_coord);
		v_booked := v_booked + (SELECT count(*) FROM jsonb_array_elements(
			group_course.graduation_book_household(v_coord, NULL, NULL, v_grad.id, v_hh[k],
			                                       v_people_p[v_hh_of[k]])) x
			WHERE x->>'outcome' = 'booked');
	END LOOP;
	FOREACH i IN ARRAY ARRAY[1, 2, 7] LOOP
		PERFORM group_course.demo_household(v_org, v_coord, v_people_c[i], v_family[12 + i],
			v_partner[i + 3], v_kids[i + 2:i + 3]);
	END LOOP;
	v_grad := group_course.graduation_session(v_coord,
		(SELECT c FROM core.cohort c WHERE c.id = v_coh_c),
		(SELECT pr FROM core.programme pr WHERE pr.id = v_prog_c),
		jsonb_build_object('start', to_char(group_course.demo_day(
			(SELECT ends_on FROM core.cohort WHERE id = v_coh_c) + 7, 3, v_org, v_lcc),
			'YYYY-MM-DD') || 'T18:00', 'duration_minutes', 120, 'venue_id', v_lcc,
			'room_id', v_lcc_room, 'capacity', 50,
			'title', 'Life Change graduation: Warrington'));
	INSERT INTO group_course.graduation (cohort_id, session_id, created_by)
	VALUES (v_coh_c, v_grad.id, v_coord);
	INSERT INTO core.session_staff (session_id, staff_id, role, during)
	VALUES (v_grad.id, v_fac, 'lead', v_grad.during),
	       (v_grad.id, v_peer, 'peer_mentor', v_grad.during);

	-- Onward referrals from the custody course: housing and work in the
	-- organisation itself, mentoring (with consent) at the mentoring charity.
	PERFORM group_course.onward_create(v_lead, NULL, NULL, v_enr_p[1], 'accommodation', NULL,
	                                   'Needs an address for release; HDC possible.');
	PERFORM group_course.onward_create(v_lead, NULL, NULL, v_enr_p[2],
	                                   'education_training_employment', NULL,
	                                   'Met a construction employer at the market place.');
	PERFORM group_course.onward_create(v_lead, NULL, NULL, v_enr_p[10], 'finance_benefit_debt',
	                                   NULL, NULL);
	IF v_mentoring IS NOT NULL AND v_mentoring <> v_org THEN
		INSERT INTO core.consent (org_id, person_id, purpose, recipient_org_id, scope, given_on,
		                          recorded_by)
		VALUES (v_org, v_people_p[6], 'referral', v_mentoring,
		        'A referral for a mentor through the gate', current_date - 10, v_coord);
		PERFORM group_course.onward_create(v_coord, NULL, NULL, v_enr_p[6], 'mentoring',
		                                   v_mentoring, 'Asked for a mentor to meet him at the gate.');
	END IF;

	INSERT INTO core.audit (org_id, action, object_type, detail)
	VALUES (v_org, 'group_course.demo_load', 'demo', jsonb_build_object(
		'programmes', jsonb_build_array(v_prog_p, v_prog_c),
		'cohorts', jsonb_build_array(v_coh_p, v_coh_c)));
	RETURN format('group courses: 2 Life Change Programme courses (custody, six full days; '
	              'community, eight weeks), cohorts %s and %s with %s enrolments, %s sessions '
	              '(%s catch-ups), %s attendance records, graduation with %s family bookings; '
	              'completions are decided by the course''s rule once the server runs',
	              v_coh_p, v_coh_c, 24,
	              (SELECT count(*) FROM core.session WHERE cohort_id IN (v_coh_p, v_coh_c)),
	              (SELECT count(*) FROM core.session WHERE cohort_id IN (v_coh_p, v_coh_c)
	                                                   AND catch_up),
	              (SELECT count(*) FROM core.attendance a JOIN core.session s ON s.id = a.session_id
	               WHERE s.cohort_id IN (v_coh_p, v_coh_c)), v_booked);
END $$;
