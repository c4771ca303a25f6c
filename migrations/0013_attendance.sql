-- Attendance registers, outcome codes and completion (issue 4, S5).
-- Runs after 0008 with search_path = core, public. Tables are 0008's; this
-- file adds the scope check for registers, the facts the plugin hooks get
-- (include/waymark/hooks.md), the one writer of a register and the one
-- writer of what the hooks decided.

-- --- Scope -------------------------------------------------------------

-- How `staff` may reach the register of `session`: 'manage' (admin or
-- coordinator of its organisation) or 'staff' (a facilitator — or, when
-- reading, a mentor — of the organisation who is on the session's active
-- staff list). NULL otherwise: the API answers 404.
CREATE FUNCTION register_access(p_staff bigint, p_session bigint, p_write boolean) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
	WHEN core.has_role(p_staff, s.org_id, ARRAY['admin', 'coordinator']::core.staff_role[])
		THEN 'manage'
	WHEN core.has_role(p_staff, s.org_id,
	                   CASE WHEN p_write THEN ARRAY['facilitator']::core.staff_role[]
	                        ELSE ARRAY['facilitator', 'mentor']::core.staff_role[] END)
	     AND EXISTS (SELECT 1 FROM core.session_staff ss
	                 WHERE ss.session_id = s.id AND ss.staff_id = p_staff AND ss.active)
		THEN 'staff'
	END
	FROM core.session s WHERE s.id = p_session
$$;

-- Serialises register writes and evaluations per cohort (or per session
-- outside cohorts): the facts a request gathers then always include every
-- register committed before it, and two evaluations of one enrolment never
-- interleave.
CREATE FUNCTION register_lock(s core.session) RETURNS void LANGUAGE sql AS $$
	SELECT pg_advisory_xact_lock(CASE WHEN s.cohort_id IS NULL THEN 5314 ELSE 5313 END,
	                             (coalesce(s.cohort_id, s.id) % 2147483647)::integer)
$$;

-- --- Outcome codes -----------------------------------------------------------

CREATE FUNCTION outcome_code_json(oc core.outcome_code) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', oc.id, 'organisation_id', oc.org_id, 'code', oc.code,
		'label', oc.label, 'attended', oc.attended, 'compliant', oc.compliant,
		'reason_class', oc.reason_class, 'built_in', oc.org_id IS NULL,
		'archived_at', core.utc_text(oc.archived_at))
$$;

CREATE FUNCTION outcome_code_create(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                                    p_code text, p_label text, p_attended boolean,
                                    p_compliant boolean, p_reason text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	oc core.outcome_code;
BEGIN
	IF NOT core.has_role(p_staff, p_org, ARRAY['admin']::core.staff_role[]) THEN
		RETURN NULL;
	END IF;
	IF EXISTS (SELECT 1 FROM core.outcome_code WHERE org_id IS NULL AND code = p_code) THEN
		RAISE EXCEPTION 'core.conflict|code|This is a built-in outcome code; choose another code.'
			USING ERRCODE = 'WM409';
	END IF;
	IF NOT p_attended AND p_reason IS NULL THEN
		RAISE EXCEPTION 'core.reason_class_required|reason_class|An outcome where the person did not attend needs a reason_class.'
			USING ERRCODE = 'WM422';
	END IF;
	BEGIN
		INSERT INTO core.outcome_code (org_id, code, label, attended, compliant, reason_class)
		VALUES (p_org, p_code, p_label, p_attended, p_compliant, p_reason::core.reason_class)
		RETURNING * INTO oc;
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'core.conflict|code|The organisation already has this outcome code (perhaps archived).'
			USING ERRCODE = 'WM409';
	END;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_staff, p_org, 'outcome_code.create', 'outcome_code', oc.id, p_addr, p_rid,
	        jsonb_build_object('code', oc.code, 'attended', oc.attended,
	                           'compliant', oc.compliant, 'reason_class', oc.reason_class));
	RETURN core.outcome_code_json(oc);
END $$;

-- Archives an organisation's own code: registers already taken keep it,
-- new entries cannot use it. Built-in codes stay (409).
CREATE FUNCTION outcome_code_archive(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	oc core.outcome_code;
BEGIN
	SELECT * INTO oc FROM core.outcome_code WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF oc.org_id IS NULL THEN
		RAISE EXCEPTION 'core.built_in||Built-in outcome codes cannot be archived.'
			USING ERRCODE = 'WM409';
	END IF;
	IF NOT core.has_role(p_staff, oc.org_id, ARRAY['admin']::core.staff_role[])
	   OR oc.archived_at IS NOT NULL THEN
		RETURN NULL;
	END IF;
	UPDATE core.outcome_code SET archived_at = now() WHERE id = p_id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_staff, oc.org_id, 'outcome_code.archive', 'outcome_code', oc.id, p_addr, p_rid,
	        jsonb_build_object('code', oc.code));
	RETURN '{}'::jsonb;
END $$;

-- --- Facts for the hooks -------------------------------------------------------

-- What attendance_rules and completion_evaluate get for an enrolment
-- (hooks.md): every session of the cohort in start order, whether the
-- person was expected at it (never before joining, inside a hold, after
-- leaving, or when it was cancelled) and the attendance recorded.
CREATE FUNCTION enrolment_facts(p_enrolment bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'enrolment', jsonb_build_object('id', e.id, 'cohort_id', e.cohort_id,
			'person_id', e.person_id, 'joined_on', e.joined_on, 'status', e.status,
			'left_on', e.left_on, 'left_reason', e.left_reason),
		'programme', jsonb_build_object('id', pr.id, 'type', pr.type, 'settings', pr.settings),
		'cohort', jsonb_build_object('id', c.id, 'starts_on', c.starts_on, 'ends_on', c.ends_on),
		'sessions', coalesce((
			SELECT jsonb_agg(jsonb_build_object(
				'id', s.id, 'starts_at', core.utc_text(s.starts_at), 'status', s.status,
				'module', s.module, 'catch_up', s.catch_up,
				'expected', s.status = 'scheduled'
				            AND coalesce(core.enrolment_expects(e.id, s.starts_at), false),
				'attendance', CASE WHEN a.session_id IS NOT NULL THEN jsonb_build_object(
					'code', oc.code, 'attended', oc.attended, 'compliant', oc.compliant,
					'reason_class', oc.reason_class, 'late_minutes', a.late_minutes) END)
				ORDER BY s.starts_at, s.id)
			FROM core.session s
			LEFT JOIN core.attendance a ON a.session_id = s.id AND a.person_id = e.person_id
			LEFT JOIN core.outcome_code oc ON oc.id = a.outcome_code_id
			WHERE s.cohort_id = e.cohort_id), '[]'::jsonb),
		'now', core.utc_text(core.clock()))
	FROM core.enrolment e
	JOIN core.cohort c ON c.id = e.cohort_id
	JOIN core.programme pr ON pr.id = c.programme_id
	WHERE e.id = p_enrolment
$$;

-- The facts without the moment they were read: equal bases mean nothing the
-- hooks look at changed in between.
CREATE FUNCTION enrolment_facts_basis(p_enrolment bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT md5((core.enrolment_facts(p_enrolment) - 'now')::text)
$$;

-- Counts over the facts, as GET /enrolments/{id}/completion shows them:
-- sessions not expected never count, and neither does an absence the
-- service caused.
CREATE FUNCTION enrolment_counts(p_facts jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object(
		'sessions', count(*),
		'expected', count(*) FILTER (WHERE (x->>'expected')::boolean),
		'attended', count(*) FILTER (WHERE (x->>'expected')::boolean
		                             AND (x#>>'{attendance,attended}')::boolean),
		'absent', count(*) FILTER (WHERE (x->>'expected')::boolean
		                           AND NOT (x#>>'{attendance,attended}')::boolean
		                           AND x#>>'{attendance,reason_class}' <> 'service_cancelled'),
		'unrecorded', count(*) FILTER (WHERE (x->>'expected')::boolean
		                               AND jsonb_typeof(x->'attendance') = 'null'),
		'not_expected', count(*) FILTER (WHERE NOT (x->>'expected')::boolean))
	FROM jsonb_array_elements(p_facts->'sessions') x
$$;

-- --- Registers ---------------------------------------------------------------

CREATE FUNCTION attendance_json(a core.attendance, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('outcome', oc.code, 'label', oc.label, 'attended', oc.attended,
		'compliant', oc.compliant, 'reason_class', oc.reason_class,
		'late_minutes', a.late_minutes, 'late_reason', a.late_reason, 'note', a.note,
		'recorded_by', core.staff_shown(p_staff, a.recorded_by),
		'recorded_at', core.utc_text(a.recorded_at), 'version', a.version)
	FROM core.outcome_code oc WHERE oc.id = a.outcome_code_id
$$;

-- The register of a session as `staff` sees it: everyone expected or
-- booked (active seats), and anyone with attendance recorded whose seat has
-- since gone, with their current attendance. Names only where the caller
-- may see the person.
CREATE FUNCTION register_json(p_session bigint, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'session_id', s.id,
		'session', jsonb_build_object('id', s.id, 'programme_id', s.programme_id,
			'cohort_id', s.cohort_id, 'title', s.title,
			'starts_at', core.utc_text(s.starts_at), 'ends_at', core.utc_text(s.ends_at),
			'status', s.status, 'started', s.starts_at <= core.clock()),
		'entries', coalesce((
			SELECT jsonb_agg(jsonb_build_object(
				'person_id', x.person_id,
				'name', CASE WHEN core.person_access(p_staff, x.person_id) IS NOT NULL
				             THEN jsonb_build_object('given_name', p.given_name,
				                  'family_name', p.family_name, 'known_as', p.known_as) END,
				'expected', x.active, 'source', x.source,
				'enrolment_id', (SELECT e.id FROM core.enrolment e
				                 WHERE e.cohort_id = s.cohort_id AND e.person_id = x.person_id),
				'attendance', (SELECT core.attendance_json(a, p_staff) FROM core.attendance a
				               WHERE a.session_id = s.id AND a.person_id = x.person_id))
				ORDER BY x.person_id)
			FROM (SELECT st.person_id, st.source, st.active FROM core.seat st
			      WHERE st.session_id = s.id AND st.active
			      UNION ALL
			      SELECT a.person_id, NULL, false FROM core.attendance a
			      WHERE a.session_id = s.id AND NOT EXISTS (
			            SELECT 1 FROM core.seat st WHERE st.session_id = s.id
			              AND st.person_id = a.person_id AND st.active)) x
			JOIN core.person p ON p.id = x.person_id), '[]'::jsonb))
	FROM core.session s WHERE s.id = p_session
$$;

-- GET register: audited for children on it, as any read of a child's record.
CREATE FUNCTION register_get(p_staff bigint, p_addr inet, p_rid text, p_session bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
BEGIN
	IF core.register_access(p_staff, p_session, false) IS NULL THEN
		RETURN NULL;
	END IF;
	r := core.register_json(p_session, p_staff);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id)
	SELECT p_staff, s.org_id, 'register.read_child', 'session', s.id,
	       (x->>'person_id')::bigint, p_addr, p_rid
	FROM core.session s, jsonb_array_elements(r->'entries') x
	WHERE s.id = p_session AND core.is_child((x->>'person_id')::bigint);
	RETURN r;
END $$;

-- PUT register: every entry written, or none. Each entry names a person
-- with a seat at the session (or attendance already recorded there) and an
-- outcome code (built-in or the organisation's own, not archived). A
-- correction moves the row it replaces to attendance_history and bumps the
-- version; an entry equal to what is stored changes nothing. Returns the
-- register as stored, the programme type, and the facts (with their basis)
-- of every enrolment of the cohort whose person was in the request, for the
-- hooks; NULL when the session is not the caller's.
CREATE FUNCTION register_put(p_staff bigint, p_addr inet, p_rid text, p_session bigint,
                             p_entries jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	s core.session;
	v_type text;
	ent jsonb;
	i bigint;
	f text;
	v_person bigint;
	oc core.outcome_code;
	cur core.attendance;
	have boolean;
	v_late integer;
	v_reason text;
	v_note text;
	v_ver integer;
	changed text[];
BEGIN
	IF core.register_access(p_staff, p_session, true) IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT * INTO s FROM core.session WHERE id = p_session;
	PERFORM core.register_lock(s);
	SELECT type INTO v_type FROM core.programme WHERE id = s.programme_id;
	IF s.status <> 'scheduled' THEN
		RAISE EXCEPTION 'core.session_cancelled||This session was cancelled: there is no register to take.'
			USING ERRCODE = 'WM409';
	END IF;
	IF s.starts_at > core.clock() THEN
		RAISE EXCEPTION 'core.not_started||The session has not started yet: take the register once it has.'
			USING ERRCODE = 'WM422';
	END IF;
	FOR ent, i IN SELECT x.value, x.ordinality - 1
	              FROM jsonb_array_elements(p_entries) WITH ORDINALITY x LOOP
		f := format('entries[%s].', i);
		v_person := (ent->>'person_id')::bigint;
		v_late := (ent->>'late_minutes')::integer;
		v_reason := ent->>'late_reason';
		v_note := ent->>'note';
		v_ver := (ent->>'version')::integer;
		SELECT * INTO cur FROM core.attendance
		WHERE session_id = p_session AND person_id = v_person FOR UPDATE;
		have := FOUND;
		-- Share-lock the seat: a hold or leave racing this register either
		-- waits for it, or has committed and the seat is no longer active.
		PERFORM 1 FROM core.seat st WHERE st.session_id = p_session
		  AND st.person_id = v_person AND st.active FOR SHARE;
		IF NOT have AND NOT FOUND THEN
			RAISE EXCEPTION '%', format('core.not_expected|%sperson_id|Entry %s: this person is not expected at or booked on this session.', f, i)
				USING ERRCODE = 'WM422';
		END IF;
		SELECT * INTO oc FROM core.outcome_code
		WHERE code = ent->>'outcome' AND (org_id IS NULL OR org_id = s.org_id)
		  AND archived_at IS NULL;
		IF NOT FOUND THEN
			RAISE EXCEPTION '%', format('core.bad_enum|%soutcome|Entry %s: outcome must be one of the outcome codes of the organisation (GET /api/v1/outcome-codes).', f, i)
				USING ERRCODE = 'WM400';
		END IF;
		IF v_late IS NOT NULL AND NOT oc.attended THEN
			RAISE EXCEPTION '%', format('core.late_not_attended|%slate_minutes|Entry %s: lateness is only for an outcome where the person attended.', f, i)
				USING ERRCODE = 'WM422';
		END IF;
		IF v_ver IS NOT NULL AND (NOT have OR cur.version <> v_ver) THEN
			RAISE EXCEPTION '%', format('core.stale|%sversion|Entry %s: the attendance was changed by someone else (now version %s); reload the register.', f, i, coalesce(cur.version, 0))
				USING ERRCODE = 'WM409';
		END IF;
		IF have THEN
			changed := ARRAY[]::text[];
			IF cur.outcome_code_id <> oc.id THEN changed := changed || 'outcome'::text; END IF;
			IF cur.late_minutes IS DISTINCT FROM v_late THEN
				changed := changed || 'late_minutes'::text;
			END IF;
			IF cur.late_reason IS DISTINCT FROM v_reason THEN
				changed := changed || 'late_reason'::text;
			END IF;
			IF cur.note IS DISTINCT FROM v_note THEN changed := changed || 'note'::text; END IF;
			CONTINUE WHEN cardinality(changed) = 0;
			INSERT INTO core.attendance_history (session_id, person_id, outcome_code_id,
				late_minutes, late_reason, note, recorded_by, recorded_at, version,
				superseded_by)
			VALUES (cur.session_id, cur.person_id, cur.outcome_code_id, cur.late_minutes,
			        cur.late_reason, cur.note, cur.recorded_by, cur.recorded_at, cur.version,
			        p_staff);
			UPDATE core.attendance SET outcome_code_id = oc.id, late_minutes = v_late,
			       late_reason = v_reason, note = v_note, recorded_by = p_staff,
			       recorded_at = now(), version = version + 1
			WHERE session_id = p_session AND person_id = v_person;
		ELSE
			changed := ARRAY['outcome'];
			IF v_late IS NOT NULL THEN changed := changed || 'late_minutes'::text; END IF;
			IF v_reason IS NOT NULL THEN changed := changed || 'late_reason'::text; END IF;
			IF v_note IS NOT NULL THEN changed := changed || 'note'::text; END IF;
			INSERT INTO core.attendance (session_id, person_id, outcome_code_id, late_minutes,
			                             late_reason, note, recorded_by)
			VALUES (p_session, v_person, oc.id, v_late, v_reason, v_note, p_staff);
		END IF;
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_staff, s.org_id,
		        CASE WHEN have THEN 'attendance.correct' ELSE 'attendance.record' END,
		        'session', p_session, v_person, p_addr, p_rid,
		        jsonb_build_object('fields', changed,
		                           'version', CASE WHEN have THEN cur.version + 1 ELSE 1 END));
	END LOOP;
	RETURN jsonb_build_object(
		'register', core.register_json(p_session, p_staff),
		'type', v_type,
		'evaluate', coalesce((
			SELECT jsonb_agg(jsonb_build_object('enrolment_id', e.id,
			                 'facts', core.enrolment_facts(e.id),
			                 'basis', core.enrolment_facts_basis(e.id)) ORDER BY e.id)
			FROM core.enrolment e
			WHERE e.cohort_id = s.cohort_id AND e.person_id IN (
				SELECT (x->>'person_id')::bigint FROM jsonb_array_elements(p_entries) x)),
			'[]'::jsonb));
END $$;

-- Stores what the hooks decided after a register for session `p_session`
-- was taken (or, with p_session NULL, after an enrolment changed: hold,
-- resume, leave — the enrolment routes may call it the same way). p_results: [{enrolment_id, basis, alerts: [{kind, message,
-- severity}], completion: {result, rule_version, reason}, detail: {}}].
-- Alerts: once per kind, enrolment and triggering session. Completion: only
-- when the facts are still those the decision was made on (a later change
-- is evaluated by its own request); a different result or rule version is a
-- new decision, and the previous one is kept in completion_history. Returns {completions: [...], alerts: [...]}.
CREATE FUNCTION register_outcomes(p_staff bigint, p_addr inet, p_rid text, p_session bigint,
                                  p_results jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	s core.session;
	r jsonb;
	e core.enrolment;
	old core.completion;
	c jsonb;
	v_alerts jsonb := '[]'::jsonb;
	v_done bigint[] := ARRAY[]::bigint[];
	v_changed bigint[] := ARRAY[]::bigint[];
	v_practitioner boolean;
	v_org bigint;
BEGIN
	IF p_session IS NOT NULL THEN
		SELECT * INTO s FROM core.session WHERE id = p_session;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
		PERFORM core.register_lock(s);
	END IF;
	FOR r IN SELECT value FROM jsonb_array_elements(p_results) LOOP
		SELECT * INTO e FROM core.enrolment
		WHERE id = (r->>'enrolment_id')::bigint
		  AND (p_session IS NULL OR cohort_id = s.cohort_id);
		CONTINUE WHEN NOT FOUND;
		IF p_session IS NULL THEN
			PERFORM pg_advisory_xact_lock(5313, (e.cohort_id % 2147483647)::integer);
		END IF;
		SELECT pr.org_id INTO v_org FROM core.cohort c
		JOIN core.programme pr ON pr.id = c.programme_id WHERE c.id = e.cohort_id;
		v_done := v_done || e.id;
		SELECT p.probation_practitioner IS NOT NULL INTO v_practitioner
		FROM core.person p WHERE p.id = e.person_id;
		WITH a AS (
			SELECT DISTINCT ON (x->>'kind') x->>'kind' AS kind, x->>'message' AS message,
			       coalesce(x->>'severity', 'warning') AS severity
			FROM jsonb_array_elements(coalesce(r->'alerts', '[]'::jsonb)) x
			WHERE NOT EXISTS (SELECT 1 FROM core.alert al
			                  WHERE al.kind = x->>'kind' AND al.enrolment_id = e.id
			                    AND al.session_id IS NOT DISTINCT FROM p_session)),
		ins AS (
			INSERT INTO core.alert (org_id, kind, person_id, session_id, enrolment_id,
			                        cohort_id, message, detail)
			SELECT v_org, a.kind, e.person_id, p_session, e.id, e.cohort_id, a.message,
			       jsonb_build_object('severity', a.severity,
			                          'for_probation_practitioner', v_practitioner)
			FROM a RETURNING id, kind),
		aud AS (
			INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
			                        person_id, remote_addr, request_id, detail)
			SELECT p_staff, v_org, 'alert.raise', 'alert', ins.id, e.person_id, p_addr,
			       p_rid, jsonb_build_object('kind', ins.kind, 'enrolment_id', e.id,
			                                 'session_id', p_session)
			FROM ins)
		SELECT v_alerts || coalesce(jsonb_agg(jsonb_build_object('id', ins.id, 'kind', ins.kind,
		       'enrolment_id', e.id, 'person_id', e.person_id) ORDER BY ins.id), '[]'::jsonb)
		INTO v_alerts FROM ins;

		c := r->'completion';
		CONTINUE WHEN c IS NULL OR jsonb_typeof(c) <> 'object'
		         OR r->>'basis' IS DISTINCT FROM core.enrolment_facts_basis(e.id);
		SELECT * INTO old FROM core.completion WHERE enrolment_id = e.id FOR UPDATE;
		-- The same decision under the same rule: its reason and counts are
		-- brought up to date, it is not a new decision.
		IF FOUND AND old.result = (c->>'result')::core.completion_result
		   AND old.rule_version = c->>'rule_version' THEN
			UPDATE core.completion SET reason = c->>'reason',
			       detail = coalesce(r->'detail', '{}'::jsonb)
			WHERE enrolment_id = e.id;
			CONTINUE;
		END IF;
		IF FOUND THEN
			INSERT INTO core.completion_history (enrolment_id, result, rule_version, reason,
			                                     decided_at)
			VALUES (old.enrolment_id, old.result, old.rule_version, old.reason, old.decided_at);
		END IF;
		INSERT INTO core.completion (enrolment_id, result, rule_version, reason, detail,
		                             decided_at)
		VALUES (e.id, (c->>'result')::core.completion_result, c->>'rule_version',
		        c->>'reason', coalesce(r->'detail', '{}'::jsonb), now())
		ON CONFLICT (enrolment_id) DO UPDATE SET result = EXCLUDED.result,
			rule_version = EXCLUDED.rule_version, reason = EXCLUDED.reason,
			detail = EXCLUDED.detail, decided_at = EXCLUDED.decided_at;
		v_changed := v_changed || e.id;
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_staff, v_org, 'completion.decide', 'enrolment', e.id, e.person_id, p_addr,
		        p_rid, jsonb_build_object('result', c->>'result',
		                                  'rule_version', c->>'rule_version',
		                                  'previous', old.result));
	END LOOP;
	RETURN jsonb_build_object(
		'completions', coalesce((
			SELECT jsonb_agg(jsonb_build_object('enrolment_id', cp.enrolment_id,
			       'person_id', en.person_id, 'result', cp.result,
			       'rule_version', cp.rule_version, 'reason', cp.reason,
			       'decided_at', core.utc_text(cp.decided_at),
			       'changed', cp.enrolment_id = ANY (v_changed)) ORDER BY cp.enrolment_id)
			FROM core.completion cp JOIN core.enrolment en ON en.id = cp.enrolment_id
			WHERE cp.enrolment_id = ANY (v_done)), '[]'::jsonb),
		'alerts', v_alerts);
END $$;

-- GET register history: admins and coordinators only.
CREATE FUNCTION register_history(p_staff bigint, p_addr inet, p_rid text, p_session bigint,
                                 p_person bigint, p_cursor bigint, p_limit integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
	n integer;
BEGIN
	IF core.register_access(p_staff, p_session, false) IS DISTINCT FROM 'manage' THEN
		RETURN NULL;
	END IF;
	WITH page AS (
		SELECT h.* FROM core.attendance_history h
		WHERE h.session_id = p_session AND (p_person IS NULL OR h.person_id = p_person)
		  AND h.id > coalesce(p_cursor, 0)
		ORDER BY h.id LIMIT p_limit + 1)
	SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('id', h.id,
		'person_id', h.person_id, 'outcome', oc.code, 'late_minutes', h.late_minutes,
		'late_reason', h.late_reason, 'note', h.note,
		'recorded_by', core.staff_shown(p_staff, h.recorded_by),
		'recorded_at', core.utc_text(h.recorded_at), 'version', h.version,
		'superseded_at', core.utc_text(h.superseded_at),
		'superseded_by', core.staff_shown(p_staff, h.superseded_by)) ORDER BY h.id)
		FILTER (WHERE h.rn <= p_limit), '[]'::jsonb)
	INTO n, r
	FROM (SELECT page.*, row_number() OVER (ORDER BY page.id) AS rn FROM page) h
	JOIN core.outcome_code oc ON oc.id = h.outcome_code_id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id)
	SELECT DISTINCT ON (x->>'person_id') p_staff, s.org_id, 'register.read_child', 'session',
	       s.id, (x->>'person_id')::bigint, p_addr, p_rid
	FROM core.session s, jsonb_array_elements(r) x
	WHERE s.id = p_session AND core.is_child((x->>'person_id')::bigint);
	RETURN jsonb_build_object('session_id', p_session, 'items', r,
		'next_cursor', CASE WHEN n > p_limit THEN (r->(p_limit - 1))->>'id' END);
END $$;

-- --- Completion --------------------------------------------------------------

-- GET /enrolments/{id}/completion: admins and coordinators of the
-- programme's organisation, and facilitators and mentors running it who
-- may see the person. The stored decision (or in_progress with no rule yet
-- when none was made), its history, and live counts over the facts.
CREATE FUNCTION completion_get(p_staff bigint, p_addr inet, p_rid text, p_enrolment bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	e core.enrolment;
	v_prog core.programme;
	acc text;
	cp core.completion;
BEGIN
	SELECT * INTO e FROM core.enrolment WHERE id = p_enrolment;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT pr.* INTO v_prog FROM core.programme pr JOIN core.cohort c ON c.programme_id = pr.id
	WHERE c.id = e.cohort_id;
	acc := core.programme_access(p_staff, v_prog.id);
	IF acc IS NULL OR acc NOT IN ('manage', 'run')
	   OR (acc = 'run' AND core.person_access(p_staff, e.person_id) IS NULL) THEN
		RETURN NULL;
	END IF;
	IF core.is_child(e.person_id) THEN
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id)
		VALUES (p_staff, v_prog.org_id, 'completion.read_child', 'enrolment', e.id,
		        e.person_id, p_addr, p_rid);
	END IF;
	SELECT * INTO cp FROM core.completion WHERE enrolment_id = e.id;
	RETURN jsonb_build_object(
		'enrolment_id', e.id, 'person_id', e.person_id, 'cohort_id', e.cohort_id,
		'programme_id', v_prog.id, 'type', v_prog.type, 'status', e.status,
		'result', coalesce(cp.result, 'in_progress'), 'rule_version', cp.rule_version,
		'reason', cp.reason, 'decided_at', core.utc_text(cp.decided_at),
		'detail', coalesce(cp.detail, '{}'::jsonb),
		'attendance', core.enrolment_counts(core.enrolment_facts(e.id)),
		'history', coalesce((
			SELECT jsonb_agg(jsonb_build_object('result', h.result,
			       'rule_version', h.rule_version, 'reason', h.reason,
			       'decided_at', core.utc_text(h.decided_at)) ORDER BY h.id)
			FROM core.completion_history h WHERE h.enrolment_id = e.id), '[]'::jsonb));
END $$;
