-- Households, risk and safeguarding flags, non-associations ("keep apart").
-- Runs after 0002 with search_path = core, public.
--
-- Each route of core/api_households.c, api_flags.c and api_nonassoc.c is
-- one call of one function below: it checks scope, makes the change,
-- writes the audit row(s) and builds the JSON reply, in one statement.
-- Every function takes the request context first (staff, peer address,
-- request id) and returns NULL when the object is out of scope or does not
-- exist (the API answers 404, so ids reveal nothing). Rules refuse with
-- RAISE ... USING ERRCODE 'WM4xx' and a message "code|field|text".
--
-- Only admins and coordinators ever see these records: mentors,
-- facilitators and commissioners are refused by the routes' role masks.

-- One primary contact per household. household_member_add clears the old
-- one first; the index makes the rule hold whatever writes the table.
CREATE UNIQUE INDEX household_member_one_primary ON household_member (household_id)
	WHERE primary_contact;
CREATE INDEX person_flag_live ON person_flag (person_id, id) WHERE removed_at IS NULL;
CREATE INDEX non_association_live_org ON non_association (org_id, id) WHERE ended_at IS NULL;

-- True when `staff` may manage `org`'s households, flags and
-- non-associations: admin or coordinator there.
CREATE FUNCTION trust_manages(p_staff bigint, p_org bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[])
$$;

-- True when organisation `org` holds `person`.
CREATE FUNCTION trust_holds(p_org bigint, p_person bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM core.person_org po
	               WHERE po.org_id = p_org AND po.person_id = p_person)
$$;

-- RFC 3339 UTC, the API's form of an instant.
CREATE FUNCTION trust_instant(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- --- Households ---------------------------------------------------------

CREATE FUNCTION household_json(h core.household) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', h.id, 'organisation_id', h.org_id, 'name', h.name,
		'member_count', (SELECT count(*) FROM core.household_member hm
		                 WHERE hm.household_id = h.id),
		'created_at', core.trust_instant(h.created_at),
		'updated_at', core.trust_instant(h.updated_at))
$$;

CREATE FUNCTION household_member_json(p_household bigint, p_person bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'household_id', hm.household_id, 'person_id', hm.person_id,
		'given_name', p.given_name, 'family_name', p.family_name,
		'relationship', hm.relationship, 'primary_contact', hm.primary_contact,
		-- This household's own view: its relationship, or the age. Not
		-- core.is_child, which also sees other organisations' households.
		'child', hm.relationship = 'child'
		         OR coalesce(p.date_of_birth > current_date - interval '18 years', false),
		'added_at', core.trust_instant(hm.added_at))
	FROM core.household_member hm JOIN core.person p ON p.id = hm.person_id
	WHERE hm.household_id = p_household AND hm.person_id = p_person
$$;

CREATE FUNCTION household_create(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                                 p_name text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	h core.household;
BEGIN
	IF NOT core.trust_manages(p_staff, p_org) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	INSERT INTO core.household (org_id, name, created_by) VALUES (p_org, p_name, p_staff)
		RETURNING * INTO h;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'household.create', 'household', h.id, p_addr, p_rid,
	        jsonb_build_object('fields', jsonb_build_array('name')));
	RETURN core.household_json(h);
END $$;

-- Households of organisations the caller manages, optionally only those
-- `person` belongs to; keyset pages by id.
CREATE FUNCTION household_list(p_staff bigint, p_addr inet, p_rid text, p_person bigint,
                               p_limit integer, p_cursor bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	WITH rows AS (
		SELECT h AS hh, h.id FROM core.household h
		WHERE h.org_id IN (SELECT core.staff_orgs(p_staff,
		                                          ARRAY['admin', 'coordinator']::core.staff_role[]))
		  AND (p_person IS NULL OR EXISTS (SELECT 1 FROM core.household_member hm
		                                   WHERE hm.household_id = h.id
		                                     AND hm.person_id = p_person))
		  AND (p_cursor IS NULL OR h.id > p_cursor)
		ORDER BY h.id LIMIT p_limit + 1),
	page AS (SELECT * FROM rows ORDER BY id LIMIT p_limit)
	SELECT jsonb_build_object(
		'items', coalesce((SELECT jsonb_agg(core.household_json(hh) ORDER BY id) FROM page),
		                  '[]'::jsonb),
		'next_cursor', CASE WHEN (SELECT count(*) FROM rows) > p_limit
		                    THEN (SELECT max(id)::text FROM page) END)
$$;

-- One household with its members. Reading a household with a child in it
-- is a read of a child's record: one 'household.read_child' row per child.
CREATE FUNCTION household_get(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	h core.household;
	members jsonb;
BEGIN
	SELECT * INTO h FROM core.household WHERE id = p_id;
	IF NOT FOUND OR NOT core.trust_manages(p_staff, h.org_id) THEN
		RETURN NULL;
	END IF;
	SELECT coalesce(jsonb_agg(core.household_member_json(h.id, hm.person_id)
	                          ORDER BY hm.added_at, hm.person_id), '[]'::jsonb)
		INTO members
		FROM core.household_member hm WHERE hm.household_id = h.id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, h.org_id, 'household.read_child', 'household', h.id, hm.person_id, p_addr,
	       p_rid, '{}'::jsonb
	FROM core.household_member hm
	WHERE hm.household_id = h.id AND core.is_child(hm.person_id);
	RETURN core.household_json(h) || jsonb_build_object('members', members);
END $$;

CREATE FUNCTION household_rename(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                 p_name text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	h core.household;
BEGIN
	UPDATE core.household SET name = p_name, updated_at = now()
	WHERE id = p_id AND core.trust_manages(p_staff, org_id)
	RETURNING * INTO h;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, h.org_id, 'household.update', 'household', h.id, p_addr, p_rid,
	        jsonb_build_object('fields', jsonb_build_array('name')));
	RETURN core.household_json(h);
END $$;

-- Adds `person` (held by the household's organisation) to a household. A
-- new primary contact replaces the old one in the same statement.
CREATE FUNCTION household_member_add(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                     p_person bigint, p_relationship text,
                                     p_primary boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	h core.household;
	moved integer := 0;
BEGIN
	-- The lock orders concurrent additions, so two new primary contacts
	-- cannot both clear the old one and collide.
	SELECT * INTO h FROM core.household WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR NOT core.trust_manages(p_staff, h.org_id) THEN
		RETURN NULL;
	END IF;
	IF NOT core.trust_holds(h.org_id, p_person) THEN
		RAISE EXCEPTION 'core.not_found|person_id|No such person.' USING ERRCODE = 'WM404';
	END IF;
	IF EXISTS (SELECT 1 FROM core.household_member
	           WHERE household_id = h.id AND person_id = p_person) THEN
		RAISE EXCEPTION 'core.conflict|person_id|This person is already in the household.'
			USING ERRCODE = 'WM409';
	END IF;
	IF (SELECT count(*) FROM core.household_member WHERE household_id = h.id) >= 50 THEN
		RAISE EXCEPTION 'core.too_many|person_id|A household has at most 50 members.'
			USING ERRCODE = 'WM422';
	END IF;
	IF p_primary THEN
		UPDATE core.household_member SET primary_contact = false
		WHERE household_id = h.id AND primary_contact;
		GET DIAGNOSTICS moved = ROW_COUNT;
	END IF;
	INSERT INTO core.household_member (household_id, person_id, relationship, primary_contact,
	                                   added_by)
	VALUES (h.id, p_person, p_relationship::core.household_relationship, p_primary, p_staff);
	UPDATE core.household SET updated_at = now() WHERE id = h.id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, h.org_id, 'household.add_member', 'household', h.id, p_person, p_addr,
	        p_rid, jsonb_build_object('fields', jsonb_build_array('relationship',
	                                                              'primary_contact'),
	                                  'primary_contact_moved', moved > 0));
	RETURN core.household_member_json(h.id, p_person);
END $$;

CREATE FUNCTION household_member_remove(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                        p_person bigint) RETURNS jsonb
LANGUAGE sql AS $$
	WITH gone AS (
		DELETE FROM core.household_member hm USING core.household h
		WHERE hm.household_id = p_id AND hm.person_id = p_person AND h.id = hm.household_id
		  AND core.trust_manages(p_staff, h.org_id)
		RETURNING h.id, h.org_id, hm.person_id),
	touched AS (UPDATE core.household SET updated_at = now() WHERE id IN (SELECT id FROM gone)),
	audited AS (
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id)
		SELECT p_staff, org_id, 'household.remove_member', 'household', id, person_id, p_addr,
		       p_rid
		FROM gone)
	SELECT '{}'::jsonb FROM gone
$$;

-- --- Flags --------------------------------------------------------------

CREATE FUNCTION flag_json(f core.person_flag) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', f.id, 'person_id', f.person_id, 'organisation_id', f.org_id, 'kind', f.kind,
		'severity', f.severity, 'note', f.note, 'created_at', core.trust_instant(f.created_at),
		'created_by', f.created_by)
$$;

-- Live flags on `person` recorded by organisations the caller manages,
-- when the caller sees the person in full. Every read is audited
-- ('flag.read'), an empty one too: looking is what the log records.
CREATE FUNCTION flag_list(p_staff bigint, p_addr inet, p_rid text, p_person bigint,
                          p_limit integer, p_cursor bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	orgs bigint[];
	ids bigint[];
	items jsonb;
	more boolean;
BEGIN
	IF core.person_access(p_staff, p_person) IS DISTINCT FROM 'full' THEN
		RETURN NULL;
	END IF;
	orgs := ARRAY(SELECT core.staff_orgs(p_staff,
	                                     ARRAY['admin', 'coordinator']::core.staff_role[]));
	SELECT coalesce(jsonb_agg(core.flag_json(f) ORDER BY f.id), '[]'::jsonb),
	       coalesce(array_agg(f.id ORDER BY f.id), '{}')
		INTO items, ids
		FROM (SELECT * FROM core.person_flag
		      WHERE person_id = p_person AND removed_at IS NULL AND org_id = ANY (orgs)
		        AND (p_cursor IS NULL OR id > p_cursor)
		      ORDER BY id LIMIT p_limit) f;
	more := cardinality(ids) = p_limit AND EXISTS (
		SELECT 1 FROM core.person_flag
		WHERE person_id = p_person AND removed_at IS NULL AND org_id = ANY (orgs)
		  AND id > ids[p_limit]);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff,
	        (SELECT min(po.org_id) FROM core.person_org po
	         WHERE po.person_id = p_person AND po.org_id = ANY (orgs)),
	        'flag.read', 'person', p_person, p_person, p_addr, p_rid,
	        jsonb_build_object('flag_ids', to_jsonb(ids)));
	RETURN jsonb_build_object('items', items,
	                          'next_cursor', CASE WHEN more THEN ids[p_limit]::text END);
END $$;

CREATE FUNCTION flag_create(p_staff bigint, p_addr inet, p_rid text, p_person bigint,
                            p_org bigint, p_kind text, p_severity text, p_note text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	f core.person_flag;
BEGIN
	IF core.person_access(p_staff, p_person) IS DISTINCT FROM 'full' THEN
		RETURN NULL;
	END IF;
	IF NOT core.trust_manages(p_staff, p_org) OR NOT core.trust_holds(p_org, p_person) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation holds this person.'
			USING ERRCODE = 'WM404';
	END IF;
	INSERT INTO core.person_flag (person_id, org_id, kind, severity, note, created_by)
	VALUES (p_person, p_org, p_kind::core.flag_kind,
	        coalesce(p_severity, 'unknown')::core.risk_level, p_note, p_staff)
	RETURNING * INTO f;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'flag.create', 'flag', f.id, p_person, p_addr, p_rid,
	        jsonb_build_object('fields',
	                           to_jsonb(ARRAY['kind', 'severity'] ||
	                                    CASE WHEN p_note IS NULL THEN '{}'::text[]
	                                         ELSE ARRAY['note'] END)));
	RETURN core.flag_json(f);
END $$;

CREATE FUNCTION flag_remove(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE sql AS $$
	WITH gone AS (
		UPDATE core.person_flag SET removed_at = now(), removed_by = p_staff
		WHERE id = p_id AND removed_at IS NULL AND core.trust_manages(p_staff, org_id)
		RETURNING id, org_id, person_id),
	audited AS (
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id)
		SELECT p_staff, org_id, 'flag.remove', 'flag', id, person_id, p_addr, p_rid FROM gone)
	SELECT '{}'::jsonb FROM gone
$$;

-- --- Non-associations ---------------------------------------------------

CREATE FUNCTION non_association_json(n core.non_association) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', n.id, 'organisation_id', n.org_id,
		'person_a', n.person_a, 'person_b', n.person_b,
		'person_a_name', (SELECT p.given_name || ' ' || p.family_name
		                  FROM core.person p WHERE p.id = n.person_a),
		'person_b_name', (SELECT p.given_name || ' ' || p.family_name
		                  FROM core.person p WHERE p.id = n.person_b),
		'reason', n.reason, 'created_at', core.trust_instant(n.created_at),
		'created_by', n.created_by)
$$;

-- Live non-associations recorded by organisations the caller manages,
-- optionally only those naming `person`; keyset pages by id. The items name
-- both people: showing a child's name (and why they are kept apart) is a
-- read of a child's record, so each child shown gets a
-- 'non_association.read_child' row, in this same call.
CREATE FUNCTION non_association_list(p_staff bigint, p_addr inet, p_rid text, p_person bigint,
                                     p_limit integer, p_cursor bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	page core.non_association[];
	more boolean;
BEGIN
	page := ARRAY(
		SELECT n FROM core.non_association n
		WHERE n.ended_at IS NULL
		  AND n.org_id IN (SELECT core.staff_orgs(p_staff,
		                                          ARRAY['admin', 'coordinator']::core.staff_role[]))
		  AND (p_person IS NULL OR p_person IN (n.person_a, n.person_b))
		  AND (p_cursor IS NULL OR n.id > p_cursor)
		ORDER BY n.id LIMIT p_limit + 1);
	more := cardinality(page) > p_limit;
	IF more THEN
		page := page[1:p_limit];
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, n.org_id, 'non_association.read_child', 'non_association', n.id, who,
	       p_addr, p_rid, jsonb_build_object('list', true)
	FROM unnest(page) n, unnest(ARRAY[n.person_a, n.person_b]) AS who
	WHERE core.is_child(who)
	ORDER BY n.id, who;
	RETURN jsonb_build_object(
		'items', coalesce((SELECT jsonb_agg(core.non_association_json(n) ORDER BY n.id)
		                   FROM unnest(page) n), '[]'::jsonb),
		'next_cursor', CASE WHEN more THEN (page[p_limit]).id::text END);
END $$;

-- Records that two people held by `org` are to be kept apart. The pair is
-- stored once, smaller id first; each person's audit trail gets a row.
CREATE FUNCTION non_association_create(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                                       p_a bigint, p_b bigint, p_reason text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	n core.non_association;
BEGIN
	IF p_a = p_b THEN
		RAISE EXCEPTION 'core.same_person|person_b|A person cannot be kept apart from themselves.'
			USING ERRCODE = 'WM422';
	END IF;
	IF NOT core.trust_manages(p_staff, p_org) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	IF NOT core.trust_holds(p_org, p_a) THEN
		RAISE EXCEPTION 'core.not_found|person_a|No such person.' USING ERRCODE = 'WM404';
	END IF;
	IF NOT core.trust_holds(p_org, p_b) THEN
		RAISE EXCEPTION 'core.not_found|person_b|No such person.' USING ERRCODE = 'WM404';
	END IF;
	IF EXISTS (SELECT 1 FROM core.non_association
	           WHERE org_id = p_org AND person_a = least(p_a, p_b)
	             AND person_b = greatest(p_a, p_b) AND ended_at IS NULL) THEN
		RAISE EXCEPTION 'core.conflict||These two people are already kept apart here.'
			USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.non_association (org_id, person_a, person_b, reason, created_by)
	VALUES (p_org, least(p_a, p_b), greatest(p_a, p_b), p_reason, p_staff)
	RETURNING * INTO n;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, p_org, 'non_association.create', 'non_association', n.id, who, p_addr,
	       p_rid,
	       jsonb_build_object('fields',
	                          to_jsonb(ARRAY['person_a', 'person_b'] ||
	                                   CASE WHEN p_reason IS NULL THEN '{}'::text[]
	                                        ELSE ARRAY['reason'] END))
	FROM unnest(ARRAY[n.person_a, n.person_b]) AS who;
	RETURN core.non_association_json(n);
END $$;

CREATE FUNCTION non_association_end(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE sql AS $$
	WITH gone AS (
		UPDATE core.non_association SET ended_at = now(), ended_by = p_staff
		WHERE id = p_id AND ended_at IS NULL AND core.trust_manages(p_staff, org_id)
		RETURNING id, org_id, person_a, person_b),
	audited AS (
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id)
		SELECT p_staff, g.org_id, 'non_association.end', 'non_association', g.id, who, p_addr,
		       p_rid
		FROM gone g, unnest(ARRAY[g.person_a, g.person_b]) AS who)
	SELECT '{}'::jsonb FROM gone
$$;
