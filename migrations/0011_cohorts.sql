-- Cohorts, enrolments (holds, leaving), non-associations at enrolment,
-- alerts, and sessions anchored to a person's expected release date.
-- Runs after 0008 with search_path = core, public. Every name is qualified.
--
-- Enrolments have one state machine (core.enrolment_transition, guarded by
-- the trigger of 0008); the functions here check the move first so the
-- refusal says what to do, then change status, hold rows and seats in the
-- same statement. Seats follow enrolments through core.seat_sync_cohort; a
-- seat that would overlap another of the same person is the database's
-- exclusion violation, turned here into 409 core.person_clash.

-- --- Small helpers -------------------------------------------------------

-- "2027-03-30 10:00 Europe/London": a session's start as a coordinator reads it.
CREATE FUNCTION local_when_text(p_at timestamptz, p_tz text) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT to_char(p_at AT TIME ZONE p_tz, 'YYYY-MM-DD HH24:MI') || ' ' || p_tz
$$;

-- Raises 409 core.person_clash for a seat of `p_person` that would overlap
-- another of their sessions while a cohort's seats (`p_sessions`) are
-- placed: which session it clashes with when the caller manages that
-- session's organisation (another organisation's session is not described).
-- Cohort seats are the only rows placed there, so the seat constraint is the
-- only one that can be violated.
CREATE FUNCTION cohort_clash_raise(p_staff bigint, p_person bigint, p_sessions bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_other record;
	v_what text := 'another session';
BEGIN
	SELECT s2.id, s2.title, s2.starts_at, s2.org_id, pr.time_zone INTO v_other
	FROM core.seat st
	JOIN core.session s2 ON s2.id = st.session_id AND NOT (s2.id = ANY (p_sessions))
	JOIN core.programme pr ON pr.id = s2.programme_id
	JOIN core.session s ON s.id = ANY (p_sessions) AND s.status = 'scheduled'
	                   AND s.during && st.during
	WHERE st.person_id = p_person AND st.active
	  AND EXISTS (SELECT 1 FROM core.enrolment e
	              WHERE e.cohort_id = s.cohort_id AND e.person_id = p_person
	                AND core.enrolment_expects(e.id, s.starts_at))
	ORDER BY s2.starts_at LIMIT 1;
	IF v_other.id IS NOT NULL AND core.has_role(p_staff, v_other.org_id,
	                                            ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		v_what := format('session %s ("%s", %s)', v_other.id, v_other.title,
		                 core.local_when_text(v_other.starts_at, v_other.time_zone));
	END IF;
	RAISE EXCEPTION '%', format('core.person_clash|person_id|This would overlap %s at the same time for this person.',
		v_what) USING ERRCODE = 'WM409';
END $$;

-- The active seats a cohort's sync would place, for clash messages: every
-- scheduled session of the cohort.
CREATE FUNCTION cohort_sessions(p_cohort bigint) RETURNS bigint[] LANGUAGE sql STABLE AS $$
	SELECT coalesce(array_agg(id), '{}') FROM core.session
	WHERE cohort_id = p_cohort AND status = 'scheduled'
$$;

-- Syncs a cohort's seats, turning a clash for `p_person` into 409.
CREATE FUNCTION cohort_sync_or_raise(p_staff bigint, p_cohort bigint, p_person bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM core.seat_sync_cohort(p_cohort);
EXCEPTION WHEN exclusion_violation THEN
	PERFORM core.cohort_clash_raise(p_staff, p_person, core.cohort_sessions(p_cohort));
END $$;

-- --- Alerts ----------------------------------------------------------------

-- Raises an alert for `org` unless the same one is still open (same kind,
-- person, cohort and session): retrying a refused request does not pile
-- them up. Returns the alert's id.
CREATE FUNCTION alert_raise(p_org bigint, p_kind text, p_person bigint, p_cohort bigint,
                            p_session bigint, p_enrolment bigint, p_message text,
                            p_detail jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
BEGIN
	SELECT id INTO v_id FROM core.alert
	WHERE org_id = p_org AND kind = p_kind AND resolved_at IS NULL
	  AND person_id IS NOT DISTINCT FROM p_person AND cohort_id IS NOT DISTINCT FROM p_cohort
	  AND session_id IS NOT DISTINCT FROM p_session
	  AND enrolment_id IS NOT DISTINCT FROM p_enrolment AND detail = p_detail
	LIMIT 1;
	IF v_id IS NULL THEN
		INSERT INTO core.alert (org_id, kind, person_id, cohort_id, session_id, enrolment_id,
		                        message, detail)
		VALUES (p_org, p_kind, p_person, p_cohort, p_session, p_enrolment, p_message, p_detail)
		RETURNING id INTO v_id;
	END IF;
	RETURN v_id;
END $$;

CREATE FUNCTION alert_json(a core.alert, p_staff bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', a.id, 'organisation_id', a.org_id, 'kind', a.kind, 'person_id', a.person_id,
		'session_id', a.session_id, 'enrolment_id', a.enrolment_id, 'cohort_id', a.cohort_id,
		'message', a.message, 'detail', a.detail, 'status',
		CASE WHEN a.resolved_at IS NULL THEN 'open' ELSE 'resolved' END,
		'created_at', core.utc_text(a.created_at), 'resolved_at', core.utc_text(a.resolved_at),
		'resolved_by', core.staff_shown(p_staff, a.resolved_by))
$$;

-- GET /alerts: the open (or resolved) alerts of organisations the caller is
-- admin or coordinator of.
CREATE FUNCTION alert_list(p_staff bigint, p_kind text, p_person bigint, p_status text,
                           p_limit integer, p_cursor bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	WITH page AS (
		SELECT a FROM core.alert a
		WHERE a.org_id IN (SELECT core.staff_orgs(p_staff,
		                   ARRAY['admin', 'coordinator']::core.staff_role[]))
		  AND (p_kind IS NULL OR a.kind = p_kind)
		  AND (p_person IS NULL OR a.person_id = p_person)
		  AND (CASE coalesce(p_status, 'open') WHEN 'open' THEN a.resolved_at IS NULL
		       ELSE a.resolved_at IS NOT NULL END)
		  AND a.id > coalesce(p_cursor, 0)
		ORDER BY a.id LIMIT p_limit + 1)
	SELECT jsonb_build_object(
		'items', coalesce((SELECT jsonb_agg(core.alert_json(x.a, p_staff) ORDER BY (x.a).id)
		                   FROM (SELECT a FROM page ORDER BY (a).id LIMIT p_limit) x), '[]'),
		'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN
			(SELECT ((a).id)::text FROM page ORDER BY (a).id LIMIT 1 OFFSET p_limit - 1) END)
$$;

-- POST /alerts/{id}/resolve.
CREATE FUNCTION alert_resolve(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v core.alert;
BEGIN
	SELECT * INTO v FROM core.alert WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR NOT core.has_role(p_staff, v.org_id,
	                                  ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		RETURN NULL;
	END IF;
	IF v.resolved_at IS NOT NULL THEN
		RAISE EXCEPTION 'core.already_resolved||This alert was resolved already.'
		USING ERRCODE = 'WM409';
	END IF;
	UPDATE core.alert SET resolved_at = now(), resolved_by = p_staff WHERE id = p_id
	RETURNING * INTO v;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, v.org_id, 'alert.resolve', 'alert', v.id, v.person_id, p_addr, p_rid,
	        jsonb_build_object('kind', v.kind));
	RETURN core.alert_json(v, p_staff);
END $$;

-- --- Cohorts -----------------------------------------------------------------

-- A cohort's life: planned -> running -> finished, or cancelled before it
-- finishes. Any other status write is refused, whoever makes it.
CREATE TABLE cohort_transition (
	from_status cohort_status NOT NULL,
	to_status cohort_status NOT NULL,
	PRIMARY KEY (from_status, to_status)
);
INSERT INTO cohort_transition VALUES
	('planned', 'running'), ('running', 'finished'), ('planned', 'cancelled'),
	('running', 'cancelled');

CREATE FUNCTION cohort_status_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
		SELECT 1 FROM core.cohort_transition
		WHERE from_status = OLD.status AND to_status = NEW.status) THEN
		RAISE EXCEPTION 'core.illegal_transition|status|A cohort cannot move from % to %.',
			OLD.status, NEW.status USING ERRCODE = 'WM409';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER cohort_status_transition BEFORE UPDATE OF status ON cohort
	FOR EACH ROW EXECUTE FUNCTION cohort_status_transition();

CREATE FUNCTION cohort_json(c core.cohort) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id, 'programme_id', c.programme_id,
		'organisation_id', (SELECT pr.org_id FROM core.programme pr WHERE pr.id = c.programme_id),
		'name', c.name, 'starts_on', to_char(c.starts_on, 'YYYY-MM-DD'),
		'ends_on', to_char(c.ends_on, 'YYYY-MM-DD'), 'capacity', c.capacity,
		'status', c.status,
		'counts', (SELECT jsonb_build_object(
			'enrolled', count(*) FILTER (WHERE e.status = 'enrolled'),
			'on_hold', count(*) FILTER (WHERE e.status = 'on_hold'),
			'left', count(*) FILTER (WHERE e.status = 'left'),
			'places_left', CASE WHEN c.capacity IS NULL THEN NULL
			               ELSE greatest(c.capacity - count(*) FILTER (WHERE e.status <> 'left'), 0) END)
			FROM core.enrolment e WHERE e.cohort_id = c.id),
		'created_at', core.utc_text(c.created_at), 'updated_at', core.utc_text(c.updated_at),
		'version', c.version)
$$;

-- Who may read a cohort: admins/coordinators of the programme's
-- organisation ('manage') and the staff who run the programme ('run').
CREATE FUNCTION cohort_access(p_staff bigint, p_cohort bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT a FROM (SELECT core.programme_access(p_staff, c.programme_id) a
	               FROM core.cohort c WHERE c.id = p_cohort) x
	WHERE a IN ('manage', 'run')
$$;

-- POST /programmes/{id}/cohorts.
CREATE FUNCTION cohort_create(p_staff bigint, p_addr inet, p_rid text, p_programme bigint,
                              b jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_org bigint;
	v core.cohort;
BEGIN
	IF core.programme_access(p_staff, p_programme) IS DISTINCT FROM 'manage' THEN
		RETURN NULL;
	END IF;
	SELECT org_id INTO v_org FROM core.programme WHERE id = p_programme;
	IF (b->>'ends_on')::date < (b->>'starts_on')::date THEN
		RAISE EXCEPTION 'core.bad_range|ends_on|ends_on cannot be before starts_on.'
		USING ERRCODE = 'WM422';
	END IF;
	INSERT INTO core.cohort (programme_id, name, starts_on, ends_on, capacity, created_by)
	VALUES (p_programme, b->>'name', (b->>'starts_on')::date, (b->>'ends_on')::date,
	        (b->>'capacity')::integer, p_staff)
	RETURNING * INTO v;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, v_org, 'cohort.create', 'cohort', v.id, p_addr, p_rid,
	        jsonb_build_object('programme_id', p_programme, 'fields', (
	            SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)
	            FROM jsonb_object_keys(b) k WHERE jsonb_typeof(b->k) <> 'null')));
	RETURN core.cohort_json(v);
END $$;

-- GET /cohorts.
CREATE FUNCTION cohort_list(p_staff bigint, p_programme bigint, p_limit integer,
                            p_cursor bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	WITH page AS (
		SELECT c FROM core.cohort c
		WHERE (p_programme IS NULL OR c.programme_id = p_programme)
		  AND c.id > coalesce(p_cursor, 0)
		  AND core.programme_access(p_staff, c.programme_id) IN ('manage', 'run')
		ORDER BY c.id LIMIT p_limit + 1)
	SELECT jsonb_build_object(
		'items', coalesce((SELECT jsonb_agg(core.cohort_json(x.c) ORDER BY (x.c).id)
		                   FROM (SELECT c FROM page ORDER BY (c).id LIMIT p_limit) x), '[]'),
		'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN
			(SELECT ((c).id)::text FROM page ORDER BY (c).id LIMIT 1 OFFSET p_limit - 1) END)
$$;

-- PATCH /cohorts/{id}: name, starts_on, ends_on (null clears), capacity
-- (null clears; never below the people enrolled), status, version.
CREATE FUNCTION cohort_update(p_staff bigint, p_addr inet, p_rid text, p_id bigint, b jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_old core.cohort;
	v_new core.cohort;
	v_org bigint;
	v_taken integer;
	v_changed jsonb;
BEGIN
	SELECT * INTO v_old FROM core.cohort WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR core.programme_access(p_staff, v_old.programme_id)
	                IS DISTINCT FROM 'manage' THEN
		RETURN NULL;
	END IF;
	IF b ? 'version' AND (b->>'version')::integer <> v_old.version THEN
		RAISE EXCEPTION 'core.stale|version|This cohort was changed by someone else (now version %); reload and try again.', v_old.version
		USING ERRCODE = 'WM409';
	END IF;
	v_new := v_old;
	IF b ? 'name' THEN v_new.name := b->>'name'; END IF;
	IF b ? 'starts_on' THEN v_new.starts_on := (b->>'starts_on')::date; END IF;
	IF b ? 'ends_on' THEN v_new.ends_on := (b->>'ends_on')::date; END IF;
	IF b ? 'capacity' THEN v_new.capacity := (b->>'capacity')::integer; END IF;
	IF b ? 'status' THEN v_new.status := (b->>'status')::core.cohort_status; END IF;
	IF v_new.ends_on < v_new.starts_on THEN
		RAISE EXCEPTION 'core.bad_range|ends_on|ends_on cannot be before starts_on.'
		USING ERRCODE = 'WM422';
	END IF;
	SELECT count(*) INTO v_taken FROM core.enrolment
	WHERE cohort_id = p_id AND status <> 'left';
	IF v_new.capacity < v_taken THEN
		RAISE EXCEPTION 'core.below_enrolled|capacity|% people are enrolled in this cohort: capacity cannot be lower.', v_taken
		USING ERRCODE = 'WM409';
	END IF;
	SELECT coalesce(jsonb_agg(o.key ORDER BY o.key), '[]'::jsonb) INTO v_changed
	FROM jsonb_each(to_jsonb(v_old)) o JOIN jsonb_each(to_jsonb(v_new)) n USING (key)
	WHERE o.key IN ('name', 'starts_on', 'ends_on', 'capacity', 'status')
	  AND o.value IS DISTINCT FROM n.value;
	IF jsonb_array_length(v_changed) = 0 THEN
		RETURN core.cohort_json(v_old);
	END IF;
	UPDATE core.cohort SET name = v_new.name, starts_on = v_new.starts_on,
	       ends_on = v_new.ends_on, capacity = v_new.capacity, status = v_new.status,
	       version = version + 1, updated_at = now()
	WHERE id = p_id RETURNING * INTO v_new;
	SELECT org_id INTO v_org FROM core.programme WHERE id = v_new.programme_id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, v_org, 'cohort.update', 'cohort', p_id, p_addr, p_rid,
	        jsonb_build_object('fields', v_changed));
	RETURN core.cohort_json(v_new);
END $$;

-- --- Enrolments --------------------------------------------------------------

-- An enrolment's holds never overlap (the API refuses first, with a clear
-- 409; this is the guard for every other writer).
ALTER TABLE core.enrolment_hold ADD CONSTRAINT enrolment_hold_apart
	EXCLUDE USING gist (enrolment_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&);

-- An enrolment as `p_staff` may see it: the person's names only when they
-- may see the person (admins/coordinators always do: the organisation
-- holds everyone it enrols; facilitators and mentors through their
-- caseload).
CREATE FUNCTION enrolment_json(e core.enrolment, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', e.id, 'cohort_id', e.cohort_id,
		'programme_id', (SELECT c.programme_id FROM core.cohort c WHERE c.id = e.cohort_id),
		'person_id', e.person_id,
		'person', (SELECT jsonb_build_object('id', p.id, 'given_name', p.given_name,
		                                     'family_name', p.family_name, 'known_as', p.known_as)
		           FROM core.person p
		           WHERE p.id = e.person_id AND core.person_access(p_staff, p.id) IS NOT NULL),
		'joined_on', to_char(e.joined_on, 'YYYY-MM-DD'), 'status', e.status,
		'left_on', to_char(e.left_on, 'YYYY-MM-DD'), 'left_reason', e.left_reason,
		'referral_id', CASE WHEN core.person_access(p_staff, e.person_id) = 'full'
		                    THEN e.referral_id END,
		'created_at', core.utc_text(e.created_at), 'updated_at', core.utc_text(e.updated_at),
		'version', e.version)
$$;

-- With its holds and completion (GET /enrolments/{id} and the writes).
CREATE FUNCTION enrolment_detail_json(e core.enrolment, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT core.enrolment_json(e, p_staff) || jsonb_build_object(
		'holds', coalesce((SELECT jsonb_agg(jsonb_build_object(
			'id', h.id, 'starts_at', core.utc_text(h.starts_at),
			'ends_at', core.utc_text(h.ends_at), 'reason', h.reason)
			|| CASE WHEN x.mgr THEN jsonb_build_object('note', h.note) ELSE '{}' END
			ORDER BY h.starts_at, h.id)
			FROM core.enrolment_hold h,
			     -- The note may hold health or family details: admins and
			     -- coordinators of the organisation only (the staff who run
			     -- the programme see the coded reason).
			     (SELECT core.has_role(p_staff, pr.org_id,
			                           ARRAY['admin', 'coordinator']::core.staff_role[]) AS mgr
			      FROM core.cohort c JOIN core.programme pr ON pr.id = c.programme_id
			      WHERE c.id = e.cohort_id) x
			WHERE h.enrolment_id = e.id), '[]'),
		'completion', (SELECT jsonb_build_object('result', cm.result,
			'rule_version', cm.rule_version, 'reason', cm.reason,
			'decided_at', core.utc_text(cm.decided_at))
			FROM core.completion cm WHERE cm.enrolment_id = e.id))
$$;

-- The checks an enrolment must pass, before and after the plugin's say
-- (nothing here writes). The person must be held by the programme's
-- organisation, the referral (if any) be that organisation's about them,
-- the cohort open and not full, the person not enrolled in it already.
CREATE FUNCTION enrolment_refuse(c core.cohort, pr core.programme, p_person bigint,
                                 p_joined date, p_referral bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_taken integer;
	v_status core.enrolment_status;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM core.person_org po JOIN core.person p ON p.id = po.person_id
	               WHERE po.person_id = p_person AND po.org_id = pr.org_id
	                 AND p.erased_at IS NULL) THEN
		RAISE EXCEPTION 'core.not_found|person_id|No such person.' USING ERRCODE = 'WM404';
	END IF;
	IF p_referral IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM core.referral r
		WHERE r.id = p_referral AND r.org_id = pr.org_id AND r.person_id = p_person) THEN
		RAISE EXCEPTION 'core.not_found|referral_id|No such referral of this person.'
		USING ERRCODE = 'WM404';
	END IF;
	IF c.status IN ('finished', 'cancelled') THEN
		RAISE EXCEPTION 'core.cohort_closed||This cohort is %: nobody can join it.', c.status
		USING ERRCODE = 'WM409';
	END IF;
	IF c.ends_on IS NOT NULL AND p_joined > c.ends_on THEN
		RAISE EXCEPTION 'core.bad_date|joined_on|joined_on is after the cohort ends (%).',
			to_char(c.ends_on, 'YYYY-MM-DD') USING ERRCODE = 'WM422';
	END IF;
	SELECT status INTO v_status FROM core.enrolment
	WHERE cohort_id = c.id AND person_id = p_person;
	IF FOUND THEN
		RAISE EXCEPTION '%', format('core.conflict|person_id|This person %s this cohort already.',
			CASE v_status WHEN 'left' THEN 'left' ELSE 'is enrolled in' END)
		USING ERRCODE = 'WM409';
	END IF;
	SELECT count(*) INTO v_taken FROM core.enrolment WHERE cohort_id = c.id AND status <> 'left';
	IF c.capacity IS NOT NULL AND v_taken >= c.capacity THEN
		RAISE EXCEPTION 'core.cohort_full||This cohort is full (% places).', c.capacity
		USING ERRCODE = 'WM409';
	END IF;
END $$;

-- A live non-association, recorded by the programme's organisation, between
-- `p_person` and someone enrolled (not left) in the cohort: that person's
-- id and the pair's id, or NULL.
CREATE FUNCTION cohort_keep_apart(p_cohort bigint, p_org bigint, p_person bigint,
                                  OUT other bigint, OUT pair bigint)
LANGUAGE sql STABLE AS $$
	SELECT e.person_id, na.id FROM core.enrolment e
	JOIN core.non_association na ON na.org_id = p_org AND na.ended_at IS NULL
	  AND ((na.person_a = p_person AND na.person_b = e.person_id)
	       OR (na.person_b = p_person AND na.person_a = e.person_id))
	WHERE e.cohort_id = p_cohort AND e.status <> 'left'
	ORDER BY na.id LIMIT 1
$$;

CREATE FUNCTION keep_apart_message() RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT 'This person cannot join this cohort: a keep-apart arrangement applies. A coordinator has been alerted.'
$$;

-- POST /cohorts/{id}/enrolments, first step: checks, then either refuses
-- for a non-association (raising the coordinators' alert, which this
-- statement commits) or returns what the programme's plugin is asked:
--   NULL                         cohort out of scope (404)
--   {"refused": "core.keep_apart", "message": ...}
--   {"type": <plugin>, "request": <booking_check request, hooks.md>}
CREATE FUNCTION enrolment_prepare(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint,
                                  p_person bigint, p_joined date, p_referral bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c core.cohort;
	pr core.programme;
	p core.person;
	v_on date;
	v_ka record;
BEGIN
	SELECT * INTO c FROM core.cohort WHERE id = p_cohort;
	IF NOT FOUND OR core.programme_access(p_staff, c.programme_id) IS DISTINCT FROM 'manage' THEN
		RETURN NULL;
	END IF;
	SELECT * INTO pr FROM core.programme WHERE id = c.programme_id;
	v_on := coalesce(p_joined, (core.clock() AT TIME ZONE pr.time_zone)::date);
	PERFORM core.enrolment_refuse(c, pr, p_person, v_on, p_referral);
	SELECT * INTO v_ka FROM core.cohort_keep_apart(c.id, pr.org_id, p_person);
	IF v_ka.other IS NOT NULL THEN
		PERFORM core.alert_raise(pr.org_id, 'core.non_association', p_person, c.id, NULL, NULL,
			format('An enrolment in cohort %s ("%s") was refused: a keep-apart arrangement applies with someone already enrolled.',
			       c.id, c.name),
			jsonb_build_object('person_ids', jsonb_build_array(p_person, v_ka.other),
			                   'non_association_id', v_ka.pair, 'cohort_id', c.id));
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_staff, pr.org_id, 'enrolment.keep_apart', 'cohort', c.id, p_person, p_addr,
		        p_rid, jsonb_build_object('non_association_id', v_ka.pair));
		RETURN jsonb_build_object('refused', 'core.keep_apart',
		                          'message', core.keep_apart_message());
	END IF;
	SELECT * INTO p FROM core.person WHERE id = p_person;
	RETURN jsonb_build_object('type', pr.type, 'request', jsonb_build_object(
		'kind', 'enrolment',
		'programme', jsonb_build_object('id', pr.id, 'type', pr.type,
		                                'time_zone', pr.time_zone, 'settings', pr.settings),
		'cohort', jsonb_build_object('id', c.id, 'starts_on', to_char(c.starts_on, 'YYYY-MM-DD'),
		                             'capacity', c.capacity),
		'session', NULL,
		'person', jsonb_build_object(
			'id', p.id,
			'age', CASE WHEN p.date_of_birth IS NOT NULL
			            THEN date_part('year', age(v_on, p.date_of_birth))::integer END,
			'sex', p.sex, 'is_participant', p.is_participant,
			'custody_status', p.custody_status,
			'expected_release_date', to_char(p.expected_release_date, 'YYYY-MM-DD'),
			'days_to_release', p.expected_release_date - v_on, 'area', p.area),
		'on', to_char(v_on, 'YYYY-MM-DD')));
END $$;

-- POST /cohorts/{id}/enrolments, second step (after the plugin agreed):
-- the cohort row is locked, so concurrent enrolments queue here and the
-- capacity and keep-apart checks see each other's rows.
CREATE FUNCTION enrolment_create(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint,
                                 p_person bigint, p_joined date, p_referral bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c core.cohort;
	pr core.programme;
	e core.enrolment;
	v_on date;
BEGIN
	SELECT * INTO c FROM core.cohort WHERE id = p_cohort FOR UPDATE;
	IF NOT FOUND OR core.programme_access(p_staff, c.programme_id) IS DISTINCT FROM 'manage' THEN
		RETURN NULL;
	END IF;
	SELECT * INTO pr FROM core.programme WHERE id = c.programme_id;
	v_on := coalesce(p_joined, (core.clock() AT TIME ZONE pr.time_zone)::date);
	PERFORM core.enrolment_refuse(c, pr, p_person, v_on, p_referral);
	IF (core.cohort_keep_apart(c.id, pr.org_id, p_person)).other IS NOT NULL THEN
		-- Someone was enrolled between the two steps; rare, and the
		-- retry raises the alert.
		RAISE EXCEPTION '%', 'core.keep_apart||' || core.keep_apart_message()
		USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.enrolment (cohort_id, person_id, joined_on, referral_id, created_by)
	VALUES (c.id, p_person, v_on, p_referral, p_staff)
	RETURNING * INTO e;
	PERFORM core.cohort_sync_or_raise(p_staff, c.id, p_person);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'enrolment.create', 'enrolment', e.id, p_person, p_addr, p_rid,
	        jsonb_build_object('cohort_id', c.id, 'status', 'enrolled',
	                           'fields', jsonb_build_array('joined_on') ||
	                           CASE WHEN p_referral IS NULL THEN '[]'::jsonb
	                                ELSE '["referral_id"]'::jsonb END));
	RETURN core.enrolment_detail_json(e, p_staff);
END $$;

-- GET /cohorts/{id}/enrolments: NULL when the cohort is out of scope.
-- Each child named is an audited read.
CREATE FUNCTION enrolment_list(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint,
                               p_status text, p_limit integer, p_cursor bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	v_org bigint;
	v_rows core.enrolment[];
	v_more boolean;
BEGIN
	IF core.cohort_access(p_staff, p_cohort) IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT pr.org_id INTO v_org FROM core.cohort c JOIN core.programme pr ON pr.id = c.programme_id
	WHERE c.id = p_cohort;
	v_rows := ARRAY(
		SELECT en FROM core.enrolment en
		WHERE en.cohort_id = p_cohort AND en.id > coalesce(p_cursor, 0)
		  AND (p_status IS NULL OR en.status = p_status::core.enrolment_status)
		ORDER BY en.id LIMIT p_limit + 1);
	v_more := cardinality(v_rows) > p_limit;
	IF v_more THEN
		v_rows := v_rows[1:p_limit];
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id)
	SELECT p_staff, v_org, 'enrolment.read_child', 'enrolment', r.id, r.person_id, p_addr, p_rid
	FROM unnest(v_rows) r
	WHERE core.is_child(r.person_id) AND core.person_access(p_staff, r.person_id) IS NOT NULL;
	RETURN jsonb_build_object(
		'items', coalesce((SELECT jsonb_agg(core.enrolment_json(r, p_staff) ORDER BY r.id)
		                   FROM unnest(v_rows) r), '[]'),
		'next_cursor', CASE WHEN v_more THEN (v_rows[p_limit]).id::text END);
END $$;

-- GET /enrolments/{id}.
CREATE FUNCTION enrolment_get(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	e core.enrolment;
	v_org bigint;
BEGIN
	SELECT * INTO e FROM core.enrolment WHERE id = p_id;
	IF NOT FOUND OR core.cohort_access(p_staff, e.cohort_id) IS NULL THEN
		RETURN NULL;
	END IF;
	IF core.is_child(e.person_id) AND core.person_access(p_staff, e.person_id) IS NOT NULL THEN
		SELECT pr.org_id INTO v_org FROM core.cohort c
		JOIN core.programme pr ON pr.id = c.programme_id WHERE c.id = e.cohort_id;
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id)
		VALUES (p_staff, v_org, 'enrolment.read_child', 'enrolment', e.id, e.person_id,
		        p_addr, p_rid);
	END IF;
	RETURN core.enrolment_detail_json(e, p_staff);
END $$;

-- The enrolment `p_id` locked for a change by a manager of its programme,
-- with its programme's organisation and zone; l_e NULL when out of scope.
CREATE FUNCTION enrolment_lock(p_staff bigint, p_id bigint, OUT l_e core.enrolment,
                               OUT l_org bigint, OUT l_tz text)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT * INTO l_e FROM core.enrolment en WHERE en.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		l_e := NULL;
		RETURN;
	END IF;
	SELECT pr.org_id, pr.time_zone INTO l_org, l_tz
	FROM core.cohort c JOIN core.programme pr ON pr.id = c.programme_id
	WHERE c.id = l_e.cohort_id AND core.programme_access(p_staff, pr.id) = 'manage';
	IF l_org IS NULL THEN
		l_e := NULL;
	END IF;
END $$;

-- Refuses a move the transition table does not have, saying why.
CREATE FUNCTION enrolment_refuse_move(e core.enrolment, p_to core.enrolment_status)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM core.enrolment_transition
	               WHERE from_status = e.status AND to_status = p_to) THEN
		RAISE EXCEPTION '%', format('core.illegal_transition|status|%s',
			CASE
			WHEN e.status = 'left' THEN format('This person left the cohort on %s: the enrolment has ended.',
			                                   to_char(e.left_on, 'YYYY-MM-DD'))
			WHEN p_to = 'on_hold' THEN 'This enrolment is on hold already.'
			WHEN p_to = 'enrolled' THEN 'Only an enrolment on hold can resume; this one is not on hold.'
			ELSE format('An enrolment cannot move from %s to %s.', e.status, p_to) END)
		USING ERRCODE = 'WM409';
	END IF;
END $$;

CREATE FUNCTION enrolment_audit(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                                e core.enrolment, p_action text, p_from core.enrolment_status,
                                p_extra jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, p_action, 'enrolment', e.id, e.person_id, p_addr, p_rid,
	        jsonb_build_object('from', p_from, 'to', e.status) || p_extra)
$$;

-- A hold beginning at `p_at` must not cover a session of the cohort whose
-- attendance is recorded for the person: that would turn a recorded
-- absence into "not expected" after the fact.
CREATE FUNCTION hold_refuse_attended(e core.enrolment, p_at timestamptz, p_tz text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v record;
BEGIN
	SELECT s.id, s.title, s.starts_at INTO v
	FROM core.attendance a JOIN core.session s ON s.id = a.session_id
	WHERE a.person_id = e.person_id AND s.cohort_id = e.cohort_id
	ORDER BY s.starts_at DESC, s.id DESC LIMIT 1;
	IF v.id IS NOT NULL AND p_at <= v.starts_at THEN
		RAISE EXCEPTION '%', format('core.attendance_recorded|starts_at|Attendance is recorded for this person at session %s ("%s", %s): a hold can only begin after it.',
			v.id, v.title, core.local_when_text(v.starts_at, p_tz)) USING ERRCODE = 'WM422';
	END IF;
END $$;

-- POST /enrolments/{id}/hold: enrolled -> on_hold from `p_at` (default
-- now); sessions inside the hold are no longer expected (seats freed). A
-- hold may begin in the past (a transfer recorded late: audited as
-- backdated) but never before the join date, before a session whose
-- attendance is recorded, or inside an earlier hold.
CREATE FUNCTION enrolment_hold(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                               p_reason text, p_at text, p_note text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	l record;
	e core.enrolment;
	h core.enrolment_hold;
	v_now timestamptz := core.clock();
	v_at timestamptz;
BEGIN
	SELECT * INTO l FROM core.enrolment_lock(p_staff, p_id);
	IF (l.l_e).id IS NULL THEN
		RETURN NULL;
	END IF;
	e := l.l_e;
	PERFORM core.enrolment_refuse_move(e, 'on_hold');
	v_at := CASE WHEN p_at IS NULL THEN v_now
	             ELSE core.instant_in(p_at, l.l_tz, 'starts_at') END;
	IF (v_at AT TIME ZONE l.l_tz)::date < e.joined_on THEN
		RAISE EXCEPTION 'core.bad_date|starts_at|A hold cannot begin before the join date (%).',
			to_char(e.joined_on, 'YYYY-MM-DD') USING ERRCODE = 'WM422';
	END IF;
	PERFORM core.hold_refuse_attended(e, v_at, l.l_tz);
	SELECT * INTO h FROM core.enrolment_hold
	WHERE enrolment_id = e.id AND (ends_at IS NULL OR ends_at > v_at)
	ORDER BY starts_at LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION '%', format('core.conflict|starts_at|This would overlap an earlier hold (from %s to %s): begin it after that one ended.',
			core.local_when_text(h.starts_at, l.l_tz),
			coalesce(core.local_when_text(h.ends_at, l.l_tz), 'open')) USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.enrolment_hold (enrolment_id, starts_at, reason, note, created_by)
	VALUES (e.id, v_at, p_reason, p_note, p_staff);
	UPDATE core.enrolment SET status = 'on_hold', version = version + 1, updated_at = now()
	WHERE id = e.id RETURNING * INTO e;
	PERFORM core.cohort_sync_or_raise(p_staff, e.cohort_id, e.person_id);
	-- Again, with a fresh snapshot: a register committed while this
	-- statement was checking and freeing seats is seen now.
	PERFORM core.hold_refuse_attended(e, v_at, l.l_tz);
	-- The reason and note are personal (health, recall): name the fields.
	PERFORM core.enrolment_audit(p_staff, p_addr, p_rid, l.l_org, e, 'enrolment.hold',
		'enrolled', jsonb_build_object(
			'fields', CASE WHEN p_note IS NULL THEN '["reason", "starts_at"]'::jsonb
			               ELSE '["note", "reason", "starts_at"]'::jsonb END,
			'backdated', v_at < v_now));
	RETURN core.enrolment_detail_json(e, p_staff);
END $$;

-- POST /enrolments/{id}/resume: on_hold -> enrolled at `p_at` (default
-- now); the open hold ends then and seats come back (a clash: 409).
CREATE FUNCTION enrolment_resume(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                 p_at text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	l record;
	e core.enrolment;
	h core.enrolment_hold;
	v_at timestamptz;
BEGIN
	SELECT * INTO l FROM core.enrolment_lock(p_staff, p_id);
	IF (l.l_e).id IS NULL THEN
		RETURN NULL;
	END IF;
	e := l.l_e;
	PERFORM core.enrolment_refuse_move(e, 'enrolled');
	v_at := CASE WHEN p_at IS NULL THEN core.clock()
	             ELSE core.instant_in(p_at, l.l_tz, 'at') END;
	SELECT * INTO h FROM core.enrolment_hold
	WHERE enrolment_id = e.id AND ends_at IS NULL ORDER BY starts_at DESC, id DESC LIMIT 1
	FOR UPDATE;
	IF h.id IS NOT NULL AND v_at <= h.starts_at THEN
		RAISE EXCEPTION '%', format('core.bad_range|at|The hold began at %s: resume after that.',
			core.local_when_text(h.starts_at, l.l_tz)) USING ERRCODE = 'WM422';
	END IF;
	UPDATE core.enrolment_hold SET ends_at = v_at WHERE id = h.id;
	UPDATE core.enrolment SET status = 'enrolled', version = version + 1, updated_at = now()
	WHERE id = e.id RETURNING * INTO e;
	PERFORM core.cohort_sync_or_raise(p_staff, e.cohort_id, e.person_id);
	PERFORM core.enrolment_audit(p_staff, p_addr, p_rid, l.l_org, e, 'enrolment.resume',
	                             'on_hold', '{}');
	RETURN core.enrolment_detail_json(e, p_staff);
END $$;

-- POST /enrolments/{id}/leave: enrolled or on_hold -> left on `p_left_on`
-- (no session on or after that date is expected; a hold still open ends
-- then).
CREATE FUNCTION enrolment_leave(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                p_left_on date, p_reason text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	l record;
	e core.enrolment;
	v_from core.enrolment_status;
	v_end timestamptz;
BEGIN
	SELECT * INTO l FROM core.enrolment_lock(p_staff, p_id);
	IF (l.l_e).id IS NULL THEN
		RETURN NULL;
	END IF;
	e := l.l_e;
	v_from := e.status;
	PERFORM core.enrolment_refuse_move(e, 'left');
	IF p_left_on < e.joined_on THEN
		RAISE EXCEPTION 'core.bad_date|left_on|left_on cannot be before the join date (%).',
			to_char(e.joined_on, 'YYYY-MM-DD') USING ERRCODE = 'WM422';
	END IF;
	v_end := p_left_on::timestamp AT TIME ZONE l.l_tz;
	UPDATE core.enrolment_hold SET ends_at = v_end
	WHERE enrolment_id = e.id AND ends_at IS NULL AND starts_at < v_end;
	UPDATE core.enrolment SET status = 'left', left_on = p_left_on, left_reason = p_reason,
	       version = version + 1, updated_at = now()
	WHERE id = e.id RETURNING * INTO e;
	PERFORM core.cohort_sync_or_raise(p_staff, e.cohort_id, e.person_id);
	PERFORM core.enrolment_audit(p_staff, p_addr, p_rid, l.l_org, e, 'enrolment.leave',
	                             v_from, '{"fields": ["left_on", "left_reason"]}');
	RETURN core.enrolment_detail_json(e, p_staff);
END $$;

-- --- Release-date anchored sessions -------------------------------------------

CREATE FUNCTION milestone_json(s core.session, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', s.id, 'programme_id', s.programme_id, 'organisation_id', s.org_id,
		'title', s.title, 'status', s.status,
		'starts_at', core.utc_text(s.starts_at), 'ends_at', core.utc_text(s.ends_at),
		'local', jsonb_build_object(
			'date', to_char(s.starts_at AT TIME ZONE pr.time_zone, 'YYYY-MM-DD'),
			'start', to_char(s.starts_at AT TIME ZONE pr.time_zone, 'HH24:MI'),
			'end', to_char(s.ends_at AT TIME ZONE pr.time_zone, 'HH24:MI'),
			'time_zone', pr.time_zone),
		'delivery_mode', s.delivery_mode, 'location_kind', s.location_kind,
		'venue_id', s.venue_id, 'booking_mode', s.booking_mode,
		'anchor_person_id', s.anchor_person_id, 'anchor_offset_days', s.anchor_offset_days,
		'sequence', s.sequence,
		'staff', coalesce((SELECT jsonb_agg(jsonb_build_object(
			'staff_id', ss.staff_id, 'display_name', st.display_name, 'role', ss.role)
			ORDER BY ss.staff_id)
			FROM core.session_staff ss JOIN core.staff st ON st.id = ss.staff_id
			WHERE ss.session_id = s.id), '[]'),
		'created_at', core.utc_text(s.created_at), 'updated_at', core.utc_text(s.updated_at))
	FROM core.programme pr WHERE pr.id = s.programme_id
$$;

-- POST /people/{id}/milestones: a session of the programme on the person's
-- expected release date + offset_days at local_time (the programme's zone),
-- with a booking and seat for the person. NULL when the person is out of
-- scope. Without a release date nothing is scheduled: the organisation's
-- coordinators get a 'core.release_date_missing' alert (committed) and the
-- reply is {"refused": "core.release_date_missing", "message": ...}.
CREATE FUNCTION milestone_create(p_staff bigint, p_addr inet, p_rid text, p_person bigint,
                                 b jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	pr core.programme;
	p core.person;
	s core.session;
	v_start timestamptz;
	v_con text;
	v_alert bigint;
	v_staff jsonb := coalesce(b->'staff', '[]');
BEGIN
	IF core.person_access(p_staff, p_person) IS DISTINCT FROM 'full' THEN
		RETURN NULL;
	END IF;
	SELECT * INTO pr FROM core.programme WHERE id = (b->>'programme_id')::bigint;
	IF NOT FOUND OR core.programme_access(p_staff, pr.id) IS DISTINCT FROM 'manage' THEN
		RAISE EXCEPTION 'core.not_found|programme_id|No such programme.' USING ERRCODE = 'WM404';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM core.person_org
	               WHERE person_id = p_person AND org_id = pr.org_id) THEN
		RAISE EXCEPTION 'core.not_held|programme_id|The programme''s organisation does not hold this person.'
		USING ERRCODE = 'WM422';
	END IF;
	IF b->>'venue_id' IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM core.venue v WHERE v.id = (b->>'venue_id')::bigint
		  AND v.org_id = pr.org_id AND v.archived_at IS NULL) THEN
		RAISE EXCEPTION 'core.not_found|venue_id|No such venue.' USING ERRCODE = 'WM404';
	END IF;
	-- As for any session (migrations/0010): enabled admins, coordinators,
	-- facilitators or mentors of the organisation, not commissioners.
	PERFORM core.session_check_staff(pr.org_id, v_staff);
	SELECT * INTO p FROM core.person WHERE id = p_person;
	IF p.expected_release_date IS NULL THEN
		v_alert := core.alert_raise(pr.org_id, 'core.release_date_missing', p_person, NULL, NULL,
			NULL, 'A release-anchored session could not be scheduled: no expected release date is recorded.',
			jsonb_build_object('programme_id', pr.id));
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_staff, pr.org_id, 'alert.raise', 'alert', v_alert, p_person, p_addr, p_rid,
		        jsonb_build_object('kind', 'core.release_date_missing',
		                           'programme_id', pr.id));
		RETURN jsonb_build_object('refused', 'core.release_date_missing', 'message',
			'This person has no expected release date: record one first. A coordinator has been alerted.');
	END IF;
	v_start := core.instant_in(
		to_char(p.expected_release_date + (b->>'offset_days')::integer, 'YYYY-MM-DD') || 'T'
		|| (b->>'local_time'), pr.time_zone, 'local_time');
	BEGIN
		INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at, delivery_mode,
		                          location_kind, venue_id, booking_mode, booked,
		                          anchor_person_id, anchor_offset_days, created_by)
		VALUES (pr.id, pr.org_id, b->>'title', v_start,
		        v_start + make_interval(mins => (b->>'duration_minutes')::integer),
		        coalesce((b->>'delivery_mode')::core.delivery_mode, 'face_to_face'),
		        (b->>'location_kind')::core.location_kind, (b->>'venue_id')::bigint, 'booked', 1,
		        p_person, (b->>'offset_days')::integer, p_staff)
		RETURNING * INTO s;
		INSERT INTO core.booking (session_id, person_id, booked_by, status)
		VALUES (s.id, p_person, p_staff, 'booked');
		INSERT INTO core.seat (session_id, person_id, source, during)
		VALUES (s.id, p_person, 'booking', s.during);
		INSERT INTO core.session_staff (session_id, staff_id, role, during)
		SELECT s.id, (x->>'staff_id')::bigint,
		       coalesce((x->>'role')::core.programme_role, 'facilitator'), s.during
		FROM jsonb_array_elements(v_staff) x;
	EXCEPTION WHEN exclusion_violation THEN
		GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
		-- The block's rows are gone: describe the clash against a stand-in.
		PERFORM core.milestone_clash_raise(p_staff, v_con, p_person, v_start,
			v_start + make_interval(mins => (b->>'duration_minutes')::integer), v_staff);
	END;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'session.create', 'session', s.id, p_person, p_addr, p_rid,
	        jsonb_build_object('anchored', true, 'fields', (
	            SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)
	            FROM jsonb_object_keys(b) k WHERE jsonb_typeof(b->k) <> 'null')));
	RETURN core.milestone_json(s, p_staff);
END $$;

-- The clash of a milestone that could not be placed at [p_from, p_to).
CREATE FUNCTION milestone_clash_raise(p_staff bigint, p_constraint text, p_person bigint,
                                      p_from timestamptz, p_to timestamptz, p_members jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_other record;
	v_staff boolean := p_constraint = 'session_staff_free';
	v_what text := 'another session';
BEGIN
	IF v_staff THEN
		SELECT s2.id, s2.title, s2.starts_at, s2.org_id, pr.time_zone INTO v_other
		FROM core.session_staff ss JOIN core.session s2 ON s2.id = ss.session_id
		JOIN core.programme pr ON pr.id = s2.programme_id
		WHERE ss.active AND ss.during && tstzrange(p_from, p_to, '[)')
		  AND ss.staff_id IN (SELECT (x->>'staff_id')::bigint FROM jsonb_array_elements(p_members) x)
		ORDER BY s2.starts_at LIMIT 1;
	ELSE
		SELECT s2.id, s2.title, s2.starts_at, s2.org_id, pr.time_zone INTO v_other
		FROM core.seat st JOIN core.session s2 ON s2.id = st.session_id
		JOIN core.programme pr ON pr.id = s2.programme_id
		WHERE st.active AND st.person_id = p_person AND st.during && tstzrange(p_from, p_to, '[)')
		ORDER BY s2.starts_at LIMIT 1;
	END IF;
	IF v_other.id IS NOT NULL AND core.has_role(p_staff, v_other.org_id,
	                                            ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		v_what := format('session %s ("%s", %s)', v_other.id, v_other.title,
		                 core.local_when_text(v_other.starts_at, v_other.time_zone));
	END IF;
	RAISE EXCEPTION '%', format('%s|%s|This would overlap %s at the same time%s.',
		CASE WHEN v_staff THEN 'core.staff_clash' ELSE 'core.person_clash' END,
		CASE WHEN v_staff THEN 'staff' ELSE 'person_id' END, v_what,
		CASE WHEN v_staff THEN ' for a staff member' ELSE ' for this person' END)
	USING ERRCODE = 'WM409';
END $$;

-- Where anchored session `p_session` starts on `p_on` at its local time
-- `p_local`: through core.instant_in, so a time the clocks skip or repeat
-- on the new date is refused (422, naming the session and the release
-- date) rather than shifted to another local time.
CREATE FUNCTION anchor_start(p_session bigint, p_title text, p_on date, p_local time,
                             p_tz text) RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
	v_msg text;
BEGIN
	RETURN core.instant_in(to_char(p_on, 'YYYY-MM-DD') || 'T' || to_char(p_local, 'HH24:MI:SS'),
	                       p_tz, 'expected_release_date');
EXCEPTION WHEN SQLSTATE 'WM422' THEN
	GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
	v_msg := split_part(v_msg, '|', 1);
	RAISE EXCEPTION '%', format('%s|expected_release_date|Release-anchored session %s ("%s") would start at %s %s, which %s in %s: move that session first or record another date.',
		v_msg, p_session, p_title, to_char(p_on, 'YYYY-MM-DD'), to_char(p_local, 'HH24:MI'),
		CASE v_msg WHEN 'core.nonexistent_time' THEN 'does not exist (the clocks go forward)'
		           ELSE 'happens twice (the clocks go back)' END, p_tz)
	USING ERRCODE = 'WM422';
END $$;

-- When a person's expected release date changes, the sessions anchored to
-- it that are still to come move: new date = release date + offset, same
-- local time in the programme's zone, SEQUENCE + 1 (calendars update); the
-- seats and staff follow (session_sync), and a clash fails the change with
-- 409. When the date is cleared the sessions stay and each organisation
-- that scheduled them gets a 'core.release_date_missing' alert. An erasure
-- clears the date too: that raises nothing.
CREATE FUNCTION person_release_date_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r record;
	v_con text;
	v_moved bigint[] := '{}';
BEGIN
	IF NEW.erased_at IS NOT NULL THEN
		RETURN NEW;
	END IF;
	IF NEW.expected_release_date IS NULL THEN
		PERFORM core.alert_raise(x.org_id, 'core.release_date_missing', NEW.id, NULL, NULL, NULL,
			format('The expected release date was cleared: %s release-anchored session(s) keep their dates until a new one is recorded.',
			       x.n),
			jsonb_build_object('session_ids', x.ids))
		FROM (SELECT s.org_id, count(*) AS n, jsonb_agg(s.id ORDER BY s.id) AS ids
		      FROM core.session s
		      WHERE s.anchor_person_id = NEW.id AND s.status = 'scheduled'
		        AND s.starts_at > core.clock()
		      GROUP BY s.org_id) x;
		RETURN NEW;
	END IF;
	BEGIN
		-- One at a time, in the order that never lands a session on a
		-- neighbour that has not moved yet.
		FOR r IN
			SELECT s.id, s.org_id, x.new_start, x.new_start - s.starts_at AS shift
			FROM core.session s JOIN core.programme pr ON pr.id = s.programme_id,
			LATERAL (SELECT core.anchor_start(s.id, s.title,
			                                  NEW.expected_release_date + s.anchor_offset_days,
			                                  (s.starts_at AT TIME ZONE pr.time_zone)::time,
			                                  pr.time_zone) AS new_start) x
			WHERE s.anchor_person_id = NEW.id AND s.status = 'scheduled'
			  AND s.starts_at > core.clock() AND x.new_start <> s.starts_at
			ORDER BY CASE WHEN x.new_start > s.starts_at THEN -extract(epoch FROM s.starts_at)
			              ELSE extract(epoch FROM s.starts_at) END
		LOOP
			UPDATE core.session SET starts_at = r.new_start, ends_at = ends_at + r.shift,
			       sequence = sequence + 1, updated_at = now()
			WHERE id = r.id;
			v_moved := v_moved || r.id;
			INSERT INTO core.audit (org_id, action, object_type, object_id, person_id, detail)
			VALUES (r.org_id, 'session.anchor_move', 'session', r.id, NEW.id,
			        jsonb_build_object('fields', '["ends_at", "starts_at"]'::jsonb,
			                           'cause', 'expected_release_date'));
		END LOOP;
	EXCEPTION WHEN exclusion_violation THEN
		GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
		RAISE EXCEPTION '%', format('%s|expected_release_date|Moving the release-anchored sessions to the new date would overlap another session%s.',
			CASE v_con WHEN 'session_staff_free' THEN 'core.staff_clash'
			           WHEN 'session_room_free' THEN 'core.room_clash'
			           ELSE 'core.person_clash' END,
			CASE v_con WHEN 'session_staff_free' THEN ' for a staff member'
			           WHEN 'session_room_free' THEN ' in the same room'
			           ELSE ' for this person' END)
		USING ERRCODE = 'WM409';
	END;
	RETURN NEW;
END $$;
CREATE TRIGGER person_release_date_moved
	AFTER UPDATE OF expected_release_date ON core.person
	FOR EACH ROW WHEN (OLD.expected_release_date IS DISTINCT FROM NEW.expected_release_date)
	EXECUTE FUNCTION core.person_release_date_moved();
