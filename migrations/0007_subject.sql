-- Audit queries, subject access (export), erasure and aggregate reports.
-- Runs with search_path = core, public, after 0002 (and 0003-0006).
--
-- Everything here works on what one organisation holds: an export shows the
-- caller's admin organisations' data only, an erasure removes one
-- organisation's data, a report counts one organisation's records. The audit
-- log itself is never changed: it names fields and states, never personal
-- values, so erasure does not need to touch it.

-- What erasure keeps of an organisation's link to a person, so aggregate
-- counts do not change (and the difference between a report before and
-- after an erasure reveals nothing about the person): the link itself
-- leaves core.person_org, so every scope check stops seeing it, and is
-- recorded here, counts only. in_household / was_child_in_household say
-- whether the person was a member of one of the organisation's households
-- (as a 'child' for the second), which the children figure needs once the
-- membership row itself is gone.
CREATE TABLE person_org_erased (
	person_id bigint NOT NULL REFERENCES person,
	org_id bigint NOT NULL REFERENCES organisation,
	since timestamptz NOT NULL,
	erased_at timestamptz NOT NULL DEFAULT now(),
	erased_by bigint REFERENCES staff,
	in_household boolean NOT NULL DEFAULT false,
	was_child_in_household boolean NOT NULL DEFAULT false,
	PRIMARY KEY (person_id, org_id)
);
CREATE INDEX person_org_erased_org ON person_org_erased (org_id, person_id);

-- Set when a person is pseudonymised (date_of_birth becomes NULL), so age
-- bands stay stable: see report_age.
ALTER TABLE person ADD COLUMN birth_year smallint
	CHECK (birth_year BETWEEN 1800 AND 2200);

-- An instant as RFC 3339 UTC text, the API's one shape for instants.
CREATE FUNCTION subject_instant(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- One audit row as the API shows it (GET /audit and the export).
CREATE FUNCTION subject_audit_json(a core.audit) RETURNS json LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
		'id', a.id, 'at', core.subject_instant(a.at), 'actor_staff_id', a.actor_staff_id,
		'organisation_id', a.org_id, 'action', a.action, 'object_type', a.object_type,
		'object_id', a.object_id, 'person_id', a.person_id,
		'remote_addr', host(a.remote_addr), 'request_id', a.request_id, 'detail', a.detail)
$$;

-- One audit row as the data subject sees it in their export: what was done
-- and when, by which organisation. Not who did it, from which address or
-- in which request: those are about the staff, not about the subject.
CREATE FUNCTION subject_audit_export_json(a core.audit) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object('at', core.subject_instant(a.at), 'action', a.action,
	                         'object_type', a.object_type, 'organisation_id', a.org_id)
$$;

-- --- Subject access ----------------------------------------------------

-- Everything the caller's admin organisations hold about `p_person`, as one
-- document, and one 'person.export' audit row per such organisation. NULL
-- (the API answers 404) when the caller is admin of no organisation that
-- holds the person. Soft-removed and ended records are included: they are
-- still held.
CREATE FUNCTION subject_export(p_staff bigint, p_addr inet, p_rid text, p_person bigint)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	v_orgs bigint[];
	v_doc json;
BEGIN
	SELECT array_agg(po.org_id ORDER BY po.org_id) INTO v_orgs
	FROM core.person_org po
	WHERE po.person_id = p_person
	  AND core.has_role(p_staff, po.org_id, ARRAY['admin']::core.staff_role[]);
	IF v_orgs IS NULL THEN
		RETURN NULL;
	END IF;

	SELECT json_build_object(
		'exported_at', core.subject_instant(now()),
		'organisation_ids', to_json(v_orgs),
		'person', json_build_object(
			'id', p.id, 'given_name', p.given_name, 'family_name', p.family_name,
			'known_as', p.known_as, 'date_of_birth', p.date_of_birth, 'sex', p.sex,
			'is_participant', p.is_participant, 'custody_status', p.custody_status,
			'establishment', p.establishment,
			'expected_release_date', p.expected_release_date,
			'probation_office', p.probation_office,
			'probation_practitioner', p.probation_practitioner, 'area', p.area,
			'risk_level', p.risk_level, 'created_at', core.subject_instant(p.created_at),
			'updated_at', core.subject_instant(p.updated_at), 'created_by', p.created_by,
			'erased_at', core.subject_instant(p.erased_at), 'version', p.version),
		'organisations', (
			SELECT coalesce(json_agg(json_build_object(
				'organisation_id', o.id, 'organisation', o.name,
				'since', core.subject_instant(po.since), 'created_by', po.created_by)
				ORDER BY o.id), '[]')
			FROM core.person_org po JOIN core.organisation o ON o.id = po.org_id
			WHERE po.person_id = p.id AND po.org_id = ANY (v_orgs)),
		'flags', (
			SELECT coalesce(json_agg(json_build_object(
				'id', f.id, 'organisation_id', f.org_id, 'kind', f.kind,
				'severity', f.severity, 'note', f.note,
				'created_at', core.subject_instant(f.created_at),
				'created_by', f.created_by,
				'removed_at', core.subject_instant(f.removed_at),
				'removed_by', f.removed_by) ORDER BY f.id), '[]')
			FROM core.person_flag f
			WHERE f.person_id = p.id AND f.org_id = ANY (v_orgs)),
		'households', (
			SELECT coalesce(json_agg(json_build_object(
				'household', json_build_object('id', h.id, 'organisation_id', h.org_id,
				                               'name', h.name),
				'relationship', hm.relationship, 'primary_contact', hm.primary_contact,
				'added_at', core.subject_instant(hm.added_at),
				'members_count', (SELECT count(*) FROM core.household_member x
				                  WHERE x.household_id = h.id)) ORDER BY h.id), '[]')
			FROM core.household_member hm JOIN core.household h ON h.id = hm.household_id
			WHERE hm.person_id = p.id AND h.org_id = ANY (v_orgs)),
		-- The other person by id only: their name is theirs, not this person's.
		'non_associations', (
			SELECT coalesce(json_agg(json_build_object(
				'id', n.id, 'organisation_id', n.org_id,
				'other_person_id', CASE WHEN n.person_a = p.id THEN n.person_b
				                        ELSE n.person_a END,
				'reason', n.reason, 'created_at', core.subject_instant(n.created_at),
				'ended_at', core.subject_instant(n.ended_at)) ORDER BY n.id), '[]')
			FROM core.non_association n
			WHERE p.id IN (n.person_a, n.person_b) AND n.org_id = ANY (v_orgs)),
		'consents', (
			SELECT coalesce(json_agg(json_build_object(
				'id', c.id, 'organisation_id', c.org_id, 'purpose', c.purpose,
				'recipient_organisation_id', c.recipient_org_id, 'scope', c.scope,
				'given_on', c.given_on, 'given_by', c.given_by,
				'recorded_at', core.subject_instant(c.recorded_at),
				'recorded_by', c.recorded_by, 'withdrawn_on', c.withdrawn_on,
				'note', c.note) ORDER BY c.id), '[]')
			FROM core.consent c
			WHERE c.person_id = p.id AND c.org_id = ANY (v_orgs)),
		'referrals', (
			SELECT coalesce(json_agg(json_build_object(
				'id', r.id, 'organisation_id', r.org_id, 'source', r.source,
				'referrer_name', r.referrer_name,
				'referrer_organisation', r.referrer_organisation,
				'referred_on', r.referred_on, 'status', r.status,
				'eligibility', r.eligibility,
				'eligibility_rule_version', r.eligibility_rule_version,
				'eligibility_note', r.eligibility_note,
				'decision_reason', r.decision_reason, 'risk_summary', r.risk_summary,
				'previous_referral_id', r.previous_referral_id,
				'onward_organisation_id', r.onward_org_id,
				'onward_referral_id', r.onward_referral_id, 'consent_id', r.consent_id,
				'created_at', core.subject_instant(r.created_at),
				'updated_at', core.subject_instant(r.updated_at),
				'history', (
					SELECT coalesce(json_agg(json_build_object(
						'from_status', rh.from_status, 'to_status', rh.to_status,
						'at', core.subject_instant(rh.at), 'by_staff', rh.by_staff,
						'reason', rh.reason) ORDER BY rh.id), '[]')
					FROM core.referral_history rh WHERE rh.referral_id = r.id))
				ORDER BY r.id), '[]')
			FROM core.referral r
			WHERE r.person_id = p.id AND r.org_id = ANY (v_orgs)),
		'assignments', (
			SELECT coalesce(json_agg(json_build_object(
				'id', a.id, 'organisation_id', a.org_id, 'staff_id', a.staff_id,
				'kind', a.kind, 'created_at', core.subject_instant(a.created_at),
				'ended_at', core.subject_instant(a.ended_at)) ORDER BY a.id), '[]')
			FROM core.assignment a
			WHERE a.person_id = p.id AND a.org_id = ANY (v_orgs)),
		'audit', (
			SELECT coalesce(json_agg(core.subject_audit_export_json(au) ORDER BY au.id),
			                '[]')
			FROM core.audit au
			WHERE au.person_id = p.id AND au.org_id = ANY (v_orgs)))
	INTO v_doc
	FROM core.person p WHERE p.id = p_person;

	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, o, 'person.export', 'person', p_person, p_person, p_addr, p_rid,
	       jsonb_build_object('organisation_ids', to_jsonb(v_orgs))
	FROM unnest(v_orgs) o;
	RETURN v_doc;
END $$;

-- --- Erasure -----------------------------------------------------------

-- Removes the personal data organisation `p_org` holds about `p_person`
-- (every organisation when p_org is NULL). Facts that only count, such as a
-- referral's source, status, dates and eligibility, stay so reports do not
-- change. Every live consent is withdrawn as of today (recorded by
-- `p_staff`): an organisation that forgot the person must not pass them on.
-- Returns how many records of each kind were removed or cleared.
CREATE FUNCTION subject_scrub(p_person bigint, p_org bigint, p_staff bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	n_flags integer;
	n_members integer;
	n_nonassoc integer;
	n_assign integer;
	n_consents integer;
	n_withdrawn integer;
	n_referrals integer;
	v_households bigint[];
	v_today date := core.referral_today();
BEGIN
	DELETE FROM core.person_flag f
	WHERE f.person_id = p_person AND (p_org IS NULL OR f.org_id = p_org);
	GET DIAGNOSTICS n_flags = ROW_COUNT;

	WITH gone AS (
		DELETE FROM core.household_member hm USING core.household h
		WHERE hm.household_id = h.id AND hm.person_id = p_person
		  AND (p_org IS NULL OR h.org_id = p_org)
		RETURNING hm.household_id)
	SELECT array_agg(household_id) INTO v_households FROM gone;
	n_members := coalesce(array_length(v_households, 1), 0);
	-- A household's name often is the family's name; once nobody is left
	-- in it, it becomes a plain label (the household still counts).
	UPDATE core.household h SET name = 'Household ' || h.id, updated_at = now()
	WHERE h.id = ANY (v_households)
	  AND NOT EXISTS (SELECT 1 FROM core.household_member x WHERE x.household_id = h.id);

	DELETE FROM core.non_association n
	WHERE p_person IN (n.person_a, n.person_b) AND (p_org IS NULL OR n.org_id = p_org);
	GET DIAGNOSTICS n_nonassoc = ROW_COUNT;

	DELETE FROM core.assignment a
	WHERE a.person_id = p_person AND (p_org IS NULL OR a.org_id = p_org);
	GET DIAGNOSTICS n_assign = ROW_COUNT;

	-- Live: not withdrawn, or withdrawn only from a later day. A consent
	-- given for a later day is withdrawn on that day, so it never starts.
	UPDATE core.consent c
	SET withdrawn_on = greatest(v_today, c.given_on), withdrawn_recorded_by = p_staff
	WHERE c.person_id = p_person AND (p_org IS NULL OR c.org_id = p_org)
	  AND (c.withdrawn_on IS NULL OR c.withdrawn_on > greatest(v_today, c.given_on));
	GET DIAGNOSTICS n_withdrawn = ROW_COUNT;

	UPDATE core.consent c SET note = NULL, scope = NULL
	WHERE c.person_id = p_person AND (p_org IS NULL OR c.org_id = p_org);
	GET DIAGNOSTICS n_consents = ROW_COUNT;

	UPDATE core.referral_history rh SET reason = NULL
	FROM core.referral r
	WHERE rh.referral_id = r.id AND r.person_id = p_person
	  AND (p_org IS NULL OR r.org_id = p_org) AND rh.reason IS NOT NULL;

	UPDATE core.referral r
	SET referrer_name = NULL, referrer_organisation = NULL, eligibility_note = NULL,
	    decision_reason = NULL, risk_summary = NULL, updated_at = now(),
	    version = r.version + 1
	WHERE r.person_id = p_person AND (p_org IS NULL OR r.org_id = p_org);
	GET DIAGNOSTICS n_referrals = ROW_COUNT;

	RETURN jsonb_build_object('flags', n_flags, 'household_memberships', n_members,
	                          'non_associations', n_nonassoc, 'assignments', n_assign,
	                          'consents', n_consents, 'consents_withdrawn', n_withdrawn,
	                          'referrals', n_referrals);
END $$;

-- POST /people/{id}/erase: organisation `p_org` forgets `p_person`. The
-- caller must be its admin and the organisation must hold the person, else
-- NULL (404). The link moves to core.person_org_erased (counts only), so
-- the organisation no longer holds the person but its reports count them
-- as before. When no organisation holds the person any more, the identity
-- itself is pseudonymised: names replaced, identifying facts nulled, what
-- aggregate counts need (sex, custody status, participant, birth year)
-- kept.
CREATE FUNCTION subject_erase(p_staff bigint, p_addr inet, p_rid text, p_person bigint,
                              p_org bigint) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	v_removed jsonb;
	v_pseudo boolean;
	v_in_household boolean;
	v_child boolean;
BEGIN
	IF NOT core.has_role(p_staff, p_org, ARRAY['admin']::core.staff_role[]) THEN
		RETURN NULL;
	END IF;
	-- One erasure of a person at a time, so "does anyone still hold them"
	-- is answered after the other one's link is gone.
	PERFORM 1 FROM core.person WHERE id = p_person FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	-- What the children figure needs, read before the memberships go.
	SELECT count(*) > 0, coalesce(bool_or(hm.relationship = 'child'), false)
	INTO v_in_household, v_child
	FROM core.household_member hm JOIN core.household h ON h.id = hm.household_id
	WHERE hm.person_id = p_person AND h.org_id = p_org;

	WITH gone AS (
		DELETE FROM core.person_org WHERE person_id = p_person AND org_id = p_org
		RETURNING since)
	INSERT INTO core.person_org_erased AS e (person_id, org_id, since, erased_at, erased_by,
	                                         in_household, was_child_in_household)
	SELECT p_person, p_org, gone.since, now(), p_staff, v_in_household, v_child FROM gone
	-- Held again after an earlier erasure, and now erased again.
	ON CONFLICT (person_id, org_id) DO UPDATE
	SET since = least(e.since, EXCLUDED.since), erased_at = EXCLUDED.erased_at,
	    erased_by = EXCLUDED.erased_by,
	    in_household = e.in_household OR EXCLUDED.in_household,
	    was_child_in_household = e.was_child_in_household OR EXCLUDED.was_child_in_household;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;

	v_removed := core.subject_scrub(p_person, p_org, p_staff);
	v_pseudo := NOT EXISTS (SELECT 1 FROM core.person_org WHERE person_id = p_person);
	IF v_pseudo THEN
		-- Nobody holds the person: whatever another organisation left
		-- behind about them goes too.
		PERFORM core.subject_scrub(p_person, NULL, p_staff);
		UPDATE core.person
		SET given_name = 'Erased', family_name = 'Person ' || id, known_as = NULL,
		    birth_year = coalesce(extract(year FROM date_of_birth)::smallint, birth_year),
		    date_of_birth = NULL, establishment = NULL, expected_release_date = NULL,
		    probation_office = NULL, probation_practitioner = NULL, area = NULL,
		    risk_level = 'unknown', erased_at = now(), updated_at = now(),
		    version = version + 1
		WHERE id = p_person;
	END IF;

	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'person.erase', 'person', p_person, p_person, p_addr, p_rid,
	        jsonb_build_object('pseudonymised', v_pseudo, 'removed', v_removed));
	RETURN json_build_object('erased', true, 'pseudonymised', v_pseudo);
END $$;

-- --- Reports -----------------------------------------------------------

-- One published figure: small counts (1..4) are suppressed so a report
-- never singles anyone out; zero and 5+ are shown.
CREATE FUNCTION report_figure(n bigint) RETURNS json LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN n BETWEEN 1 AND 4 THEN json_build_object('value', NULL, 'suppressed', true)
	            ELSE json_build_object('value', n) END
$$;

-- A breakdown whose total is published: suppressing the small cells alone
-- is not enough, since one hidden cell is the total minus the others. So
-- more cells are hidden, smallest first, until at least two are and the
-- hidden ones add up to 5 or more (secondary suppression). Returns
-- {key: figure} in the order of `keys`.
CREATE FUNCTION report_cells(keys text[], counts bigint[]) RETURNS json
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	hidden boolean[] := array_fill(false, ARRAY[cardinality(keys)]);
	n_hidden int := 0;
	sum_hidden bigint := 0;
	pick int;
	out json;
BEGIN
	FOR i IN 1 .. cardinality(keys) LOOP
		IF counts[i] BETWEEN 1 AND 4 THEN
			hidden[i] := true;
			n_hidden := n_hidden + 1;
			sum_hidden := sum_hidden + counts[i];
		END IF;
	END LOOP;
	WHILE n_hidden > 0 AND (n_hidden < 2 OR sum_hidden < 5) LOOP
		SELECT i INTO pick FROM generate_subscripts(keys, 1) i
		WHERE NOT hidden[i] AND counts[i] > 0 ORDER BY counts[i], i LIMIT 1;
		EXIT WHEN pick IS NULL;
		hidden[pick] := true;
		n_hidden := n_hidden + 1;
		sum_hidden := sum_hidden + counts[pick];
	END LOOP;
	SELECT json_object_agg(keys[i], CASE WHEN hidden[i]
	           THEN json_build_object('value', NULL, 'suppressed', true)
	           ELSE json_build_object('value', counts[i]) END ORDER BY i)
	INTO out FROM generate_subscripts(keys, 1) i;
	RETURN out;
END $$;

-- A person's age in whole years on `p_on`; NULL when unknown. From the
-- date of birth when there is one. A pseudonymised person keeps only the
-- year of birth: the birthday is then taken to be 1 July, so the age may be
-- one year off for the half year around the real birthday (an age band or
-- the under-18 line can move by that much; the count of a band changes
-- only when a pseudonymised person is near a band edge).
CREATE FUNCTION report_age(p_dob date, p_birth_year smallint, p_on date) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN p_dob IS NOT NULL THEN extract(year FROM age(p_on, p_dob))::integer
		WHEN p_birth_year IS NOT NULL THEN
			extract(year FROM p_on)::integer - p_birth_year
			- CASE WHEN extract(month FROM p_on) < 7 THEN 1 ELSE 0 END
	END
$$;

-- Non-overlapping age bands on `p_on`; no age known is 'unknown'.
CREATE FUNCTION report_age_band(p_dob date, p_birth_year smallint, p_on date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN y IS NULL THEN 'unknown'
	            WHEN y < 18 THEN 'under_18'
	            WHEN y < 25 THEN '18_24'
	            WHEN y < 35 THEN '25_34'
	            WHEN y < 50 THEN '35_49'
	            ELSE '50_plus' END
	FROM (SELECT core.report_age(p_dob, p_birth_year, p_on) AS y) a
$$;

-- The figures of organisation `p_org`, no access check (report_summary
-- does that). Referrals are those received (referred_on) from `p_from` to
-- `p_to` inclusive. People are those the organisation holds now or held
-- until it erased them (core.person_org_erased), so an erasure changes no
-- figure; households are the organisation's; children are people in its
-- households recorded as a child or under 18, erased memberships included.
CREATE FUNCTION report_figures(p_org bigint, p_from date, p_to date)
RETURNS json LANGUAGE sql STABLE AS $$
	WITH ref AS (
		SELECT r.source, r.status FROM core.referral r
		WHERE r.org_id = p_org AND r.referred_on BETWEEN p_from AND p_to),
	held AS (
		SELECT po.person_id FROM core.person_org po WHERE po.org_id = p_org
		UNION
		SELECT e.person_id FROM core.person_org_erased e WHERE e.org_id = p_org),
	ppl AS (
		SELECT p.sex, p.custody_status,
		       core.report_age_band(p.date_of_birth, p.birth_year, current_date) AS band
		FROM held JOIN core.person p ON p.id = held.person_id),
	children AS (
		SELECT hm.person_id
		FROM core.household_member hm
		JOIN core.household h ON h.id = hm.household_id
		JOIN core.person p ON p.id = hm.person_id
		WHERE h.org_id = p_org
		  AND (hm.relationship = 'child'
		       OR core.report_age(p.date_of_birth, p.birth_year, current_date) < 18)
		UNION
		SELECT e.person_id
		FROM core.person_org_erased e JOIN core.person p ON p.id = e.person_id
		WHERE e.org_id = p_org AND e.in_household
		  AND (e.was_child_in_household
		       OR core.report_age(p.date_of_birth, p.birth_year, current_date) < 18))
	SELECT json_build_object(
		'organisation_id', p_org,
		'from', p_from, 'to', p_to,
		'generated_at', core.subject_instant(now()),
		'suppression', json_build_object('min', 1, 'max', 4),
		'referrals', json_build_object(
			'unit', 'referrals received in period',
			'total', core.report_figure((SELECT count(*) FROM ref)),
			'by_source', (
				SELECT core.report_cells(array_agg(s::text ORDER BY s), array_agg(
					(SELECT count(*) FROM ref WHERE ref.source = s) ORDER BY s))
				FROM unnest(enum_range(NULL::core.referral_source)) s),
			'by_status', (
				SELECT core.report_cells(array_agg(s::text ORDER BY s), array_agg(
					(SELECT count(*) FROM ref WHERE ref.status = s) ORDER BY s))
				FROM unnest(enum_range(NULL::core.referral_status)) s)),
		'people', json_build_object(
			'unit', 'people',
			'total', core.report_figure((SELECT count(*) FROM ppl)),
			'by_custody_status', (
				SELECT core.report_cells(array_agg(s::text ORDER BY s), array_agg(
					(SELECT count(*) FROM ppl WHERE ppl.custody_status = s) ORDER BY s))
				FROM unnest(enum_range(NULL::core.custody_status)) s),
			'by_sex', (
				SELECT core.report_cells(array_agg(s::text ORDER BY s), array_agg(
					(SELECT count(*) FROM ppl WHERE ppl.sex = s) ORDER BY s))
				FROM unnest(enum_range(NULL::core.person_sex)) s),
			'by_age_band', (
				SELECT core.report_cells(array_agg(b ORDER BY i), array_agg(
					(SELECT count(*) FROM ppl WHERE ppl.band = b) ORDER BY i))
				FROM unnest(ARRAY['under_18', '18_24', '25_34', '35_49', '50_plus',
				                  'unknown']) WITH ORDINALITY AS bands(b, i))),
		'households', json_build_object(
			'unit', 'households',
			'total', core.report_figure(
				(SELECT count(*) FROM core.household h WHERE h.org_id = p_org))),
		'children_in_households', json_build_object(
			'unit', 'people',
			'total', core.report_figure((SELECT count(*) FROM children))))
$$;

-- GET /reports/summary: counts only, never a name or a person's id. NULL
-- (404) unless the caller is admin or commissioner of `p_org`. The period
-- defaults (p_from and p_to NULL) to the last complete calendar quarter.
--
-- An admin of the organisation may ask for any period: they can read the
-- records themselves. A commissioner (and not admin) may ask for exactly
-- one calendar quarter: with free periods, two overlapping ones that differ
-- by a day would, by difference, show a single referral's source and
-- status however small counts are suppressed. Quarters do not overlap, so
-- that difference is never available.
CREATE FUNCTION report_summary(p_staff bigint, p_org bigint, p_from date, p_to date)
RETURNS json LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_this_quarter date := date_trunc('quarter', core.referral_today()::timestamp)::date;
BEGIN
	IF core.has_role(p_staff, p_org, ARRAY['admin']::core.staff_role[]) THEN
		NULL; -- any period
	ELSIF core.has_role(p_staff, p_org, ARRAY['commissioner']::core.staff_role[]) THEN
		IF p_from IS NOT NULL AND (
		       p_from <> date_trunc('quarter', p_from::timestamp)::date
		       OR p_to IS DISTINCT FROM (p_from + interval '3 months' - interval '1 day')::date)
		THEN
			RAISE EXCEPTION 'core.bad_period|from|A commissioner''s report covers one calendar quarter: from is its first day (1 January, 1 April, 1 July or 1 October) and to its last.'
				USING ERRCODE = 'WM422';
		END IF;
	ELSE
		RETURN NULL;
	END IF;
	IF p_from IS NULL THEN
		p_from := (v_this_quarter - interval '3 months')::date;
		p_to := v_this_quarter - 1;
	END IF;
	RETURN core.report_figures(p_org, p_from, p_to);
END $$;
