-- The completion-pending job (core/jobs.c, core/completion.c): enrolments
-- whose stored completion is missing or older than what it was decided on
-- are evaluated again by the programme's plugin (its real hooks, through
-- completion_decide) and stored through core.register_outcomes. That way
-- rows written outside the register — the demo's term of attendance, a
-- catch-up session, a rule change in the programme's settings, a hold
-- imported by SQL — are decided by the same rule as a register taken
-- through the API. Runs after 0013 with search_path = core, public;
-- functions calling 0013's are plpgsql.

-- When an enrolment's completion was last evaluated and stored, and who
-- holds it for evaluation now. Written by the trigger below whenever a
-- decision is stored (by the register, a hold/resume/leave, or the job),
-- and by the job's claim.
CREATE TABLE completion_check (
	enrolment_id bigint PRIMARY KEY REFERENCES enrolment,
	-- now() of the transaction that stored the last evaluation: changes
	-- recorded after it (attendance, holds, sessions, settings) make the
	-- enrolment pending again.
	checked_at timestamptz,
	-- core.clock() then: a session of the cohort starting between this and
	-- the clock makes it pending (a rule may judge by what is past).
	checked_clock timestamptz,
	-- A job process evaluating it; others leave it alone until then.
	claimed_until timestamptz
);

-- Every stored evaluation counts as a check, whichever path stored it. A
-- decision that did not change (register_outcomes only refreshes its
-- reason) is still a check: without this, the register's own evaluations
-- would all be evaluated a second time by the job.
CREATE FUNCTION completion_checked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO core.completion_check AS ck (enrolment_id, checked_at, checked_clock)
	VALUES (NEW.enrolment_id, now(), core.clock())
	ON CONFLICT (enrolment_id) DO UPDATE SET checked_at = EXCLUDED.checked_at,
		checked_clock = EXCLUDED.checked_clock, claimed_until = NULL;
	RETURN NULL;
END $$;
CREATE TRIGGER completion_checked AFTER INSERT OR UPDATE ON completion
	FOR EACH ROW EXECUTE FUNCTION completion_checked();

INSERT INTO completion_check (enrolment_id, checked_at, checked_clock)
SELECT enrolment_id, decided_at, decided_at FROM completion;

-- True when enrolment `e` must be evaluated again: never evaluated, or
-- something its facts depend on changed after `ck.checked_at` — the
-- enrolment itself (hold, resume, leave bump updated_at), a hold row, the
-- programme (settings: the rule and its version), a session of the cohort
-- (added, moved, cancelled, a catch-up), the person's attendance at one —
-- or time passed something a rule may judge by: a session of the cohort
-- started, or the cohort's last day ended (UTC midnight after ends_on),
-- since the last evaluation.
CREATE FUNCTION completion_stale(e core.enrolment, ck core.completion_check,
                                 p_prog_updated timestamptz, p_ends_on date) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_over timestamptz := (p_ends_on + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
	IF ck.enrolment_id IS NULL OR ck.checked_at IS NULL THEN
		RETURN true;
	END IF;
	RETURN e.updated_at > ck.checked_at OR e.created_at > ck.checked_at
	    OR p_prog_updated > ck.checked_at
	    OR (v_over > ck.checked_clock AND v_over <= core.clock())
	    OR EXISTS (SELECT 1 FROM core.enrolment_hold h
	               WHERE h.enrolment_id = e.id AND h.created_at > ck.checked_at)
	    OR EXISTS (SELECT 1 FROM core.session s
	               WHERE s.cohort_id = e.cohort_id
	                 AND (s.updated_at > ck.checked_at OR s.created_at > ck.checked_at
	                      OR (s.starts_at > ck.checked_clock AND s.starts_at <= core.clock())))
	    OR EXISTS (SELECT 1 FROM core.attendance a JOIN core.session s ON s.id = a.session_id
	               WHERE a.person_id = e.person_id AND s.cohort_id = e.cohort_id
	                 AND a.recorded_at > ck.checked_at);
END $$;

-- Where the last complete scan got to: changes recorded since (less a
-- margin, for transactions that committed late) are the only places the
-- next scan looks, so a tick costs what changed, not every enrolment.
CREATE TABLE completion_scan (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	scanned_at timestamptz NOT NULL DEFAULT '-infinity',    -- now() of that scan
	scanned_clock timestamptz NOT NULL DEFAULT '-infinity'  -- core.clock() then
);
-- Completions stored before this migration count as current: the first
-- scan looks at what changes from now on (and at enrolments never checked).
INSERT INTO completion_scan (scanned_at, scanned_clock) VALUES (now(), core.clock());

-- What the scan looks up by time (each a small range after the first run).
CREATE INDEX attendance_recorded ON attendance (recorded_at);
CREATE INDEX enrolment_updated ON enrolment (updated_at);
CREATE INDEX session_updated ON session (updated_at) WHERE cohort_id IS NOT NULL;
CREATE INDEX session_cohort_starts ON session (starts_at) WHERE cohort_id IS NOT NULL;
CREATE INDEX enrolment_hold_created ON enrolment_hold (created_at);
CREATE INDEX completion_check_open ON completion_check (enrolment_id)
	WHERE checked_at IS NULL OR claimed_until IS NOT NULL;

-- Enrolments that may be pending: never checked, checked but not stored
-- (checked_at NULL) or claimed by a process that may have died, and those
-- touched by a change recorded since `p_since` — the enrolment, a hold, a
-- session of its cohort (or one that started since `p_since_clock`, or its
-- cohort's end), the person's attendance there, the programme's settings.
-- completion_stale decides which of them really are.
CREATE FUNCTION completion_candidates(p_since timestamptz, p_since_clock timestamptz)
RETURNS TABLE (enrolment_id bigint) LANGUAGE sql STABLE AS $$
	SELECT e.id FROM core.enrolment e
	WHERE NOT EXISTS (SELECT 1 FROM core.completion_check ck WHERE ck.enrolment_id = e.id)
	UNION
	SELECT ck.enrolment_id FROM core.completion_check ck
	WHERE ck.checked_at IS NULL OR ck.claimed_until IS NOT NULL
	UNION
	SELECT e.id FROM core.enrolment e WHERE e.updated_at >= p_since
	UNION
	SELECT h.enrolment_id FROM core.enrolment_hold h WHERE h.created_at >= p_since
	UNION
	SELECT e.id FROM core.session s JOIN core.enrolment e ON e.cohort_id = s.cohort_id
	WHERE s.cohort_id IS NOT NULL AND s.updated_at >= p_since
	UNION
	SELECT e.id FROM core.session s JOIN core.enrolment e ON e.cohort_id = s.cohort_id
	WHERE s.cohort_id IS NOT NULL AND s.starts_at > p_since_clock
	  AND s.starts_at <= core.clock()
	UNION
	SELECT e.id FROM core.attendance a JOIN core.session s ON s.id = a.session_id
	JOIN core.enrolment e ON e.cohort_id = s.cohort_id AND e.person_id = a.person_id
	WHERE a.recorded_at >= p_since
	UNION
	SELECT e.id FROM core.programme pr JOIN core.cohort c ON c.programme_id = pr.id
	JOIN core.enrolment e ON e.cohort_id = c.id
	WHERE pr.updated_at >= p_since
	UNION
	SELECT e.id FROM core.cohort c JOIN core.enrolment e ON e.cohort_id = c.id
	WHERE (c.ends_on + 1)::timestamp AT TIME ZONE 'UTC' > p_since_clock
	  AND (c.ends_on + 1)::timestamp AT TIME ZONE 'UTC' <= core.clock()
$$;

-- The job's first step: claims up to `p_limit` pending enrolments (for five
-- minutes, so a process that dies mid-way delays them, never loses them)
-- and returns what completion_decide needs, grouped by programme type, with
-- the moment the facts were read:
--   {"read_at": "...", "groups": [{"type": "group_course",
--                                  "evaluate": [{enrolment_id, facts, basis}]}]}
-- Enrolment rows are taken FOR UPDATE SKIP LOCKED (one a route is changing
-- now is skipped: the route evaluates it itself), and the claim is an
-- upsert that only takes an expired claim, so any number of processes can
-- run this at once and never evaluate one enrolment twice. When fewer than
-- `p_limit` were pending, the scan is complete and its mark moves on.
CREATE FUNCTION completion_pending(p_limit integer) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	w core.completion_scan;
	v_ids bigint[];
	v_out jsonb;
BEGIN
	SELECT * INTO w FROM core.completion_scan;
	-- The candidates first, on their own: judged one by one afterwards
	-- (never a judgement of every enrolment).
	v_ids := ARRAY(SELECT enrolment_id FROM core.completion_candidates(
		w.scanned_at - interval '5 minutes', w.scanned_clock - interval '5 minutes'));
	WITH cand AS (
		SELECT e.id FROM core.enrolment e
		JOIN core.cohort c ON c.id = e.cohort_id
		JOIN core.programme pr ON pr.id = c.programme_id
		LEFT JOIN core.completion_check ck ON ck.enrolment_id = e.id
		WHERE e.id = ANY (v_ids)
		  AND (ck.claimed_until IS NULL OR ck.claimed_until < now())
		  AND core.completion_stale(e, ck, pr.updated_at, c.ends_on)
		ORDER BY e.id
		LIMIT greatest(p_limit, 1)
		FOR UPDATE OF e SKIP LOCKED),
	claim AS (
		INSERT INTO core.completion_check AS ck (enrolment_id, claimed_until)
		SELECT id, now() + interval '5 minutes' FROM cand
		ON CONFLICT (enrolment_id) DO UPDATE SET claimed_until = EXCLUDED.claimed_until
		WHERE ck.claimed_until IS NULL OR ck.claimed_until < now()
		RETURNING ck.enrolment_id)
	SELECT coalesce(array_agg(enrolment_id ORDER BY enrolment_id), '{}') INTO v_ids FROM claim;
	IF cardinality(v_ids) < p_limit THEN
		UPDATE core.completion_scan SET scanned_at = greatest(scanned_at, now()),
		       scanned_clock = core.clock();
	END IF;
	SELECT jsonb_build_object('read_at', now()::text, 'groups',
	       coalesce(jsonb_agg(jsonb_build_object('type', t.type, 'evaluate', t.ev)
	                          ORDER BY t.type), '[]'::jsonb))
	INTO v_out
	FROM (SELECT pr.type, jsonb_agg(jsonb_build_object('enrolment_id', e.id,
	             'facts', core.enrolment_facts(e.id),
	             'basis', core.enrolment_facts_basis(e.id)) ORDER BY e.id) AS ev
	      FROM core.enrolment e JOIN core.cohort c ON c.id = e.cohort_id
	      JOIN core.programme pr ON pr.id = c.programme_id
	      WHERE e.id = ANY (v_ids) GROUP BY pr.type) t;
	RETURN v_out;
END $$;

-- The job's second step: stores what the hooks decided (core.register_outcomes,
-- no staff: audited as the system's) and releases the claims.
-- A decision made on facts that changed meanwhile is not stored (the
-- basis differs) and the enrolment stays pending for the next run. The
-- job knows no register that was taken, so an alert of a kind already
-- raised for the enrolment is not raised again: the job raises what the
-- register never saw (data written outside it), never a repeat. What it
-- raises names the session that triggered it — the latest of the cohort's
-- sessions with the person's attendance recorded — exactly as the
-- register of that session would: register_outcomes raises a kind once per
-- enrolment and triggering session, so when that register is saved later
-- (or was being saved while the job read the facts) the same run of
-- absences is recognised and nobody is alerted twice. Each enrolment is
-- stored under its cohort's register lock, as a register would be (taken in
-- cohort order). What
-- was stored counts as checked when the facts were read (`p_read_at`), not
-- now: a change made by a transaction that began before then but
-- committed after the basis was compared still makes the enrolment
-- pending. Returns how many enrolments' decisions changed.
CREATE FUNCTION completion_store(p_results jsonb, p_read_at timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	v_r jsonb;
	v_sess bigint;
	v_got jsonb;
	v_changed integer := 0;
BEGIN
	-- In cohort order: every process takes the cohorts' register locks in
	-- the same order, so two never wait for each other.
	FOR v_r IN SELECT x FROM jsonb_array_elements(p_results) x
	         LEFT JOIN core.enrolment e ON e.id = (x->>'enrolment_id')::bigint
	         ORDER BY e.cohort_id, e.id LOOP
		v_r := v_r || jsonb_build_object('alerts', coalesce((
			SELECT jsonb_agg(a) FROM jsonb_array_elements(coalesce(v_r->'alerts', '[]'::jsonb)) a
			WHERE NOT EXISTS (SELECT 1 FROM core.alert al
			                  WHERE al.enrolment_id = (v_r->>'enrolment_id')::bigint
			                    AND al.kind = a->>'kind')), '[]'::jsonb));
		SELECT s.id INTO v_sess
		FROM core.enrolment e
		JOIN core.session s ON s.cohort_id = e.cohort_id
		JOIN core.attendance a ON a.session_id = s.id AND a.person_id = e.person_id
		WHERE e.id = (v_r->>'enrolment_id')::bigint
		ORDER BY s.starts_at DESC, s.id DESC LIMIT 1;
		v_got := core.register_outcomes(NULL, NULL, NULL, v_sess, jsonb_build_array(v_r));
		v_changed := v_changed + (SELECT count(*)::integer
		                          FROM jsonb_array_elements(v_got->'completions') c
		                          WHERE (c->>'changed')::boolean);
	END LOOP;
	-- Stored in this transaction (the trigger wrote now()): checked as of
	-- the facts read. Not stored (the facts changed meanwhile): checked_at
	-- NULL keeps it among the candidates until it is.
	UPDATE core.completion_check
	SET claimed_until = NULL,
	    checked_at = CASE WHEN checked_at = now() THEN least(p_read_at, checked_at) END
	WHERE enrolment_id IN (SELECT (r->>'enrolment_id')::bigint
	                       FROM jsonb_array_elements(p_results) r);
	RETURN v_changed;
END $$;
