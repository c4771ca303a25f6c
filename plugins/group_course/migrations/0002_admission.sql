-- group_course 0002: eligibility rules (versioned, append-only), admissions
-- of referrals into cohorts, and the per-course waiting list (see
-- plugins/group_course/gc_admission.c and gc_eligibility.c).
--
-- The rule itself is evaluated in C (gc_eligibility_evaluate, the same
-- function the booking_check hook uses), between two statements: the first
-- gathers the facts (group_course.admission_facts / waitlist_facts), the
-- second stores the decision and acts on it (admission_record /
-- waitlist_admit). Every admission row keeps the rule version, result,
-- reasons and warnings it was decided with; a later rule is a new version
-- and never rewrites them.
--
-- Runs with search_path = group_course; everything is qualified. Route
-- functions take (staff, peer address, request id) first, return NULL when
-- the object is out of the caller's scope (404), and refuse with
-- RAISE 'code|field|message' USING ERRCODE 'WM4xx'. Functions that call
-- another migration's functions are PL/pgSQL.

-- --- Eligibility rules ---------------------------------------------------------

CREATE TABLE eligibility_rule (
	id bigserial PRIMARY KEY,
	programme_id bigint NOT NULL REFERENCES core.programme,
	version integer NOT NULL CHECK (version >= 1),
	-- Checked in C (gc_eligibility_check) before it is stored.
	rules jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'object' AND NOT rules ? 'version'),
	note text CHECK (length(note) BETWEEN 1 AND 500),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES core.staff,
	UNIQUE (programme_id, version)
);

-- Rules and admissions are records of what was decided: never changed.
CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '%', format('group_course.append_only||%s rows are never changed or removed.',
	                            TG_TABLE_NAME) USING ERRCODE = 'WM409';
END $$;
CREATE TRIGGER eligibility_rule_append_only BEFORE UPDATE OR DELETE ON eligibility_rule
	FOR EACH ROW EXECUTE FUNCTION group_course.append_only();

-- The current rule of a course, or no row.
CREATE FUNCTION eligibility_current(p_programme bigint) RETURNS group_course.eligibility_rule
LANGUAGE sql STABLE AS $$
	SELECT * FROM group_course.eligibility_rule WHERE programme_id = p_programme
	ORDER BY version DESC LIMIT 1
$$;

-- programme.settings.eligibility mirrors the current rule (with its
-- "version") so the booking_check hook, which sees no database, can check
-- direct enrolments. The plugin keeps it: whatever a create or PATCH of the
-- programme sends for it is replaced by the current rule (absent or null
-- when the course has none), so the mirror can never drift from the table.
CREATE FUNCTION eligibility_mirror() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r group_course.eligibility_rule;
BEGIN
	r := group_course.eligibility_current(NEW.id);
	IF r.id IS NOT NULL THEN
		NEW.settings := jsonb_set(NEW.settings, '{eligibility}',
		                          r.rules || jsonb_build_object('version', r.version));
	ELSIF NEW.settings ? 'eligibility' THEN
		NEW.settings := jsonb_set(NEW.settings, '{eligibility}', 'null'::jsonb);
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER group_course_eligibility_mirror BEFORE INSERT OR UPDATE OF settings
	ON core.programme FOR EACH ROW WHEN (NEW.type = 'group_course')
	EXECUTE FUNCTION group_course.eligibility_mirror();

-- "group_course:<programme>:v<version>" (or ":none"): what a referral's
-- eligibility_rule_version records.
CREATE FUNCTION rule_label(p_programme bigint, p_version integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT format('group_course:%s:%s', p_programme,
	              CASE WHEN p_version IS NULL THEN 'none' ELSE 'v' || p_version END)
$$;

CREATE FUNCTION eligibility_rule_json(r group_course.eligibility_rule, p_staff bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', r.id, 'programme_id', r.programme_id, 'version', r.version,
		'rules', r.rules, 'note', r.note, 'created_at', core.utc_text(r.created_at),
		'created_by', core.staff_shown(p_staff, r.created_by),
		'label', group_course.rule_label(r.programme_id, r.version))
$$;

-- A course the caller manages (admin or coordinator of its organisation),
-- or NULL.
CREATE FUNCTION course_managed(p_staff bigint, p_programme bigint) RETURNS core.programme
LANGUAGE plpgsql STABLE AS $$
DECLARE
	pr core.programme;
BEGIN
	SELECT * INTO pr FROM core.programme WHERE id = p_programme AND type = 'group_course';
	IF NOT FOUND OR core.programme_access(p_staff, pr.id) IS DISTINCT FROM 'manage' THEN
		RETURN NULL;
	END IF;
	RETURN pr;
END $$;

-- GET /courses/{id}/eligibility: the current rule and every version.
CREATE FUNCTION eligibility_get(p_staff bigint, p_programme bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	pr core.programme := group_course.course_managed(p_staff, p_programme);
BEGIN
	IF pr.id IS NULL THEN
		RETURN NULL;
	END IF;
	RETURN jsonb_build_object(
		'programme_id', pr.id,
		'current', (SELECT group_course.eligibility_rule_json(r, p_staff)
		            FROM group_course.eligibility_rule r
		            WHERE r.programme_id = pr.id ORDER BY r.version DESC LIMIT 1),
		'versions', coalesce((SELECT jsonb_agg(group_course.eligibility_rule_json(r, p_staff)
		                              ORDER BY r.version DESC)
		                      FROM group_course.eligibility_rule r
		                      WHERE r.programme_id = pr.id), '[]'::jsonb));
END $$;

-- PUT /courses/{id}/eligibility: a new version (p_expected, when given,
-- must be the current version — 0 for none — else 409 group_course.stale),
-- mirrored into the programme's settings (its version bumped), audited.
-- The same rules as the current version change nothing.
CREATE FUNCTION eligibility_put(p_staff bigint, p_addr inet, p_rid text, p_programme bigint,
                                p_rules jsonb, p_expected integer, p_note text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	pr core.programme := group_course.course_managed(p_staff, p_programme);
	v_cur integer;
	r group_course.eligibility_rule;
BEGIN
	IF pr.id IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM 1 FROM core.programme WHERE id = pr.id FOR UPDATE;
	SELECT coalesce(max(version), 0) INTO v_cur FROM group_course.eligibility_rule
	WHERE programme_id = pr.id;
	IF p_expected IS NOT NULL AND p_expected <> v_cur THEN
		RAISE EXCEPTION '%', format('group_course.stale|version|The eligibility rule is now version %s, not %s; reload it.',
		                            v_cur, p_expected) USING ERRCODE = 'WM409';
	END IF;
	-- PUT is idempotent: the same rules again are not a new version.
	r := group_course.eligibility_current(pr.id);
	IF r.id IS NOT NULL AND r.rules = p_rules THEN
		RETURN group_course.eligibility_rule_json(r, p_staff);
	END IF;
	INSERT INTO group_course.eligibility_rule (programme_id, version, rules, note, created_by)
	VALUES (pr.id, v_cur + 1, p_rules, p_note, p_staff) RETURNING * INTO r;
	-- The mirror trigger writes settings.eligibility.
	UPDATE core.programme SET settings = settings, version = version + 1, updated_at = now()
	WHERE id = pr.id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_staff, pr.org_id, 'group_course.eligibility_rule', 'programme', pr.id, p_addr,
	        p_rid, jsonb_build_object('version', r.version, 'criteria', (
	            SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)
	            FROM jsonb_object_keys(p_rules) k WHERE jsonb_typeof(p_rules->k) <> 'null')));
	RETURN group_course.eligibility_rule_json(r, p_staff);
END $$;

-- --- Admissions and the waiting list -----------------------------------------------

CREATE TABLE admission (
	id bigserial PRIMARY KEY,
	referral_id bigint NOT NULL REFERENCES core.referral,
	cohort_id bigint NOT NULL REFERENCES core.cohort,
	programme_id bigint NOT NULL REFERENCES core.programme,
	person_id bigint NOT NULL REFERENCES core.person,
	-- The rule the decision was made under (NULL: the course had none).
	rule_id bigint REFERENCES group_course.eligibility_rule,
	rule_version integer,
	result text NOT NULL CHECK (result IN ('eligible', 'ineligible')),
	reasons jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(reasons) = 'array'),
	warnings jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(warnings) = 'array'),
	outcome text NOT NULL CHECK (outcome IN ('enrolled', 'waitlisted', 'refused')),
	enrolment_id bigint REFERENCES core.enrolment,
	-- 'referral': POST /cohorts/{id}/admissions; 'waitlist': admit-waitlist.
	via text NOT NULL CHECK (via IN ('referral', 'waitlist')),
	decided_at timestamptz NOT NULL DEFAULT now(),
	decided_by bigint REFERENCES core.staff,
	CHECK ((outcome = 'enrolled') = (enrolment_id IS NOT NULL)),
	CHECK (result = 'eligible' OR outcome = 'refused')
);
CREATE INDEX admission_cohort ON admission (cohort_id, id);
CREATE INDEX admission_referral ON admission (referral_id);
CREATE TRIGGER admission_append_only BEFORE UPDATE OR DELETE ON admission
	FOR EACH ROW EXECUTE FUNCTION group_course.append_only();

-- Eligible referrals with no place, per course, first come first served.
CREATE TABLE waitlist (
	id bigserial PRIMARY KEY,
	programme_id bigint NOT NULL REFERENCES core.programme,
	referral_id bigint NOT NULL REFERENCES core.referral,
	person_id bigint NOT NULL REFERENCES core.person,
	admission_id bigint NOT NULL REFERENCES group_course.admission, -- that put them here
	added_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	status text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'admitted', 'removed')),
	closed_at timestamptz,
	closed_by bigint REFERENCES core.staff,
	closed_admission_id bigint REFERENCES group_course.admission,
	CHECK ((status = 'waiting') = (closed_at IS NULL))
);
CREATE UNIQUE INDEX waitlist_live ON waitlist (programme_id, referral_id) WHERE status = 'waiting';
CREATE INDEX waitlist_fifo ON waitlist (programme_id, added_at, id) WHERE status = 'waiting';

CREATE FUNCTION admission_json(a group_course.admission, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', a.id, 'referral_id', a.referral_id,
		'cohort_id', a.cohort_id, 'programme_id', a.programme_id, 'person_id', a.person_id,
		'rule_version', a.rule_version,
		'rule_label', group_course.rule_label(a.programme_id, a.rule_version),
		'result', a.result, 'reasons', a.reasons, 'warnings', a.warnings,
		'outcome', a.outcome, 'enrolment_id', a.enrolment_id, 'via', a.via,
		'decided_at', core.utc_text(a.decided_at),
		'decided_by', core.staff_shown(p_staff, a.decided_by),
		'waitlist_position', CASE WHEN a.outcome = 'waitlisted' THEN nullif((
			SELECT count(*) FROM group_course.waitlist w2, group_course.waitlist w
			WHERE w.programme_id = a.programme_id AND w.referral_id = a.referral_id
			  AND w.status = 'waiting'
			  AND w2.programme_id = w.programme_id AND w2.status = 'waiting'
			  AND (w2.added_at, w2.id) <= (w.added_at, w.id)), 0) END)
$$;

-- What the eligibility rule is evaluated over, for one person and course
-- on `p_on` (hooks.md's person object, plus consent and completed courses):
-- consent is a live 'programme_participation' consent recorded by the
-- course's organisation; completed courses are those of the course's
-- prerequisites with a completion decided 'completed'.
CREATE FUNCTION person_facts(pr core.programme, p_person bigint, p_on date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'on', to_char(p_on, 'YYYY-MM-DD'),
		'person', jsonb_build_object('id', p.id,
			'age', CASE WHEN p.date_of_birth IS NOT NULL
			            THEN date_part('year', age(p_on, p.date_of_birth))::integer END,
			'sex', p.sex, 'is_participant', p.is_participant,
			'custody_status', p.custody_status,
			'expected_release_date', to_char(p.expected_release_date, 'YYYY-MM-DD'),
			'days_to_release', p.expected_release_date - p_on, 'area', p.area),
		'consent', EXISTS (
			SELECT 1 FROM core.consent c
			WHERE c.person_id = p.id AND c.org_id = pr.org_id
			  AND c.purpose = 'programme_participation' AND c.given_on <= p_on
			  AND (c.withdrawn_on IS NULL OR c.withdrawn_on > p_on)),
		'completed_programmes', coalesce((
			SELECT jsonb_agg(DISTINCT c.programme_id)
			FROM core.enrolment e
			JOIN core.cohort c ON c.id = e.cohort_id
			JOIN core.completion cp ON cp.enrolment_id = e.id AND cp.result = 'completed'
			WHERE e.person_id = p.id
			  AND c.programme_id IN (
			      SELECT (x->>'programme_id')::bigint
			      FROM jsonb_array_elements(coalesce(pr.settings->'prerequisites', '[]'))
			           x)), '[]'::jsonb))
	FROM core.person p WHERE p.id = p_person
$$;

-- The rule and prerequisites an evaluation needs.
CREATE FUNCTION rule_basis(pr core.programme) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	r group_course.eligibility_rule := group_course.eligibility_current(pr.id);
BEGIN
	RETURN jsonb_build_object(
		'rule', CASE WHEN r.id IS NOT NULL THEN jsonb_build_object('id', r.id,
		             'version', r.version, 'rules', r.rules) END,
		'prerequisites', coalesce(pr.settings->'prerequisites', '[]'::jsonb));
END $$;

-- A cohort of a course the caller manages, locked when p_lock; NULL
-- otherwise.
CREATE FUNCTION cohort_managed(p_staff bigint, p_cohort bigint, p_lock boolean,
                               OUT c core.cohort, OUT pr core.programme)
LANGUAGE plpgsql AS $$
BEGIN
	IF p_lock THEN
		SELECT * INTO c FROM core.cohort WHERE id = p_cohort FOR UPDATE;
	ELSE
		SELECT * INTO c FROM core.cohort WHERE id = p_cohort;
	END IF;
	pr := group_course.course_managed(p_staff, c.programme_id);
	IF pr.id IS NULL THEN
		c := NULL;
	END IF;
END $$;

-- The referral to admit: the course organisation's, about a person it
-- still holds, assessed (or waiting for a place), and the person not in
-- the cohort already. Refuses otherwise.
CREATE FUNCTION referral_ready(c core.cohort, pr core.programme, p_referral bigint,
                               p_lock boolean) RETURNS core.referral
LANGUAGE plpgsql AS $$
DECLARE
	r core.referral;
BEGIN
	IF p_lock THEN
		SELECT * INTO r FROM core.referral WHERE id = p_referral AND org_id = pr.org_id
		FOR UPDATE;
	ELSE
		SELECT * INTO r FROM core.referral WHERE id = p_referral AND org_id = pr.org_id;
	END IF;
	IF NOT FOUND OR NOT core.referral_org_holds(r.org_id, r.person_id)
	   OR EXISTS (SELECT 1 FROM core.person p WHERE p.id = r.person_id AND p.erased_at IS NOT NULL)
	THEN
		RAISE EXCEPTION 'core.not_found|referral_id|No such referral.' USING ERRCODE = 'WM404';
	END IF;
	IF r.status NOT IN ('assessed', 'waiting_list') THEN
		RAISE EXCEPTION '%', format('group_course.referral_not_ready|referral_id|The referral is %s: only an assessed referral (or one waiting for a place) can be admitted.',
		                            r.status) USING ERRCODE = 'WM409';
	END IF;
	IF EXISTS (SELECT 1 FROM core.enrolment e WHERE e.cohort_id = c.id
	           AND e.person_id = r.person_id) THEN
		RAISE EXCEPTION 'core.conflict|referral_id|This person is (or was) enrolled in this cohort already.'
			USING ERRCODE = 'WM409';
	END IF;
	IF c.status IN ('finished', 'cancelled') THEN
		RAISE EXCEPTION '%', format('core.cohort_closed||This cohort is %s: nobody can join it.',
		                            c.status) USING ERRCODE = 'WM409';
	END IF;
	RETURN r;
END $$;

CREATE FUNCTION course_today(pr core.programme) RETURNS date LANGUAGE sql STABLE AS $$
	SELECT (core.clock() AT TIME ZONE pr.time_zone)::date
$$;

-- POST /cohorts/{id}/admissions, first statement: the facts to evaluate.
-- {"rule": {id, version, rules} | null, "prerequisites": [...],
--  "facts": {on, person, consent, completed_programmes}}
CREATE FUNCTION admission_facts(p_staff bigint, p_cohort bigint, p_referral bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	m record;
	r core.referral;
BEGIN
	m := group_course.cohort_managed(p_staff, p_cohort, false);
	IF (m.c).id IS NULL THEN
		RETURN NULL;
	END IF;
	r := group_course.referral_ready(m.c, m.pr, p_referral, false);
	RETURN group_course.rule_basis(m.pr) || jsonb_build_object(
		'facts', group_course.person_facts(m.pr, r.person_id, group_course.course_today(m.pr)));
END $$;

-- The referral's record of the decision (eligibility, rule version, a
-- note) and its status: accepted when enrolled, waiting_list when
-- waitlisted (through the core's functions: history and audit).
CREATE FUNCTION referral_note(p_staff bigint, p_addr inet, p_rid text, r core.referral,
                              p_result text, p_label text, p_outcome text, p_eval jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_note text;
BEGIN
	SELECT left(string_agg(x->>'message', ' ' ORDER BY o), 1000) INTO v_note
	FROM jsonb_array_elements(coalesce(p_eval->'reasons', '[]') || coalesce(p_eval->'warnings', '[]'))
	     WITH ORDINALITY AS t(x, o);
	PERFORM core.referral_update(p_staff, p_addr, p_rid, r.id, jsonb_build_object(
		'eligibility', p_result, 'eligibility_rule_version', p_label,
		'eligibility_note', v_note), NULL);
	IF p_outcome = 'enrolled' THEN
		PERFORM core.referral_set_status(p_staff, p_addr, p_rid, r.id, 'accepted',
		                                 'Admitted to a group course cohort.', NULL, NULL, NULL);
	ELSIF p_outcome = 'waitlisted' AND r.status = 'assessed' THEN
		PERFORM core.referral_set_status(p_staff, p_addr, p_rid, r.id, 'waiting_list',
		                                 'Eligible; the cohort is full.', NULL, NULL, NULL);
	END IF;
END $$;

-- One decision acted on: refused (ineligible, or a keep-apart arrangement
-- with someone in the cohort — alerted, never named), enrolled through the
-- core (capacity, clashes and audit are the core's), or waitlisted when the
-- cohort is full. Stores the admission row; the caller holds the cohort
-- lock. Returns the admission.
CREATE FUNCTION admit_one(p_staff bigint, p_addr inet, p_rid text, c core.cohort,
                          pr core.programme, r core.referral, p_rule_id bigint,
                          p_rule_version integer, p_eval jsonb, p_via text,
                          p_may_waitlist boolean) RETURNS group_course.admission
LANGUAGE plpgsql AS $$
DECLARE
	v_result text := p_eval->>'result';
	v_reasons jsonb := coalesce(p_eval->'reasons', '[]'::jsonb);
	v_outcome text;
	v_enrol bigint;
	v_taken integer;
	v_ahead integer := 0;
	v_ka record;
	a group_course.admission;
BEGIN
	IF v_result NOT IN ('eligible', 'ineligible') THEN
		RAISE EXCEPTION 'group_course.internal||The eligibility evaluation is malformed.'
			USING ERRCODE = 'WM422';
	END IF;
	IF v_result = 'ineligible' THEN
		v_outcome := 'refused';
	ELSE
		SELECT * INTO v_ka FROM core.cohort_keep_apart(c.id, pr.org_id, r.person_id);
		SELECT count(*) INTO v_taken FROM core.enrolment WHERE cohort_id = c.id AND status <> 'left';
		-- A new referral never jumps the queue: the places left are first
		-- those of the people already waiting for this course (admitting the
		-- waiting list takes them in order).
		IF p_via = 'referral' AND c.capacity IS NOT NULL THEN
			SELECT count(*) INTO v_ahead FROM group_course.waitlist w
			WHERE w.programme_id = pr.id AND w.status = 'waiting' AND w.referral_id <> r.id
			  AND NOT EXISTS (SELECT 1 FROM group_course.waitlist me
			                  WHERE me.programme_id = pr.id AND me.referral_id = r.id
			                    AND me.status = 'waiting'
			                    AND (me.added_at, me.id) < (w.added_at, w.id));
		END IF;
		IF v_ka.other IS NOT NULL THEN
			v_outcome := 'refused';
			v_reasons := v_reasons || jsonb_build_array(jsonb_build_object('code', 'keep_apart',
				'message', 'A keep-apart arrangement applies with someone in this cohort; a coordinator has been alerted.'));
			PERFORM core.alert_raise(pr.org_id, 'core.non_association', r.person_id, c.id, NULL,
				NULL, format('An admission to cohort %s ("%s") was refused: a keep-apart arrangement applies with someone already enrolled.',
				             c.id, c.name),
				jsonb_build_object('person_ids', jsonb_build_array(r.person_id, v_ka.other),
				                   'non_association_id', v_ka.pair, 'cohort_id', c.id));
		ELSIF c.capacity IS NULL OR v_taken + v_ahead < c.capacity THEN
			v_outcome := 'enrolled';
			v_enrol := (core.enrolment_create(p_staff, p_addr, p_rid, c.id, r.person_id, NULL,
			                                  r.id)->>'id')::bigint;
		ELSIF p_may_waitlist THEN
			v_outcome := 'waitlisted';
		ELSE
			RETURN NULL; -- full: the caller stops
		END IF;
	END IF;
	INSERT INTO group_course.admission (referral_id, cohort_id, programme_id, person_id, rule_id,
		rule_version, result, reasons, warnings, outcome, enrolment_id, via, decided_by)
	VALUES (r.id, c.id, pr.id, r.person_id, p_rule_id, p_rule_version, v_result, v_reasons,
	        coalesce(p_eval->'warnings', '[]'::jsonb), v_outcome, v_enrol, p_via, p_staff)
	RETURNING * INTO a;
	IF v_outcome = 'waitlisted' THEN
		INSERT INTO group_course.waitlist (programme_id, referral_id, person_id, admission_id)
		VALUES (pr.id, r.id, r.person_id, a.id)
		ON CONFLICT (programme_id, referral_id) WHERE status = 'waiting' DO NOTHING;
	ELSIF v_outcome = 'enrolled' THEN
		-- Enrolled by whichever route: no longer waiting for a place.
		UPDATE group_course.waitlist SET status = 'admitted', closed_at = now(),
		       closed_by = p_staff, closed_admission_id = a.id
		WHERE programme_id = pr.id AND referral_id = r.id AND status = 'waiting';
	END IF;
	PERFORM group_course.referral_note(p_staff, p_addr, p_rid, r, v_result,
		group_course.rule_label(pr.id, p_rule_version), v_outcome,
		jsonb_build_object('reasons', v_reasons, 'warnings', p_eval->'warnings'));
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'group_course.admission', 'admission', a.id, r.person_id, p_addr,
	        p_rid, jsonb_build_object('cohort_id', c.id, 'referral_id', r.id,
	                                  'rule_version', p_rule_version, 'result', v_result,
	                                  'outcome', v_outcome, 'via', p_via,
	                                  'reasons', (SELECT coalesce(jsonb_agg(x->'code'), '[]')
	                                              FROM jsonb_array_elements(v_reasons) x)));
	RETURN a;
END $$;

-- The rule an evaluation was made under must still be current when it is
-- acted on: a rule changed in between means evaluate again (409).
CREATE FUNCTION rule_still_current(pr core.programme, p_rule_id bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	r group_course.eligibility_rule := group_course.eligibility_current(pr.id);
BEGIN
	IF r.id IS DISTINCT FROM p_rule_id THEN
		RAISE EXCEPTION 'group_course.stale|referral_id|The eligibility rule changed while this was decided; try again.'
			USING ERRCODE = 'WM409';
	END IF;
	RETURN r.version;
END $$;

-- POST /cohorts/{id}/admissions, second statement: the C evaluation
-- (p_eval {result, reasons, warnings}) under rule p_rule_id acted on.
CREATE FUNCTION admission_record(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint,
                                 p_referral bigint, p_rule_id bigint, p_eval jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	m record;
	r core.referral;
	v_version integer;
	a group_course.admission;
BEGIN
	m := group_course.cohort_managed(p_staff, p_cohort, true);
	IF (m.c).id IS NULL THEN
		RETURN NULL;
	END IF;
	r := group_course.referral_ready(m.c, m.pr, p_referral, true);
	v_version := group_course.rule_still_current(m.pr, p_rule_id);
	a := group_course.admit_one(p_staff, p_addr, p_rid, m.c, m.pr, r, p_rule_id, v_version,
	                            p_eval, 'referral', true);
	RETURN group_course.admission_json(a, p_staff);
END $$;

-- GET /cohorts/{id}/admissions: newest first, keyset by id.
CREATE FUNCTION admission_list(p_staff bigint, p_cohort bigint, p_limit integer,
                               p_cursor bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	m record;
	v jsonb;
	n integer;
BEGIN
	m := group_course.cohort_managed(p_staff, p_cohort, false);
	IF (m.c).id IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT count(*), coalesce(jsonb_agg(group_course.admission_json(x.a, p_staff)
	                                    ORDER BY (x.a).id DESC)
	                          FILTER (WHERE x.rn <= p_limit), '[]'::jsonb)
	INTO n, v
	FROM (SELECT a, row_number() OVER (ORDER BY a.id DESC) AS rn
	      FROM group_course.admission a
	      WHERE a.cohort_id = p_cohort AND (p_cursor IS NULL OR a.id < p_cursor)
	      ORDER BY a.id DESC LIMIT p_limit + 1) x;
	RETURN jsonb_build_object('items', v,
		'next_cursor', CASE WHEN n > p_limit THEN (v->(p_limit - 1))->>'id' END);
END $$;

-- GET /courses/{id}/waitlist: who is waiting, in the order they will be
-- offered a place.
CREATE FUNCTION waitlist_get(p_staff bigint, p_programme bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	pr core.programme := group_course.course_managed(p_staff, p_programme);
BEGIN
	IF pr.id IS NULL THEN
		RETURN NULL;
	END IF;
	RETURN jsonb_build_object('programme_id', pr.id, 'items', coalesce((
		SELECT jsonb_agg(jsonb_build_object('position', x.pos, 'id', x.id,
			'referral_id', x.referral_id, 'person_id', x.person_id,
			'admission_id', x.admission_id, 'added_at', core.utc_text(x.added_at))
			ORDER BY x.pos)
		FROM (SELECT w.*, row_number() OVER (ORDER BY w.added_at, w.id) AS pos
		      FROM group_course.waitlist w
		      WHERE w.programme_id = pr.id AND w.status = 'waiting') x), '[]'::jsonb));
END $$;

-- POST /cohorts/{id}/admit-waitlist, first statement: the waiting people
-- of the cohort's course, first come first served (at most p_limit), with
-- the facts to evaluate each under the current rule.
CREATE FUNCTION waitlist_facts(p_staff bigint, p_cohort bigint, p_limit integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	m record;
	v_on date;
BEGIN
	m := group_course.cohort_managed(p_staff, p_cohort, false);
	IF (m.c).id IS NULL THEN
		RETURN NULL;
	END IF;
	IF (m.c).status IN ('finished', 'cancelled') THEN
		RAISE EXCEPTION '%', format('core.cohort_closed||This cohort is %s: nobody can join it.',
		                            (m.c).status) USING ERRCODE = 'WM409';
	END IF;
	v_on := group_course.course_today(m.pr);
	RETURN group_course.rule_basis(m.pr) || jsonb_build_object('entries', coalesce((
		SELECT jsonb_agg(jsonb_build_object('waitlist_id', w.id, 'referral_id', w.referral_id,
		                 'facts', group_course.person_facts(m.pr, w.person_id, v_on))
		                 ORDER BY w.added_at, w.id)
		FROM (SELECT w.* FROM group_course.waitlist w
		      WHERE w.programme_id = (m.pr).id AND w.status = 'waiting'
		        AND NOT EXISTS (SELECT 1 FROM core.enrolment e
		                        WHERE e.cohort_id = p_cohort AND e.person_id = w.person_id)
		      ORDER BY w.added_at, w.id LIMIT p_limit) w), '[]'::jsonb));
END $$;

-- POST /cohorts/{id}/admit-waitlist, second statement: p_items
-- [{waitlist_id, evaluation}] in waiting order. Each still waiting is
-- admitted as a new admission (via 'waitlist', under the current rule —
-- their earlier admission stays as it was): enrolled while there is room
-- (then off the list), refused when no longer eligible (off the list, the
-- referral's eligibility updated) or kept apart (stays waiting for another
-- cohort). Stops at the first eligible person who finds the cohort full.
CREATE FUNCTION waitlist_admit(p_staff bigint, p_addr inet, p_rid text, p_cohort bigint,
                               p_rule_id bigint, p_items jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	m record;
	v_version integer;
	it jsonb;
	w group_course.waitlist;
	r core.referral;
	a group_course.admission;
	v_done jsonb := '[]'::jsonb;
BEGIN
	m := group_course.cohort_managed(p_staff, p_cohort, true);
	IF (m.c).id IS NULL THEN
		RETURN NULL;
	END IF;
	v_version := group_course.rule_still_current(m.pr, p_rule_id);
	FOR it IN SELECT x FROM jsonb_array_elements(p_items) x LOOP
		SELECT * INTO w FROM group_course.waitlist
		WHERE id = (it->>'waitlist_id')::bigint AND programme_id = (m.pr).id
		  AND status = 'waiting' FOR UPDATE;
		CONTINUE WHEN NOT FOUND;
		SELECT * INTO r FROM core.referral WHERE id = w.referral_id FOR UPDATE;
		CONTINUE WHEN r.status NOT IN ('assessed', 'waiting_list')
		         OR EXISTS (SELECT 1 FROM core.enrolment e
		                    WHERE e.cohort_id = p_cohort AND e.person_id = w.person_id);
		a := group_course.admit_one(p_staff, p_addr, p_rid, m.c, m.pr, r, p_rule_id, v_version,
		                            it->'evaluation', 'waitlist', false);
		EXIT WHEN a.id IS NULL; -- the cohort is full
		IF a.result = 'ineligible' THEN
			UPDATE group_course.waitlist SET status = 'removed', closed_at = now(),
			       closed_by = p_staff, closed_admission_id = a.id
			WHERE id = w.id;
		END IF;
		v_done := v_done || group_course.admission_json(a, p_staff);
	END LOOP;
	RETURN jsonb_build_object('cohort_id', p_cohort, 'admissions', v_done,
		'still_waiting', (SELECT count(*) FROM group_course.waitlist
		                  WHERE programme_id = (m.pr).id AND status = 'waiting'));
END $$;
