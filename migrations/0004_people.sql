-- People and caseload assignments: how a person is shown to each kind of
-- caller, and the writes that must check, change and audit in one step.
-- Runs after 0002 with search_path = core, public. Every name is qualified so
-- the functions behave the same whatever search_path the caller has.

-- The first organisation (lowest id) through which `staff` sees `person`:
-- for 'full' a holding organisation where they are admin or coordinator, for
-- 'caseload' the organisation of a live assignment. The audit row of a read
-- or change names it, so that organisation's admins see the row.
-- PL/pgSQL so its queries' plans are kept between calls (hot path).
CREATE FUNCTION person_access_org(p_staff bigint, p_person bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	org bigint;
BEGIN
	SELECT min(po.org_id) INTO org FROM core.person_org po
	JOIN core.membership m ON m.org_id = po.org_id
	JOIN core.organisation o ON o.id = po.org_id AND o.archived_at IS NULL
	WHERE po.person_id = p_person AND m.staff_id = p_staff
	  AND m.role IN ('admin', 'coordinator');
	IF org IS NULL THEN
		SELECT min(a.org_id) INTO org FROM core.assignment a
		JOIN core.membership m ON m.org_id = a.org_id AND m.staff_id = a.staff_id
		                      AND m.role = a.kind
		JOIN core.organisation o ON o.id = a.org_id AND o.archived_at IS NULL
		WHERE a.person_id = p_person AND a.staff_id = p_staff AND a.ended_at IS NULL;
	END IF;
	RETURN org;
END $$;

-- `p_shown` as `p_viewer` may see it: a staff id is shown only to staff
-- who share an organisation with that staff member (or to themselves);
-- anyone else gets NULL, so a record passed between organisations (a
-- person, an onward referral) never hands out the other side's staff ids.
CREATE FUNCTION staff_shown(p_viewer bigint, p_shown bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT p_shown WHERE p_shown = p_viewer OR EXISTS (
		SELECT 1 FROM core.membership mv JOIN core.membership ms ON ms.org_id = mv.org_id
		WHERE mv.staff_id = p_viewer AND ms.staff_id = p_shown)
$$;

-- An erased person (erased_at set) is linked to no organisation again,
-- whichever code path tries: they are gone for every caller (404).
CREATE FUNCTION person_org_refuse_erased() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM core.person p
	           WHERE p.id = NEW.person_id AND p.erased_at IS NOT NULL) THEN
		RAISE EXCEPTION 'core.not_found|person_id|No such person.' USING ERRCODE = 'WM404';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER person_org_not_erased BEFORE INSERT OR UPDATE ON person_org
	FOR EACH ROW EXECUTE FUNCTION person_org_refuse_erased();

CREATE FUNCTION utc_text(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- A person as `staff` may see them, given their access ('full' or
-- 'caseload'; anything else gives NULL). 'caseload' is identity, custody,
-- release, probation, area and risk level; 'full' adds the record's own
-- metadata and which of the caller's organisations hold the person.
CREATE FUNCTION person_json(p core.person, p_access text, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT CASE p_access
	WHEN 'caseload' THEN jsonb_build_object(
		'id', p.id, 'given_name', p.given_name, 'family_name', p.family_name,
		'known_as', p.known_as, 'date_of_birth', to_char(p.date_of_birth, 'YYYY-MM-DD'),
		'sex', p.sex, 'is_participant', p.is_participant,
		'custody_status', p.custody_status, 'establishment', p.establishment,
		'expected_release_date', to_char(p.expected_release_date, 'YYYY-MM-DD'),
		'probation_office', p.probation_office,
		'probation_practitioner', p.probation_practitioner, 'area', p.area,
		'risk_level', p.risk_level, 'access', 'caseload')
	WHEN 'full' THEN jsonb_build_object(
		'id', p.id, 'given_name', p.given_name, 'family_name', p.family_name,
		'known_as', p.known_as, 'date_of_birth', to_char(p.date_of_birth, 'YYYY-MM-DD'),
		'sex', p.sex, 'is_participant', p.is_participant,
		'custody_status', p.custody_status, 'establishment', p.establishment,
		'expected_release_date', to_char(p.expected_release_date, 'YYYY-MM-DD'),
		'probation_office', p.probation_office,
		'probation_practitioner', p.probation_practitioner, 'area', p.area,
		'risk_level', p.risk_level, 'created_at', core.utc_text(p.created_at),
		'updated_at', core.utc_text(p.updated_at),
		'created_by', core.staff_shown(p_staff, p.created_by),
		'erased_at', core.utc_text(p.erased_at), 'version', p.version,
		'organisations', coalesce((
			SELECT jsonb_agg(po.org_id ORDER BY po.org_id) FROM core.person_org po
			WHERE po.person_id = p.id AND EXISTS (
				SELECT 1 FROM core.membership m
				WHERE m.staff_id = p_staff AND m.org_id = po.org_id)), '[]'::jsonb),
		'access', 'full')
	END
$$;

-- The person fields a request body may carry (the API's names are the
-- column names). Used to name changed fields in the audit detail.
CREATE FUNCTION person_fields() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
	SELECT ARRAY['given_name', 'family_name', 'known_as', 'date_of_birth', 'sex',
	             'is_participant', 'custody_status', 'establishment', 'expected_release_date',
	             'probation_office', 'probation_practitioner', 'area', 'risk_level']
$$;

-- Refuses (409 core.duplicate_person) when a person other than `p_except`
-- with the same names and date of birth is held by an organisation where
-- `staff` is admin or coordinator: they can see that record already, so the
-- message may name it. Without a date of birth, names alone are not an
-- identity (two people may share them), so nothing is refused.
-- Takes a transaction-level advisory lock on the identity first, so two
-- concurrent creates of the same person serialise here and the second sees
-- the first's row (each plpgsql statement takes a fresh snapshot).
CREATE FUNCTION person_refuse_duplicate(p_staff bigint, p_given text, p_family text, p_dob date,
                                        p_except bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_dup bigint;
BEGIN
	IF p_dob IS NULL THEN
		RETURN;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtextextended(
	    'core.person|' || lower(p_given) || '|' || lower(p_family) || '|' || p_dob::text, 0));
	SELECT min(p.id) INTO v_dup FROM core.person p
	WHERE lower(p.family_name) = lower(p_family) AND lower(p.given_name) = lower(p_given)
	  AND p.date_of_birth = p_dob AND p.id IS DISTINCT FROM p_except
	  AND EXISTS (SELECT 1 FROM core.person_org po
	              WHERE po.person_id = p.id AND po.org_id IN (
	                  SELECT core.staff_orgs(p_staff,
	                                         ARRAY['admin', 'coordinator']::core.staff_role[])));
	IF v_dup IS NOT NULL THEN
		RAISE EXCEPTION 'core.duplicate_person||A person with these names and date of birth is already recorded: person %.', v_dup
		USING ERRCODE = 'WM409';
	END IF;
END $$;

-- POST /people. `b` is the request body, already checked field by field by
-- the handler (types, bounds, enums, dates). The caller must be admin or
-- coordinator of the organisation; the person and the organisation's link
-- are written together with the audit row.
CREATE FUNCTION person_create(p_staff bigint, p_addr inet, p_rid text, b jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	v_org bigint := (b->>'organisation_id')::bigint;
	v_person core.person;
BEGIN
	IF NOT core.has_role(p_staff, v_org, ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
		USING ERRCODE = 'WM404';
	END IF;
	PERFORM core.person_refuse_duplicate(p_staff, b->>'given_name', b->>'family_name',
	                                     (b->>'date_of_birth')::date, NULL);
	INSERT INTO core.person (given_name, family_name, known_as, date_of_birth, sex,
	                         is_participant, custody_status, establishment,
	                         expected_release_date, probation_office, probation_practitioner,
	                         area, risk_level, created_by)
	VALUES (b->>'given_name', b->>'family_name', b->>'known_as', (b->>'date_of_birth')::date,
	        coalesce((b->>'sex')::core.person_sex, 'not_recorded'),
	        coalesce((b->>'is_participant')::boolean, false),
	        coalesce((b->>'custody_status')::core.custody_status, 'unknown'),
	        b->>'establishment', (b->>'expected_release_date')::date, b->>'probation_office',
	        b->>'probation_practitioner', b->>'area',
	        coalesce((b->>'risk_level')::core.risk_level, 'unknown'), p_staff)
	RETURNING * INTO v_person;
	INSERT INTO core.person_org (person_id, org_id, created_by)
	VALUES (v_person.id, v_org, p_staff);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, v_org, 'person.create', 'person', v_person.id, v_person.id, p_addr, p_rid,
	        jsonb_build_object('fields', (
	            SELECT coalesce(jsonb_agg(f ORDER BY f), '[]'::jsonb)
	            FROM unnest(core.person_fields()) f
	            WHERE b ? f AND jsonb_typeof(b->f) <> 'null')));
	RETURN core.person_json(v_person, 'full', p_staff);
END $$;

-- PATCH /people/{id}: 'full' access only (else no row: 404). Members of `b`
-- set their column; JSON null clears an optional one (the handler refuses
-- null for the required ones). "version", when given, must match (409
-- core.stale). Nothing changed: nothing written, the record is returned.
CREATE FUNCTION person_update(p_staff bigint, p_addr inet, p_rid text, p_id bigint, b jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_old core.person;
	v_new core.person;
	v_changed jsonb;
BEGIN
	IF core.person_access(p_staff, p_id) IS DISTINCT FROM 'full' THEN
		RETURN NULL;
	END IF;
	SELECT * INTO v_old FROM core.person WHERE id = p_id FOR UPDATE;
	IF b ? 'version' AND (b->>'version')::integer <> v_old.version THEN
		RAISE EXCEPTION 'core.stale|version|This person was changed by someone else (now version %); reload and try again.', v_old.version
		USING ERRCODE = 'WM409';
	END IF;
	v_new := v_old;
	IF b ? 'given_name' THEN v_new.given_name := b->>'given_name'; END IF;
	IF b ? 'family_name' THEN v_new.family_name := b->>'family_name'; END IF;
	IF b ? 'known_as' THEN v_new.known_as := b->>'known_as'; END IF;
	IF b ? 'date_of_birth' THEN v_new.date_of_birth := (b->>'date_of_birth')::date; END IF;
	IF b ? 'sex' THEN v_new.sex := (b->>'sex')::core.person_sex; END IF;
	IF b ? 'is_participant' THEN v_new.is_participant := (b->>'is_participant')::boolean; END IF;
	IF b ? 'custody_status' THEN
		v_new.custody_status := (b->>'custody_status')::core.custody_status;
	END IF;
	IF b ? 'establishment' THEN v_new.establishment := b->>'establishment'; END IF;
	IF b ? 'expected_release_date' THEN
		v_new.expected_release_date := (b->>'expected_release_date')::date;
	END IF;
	IF b ? 'probation_office' THEN v_new.probation_office := b->>'probation_office'; END IF;
	IF b ? 'probation_practitioner' THEN
		v_new.probation_practitioner := b->>'probation_practitioner';
	END IF;
	IF b ? 'area' THEN v_new.area := b->>'area'; END IF;
	IF b ? 'risk_level' THEN v_new.risk_level := (b->>'risk_level')::core.risk_level; END IF;

	SELECT coalesce(jsonb_agg(o.key ORDER BY o.key), '[]'::jsonb) INTO v_changed
	FROM jsonb_each(to_jsonb(v_old)) o JOIN jsonb_each(to_jsonb(v_new)) n USING (key)
	WHERE o.key = ANY (core.person_fields()) AND o.value IS DISTINCT FROM n.value;
	IF jsonb_array_length(v_changed) = 0 THEN
		RETURN core.person_json(v_old, 'full', p_staff);
	END IF;
	IF v_changed ?| ARRAY['given_name', 'family_name', 'date_of_birth'] THEN
		PERFORM core.person_refuse_duplicate(p_staff, v_new.given_name, v_new.family_name,
		                                     v_new.date_of_birth, p_id);
	END IF;

	UPDATE core.person SET
		given_name = v_new.given_name, family_name = v_new.family_name,
		known_as = v_new.known_as, date_of_birth = v_new.date_of_birth, sex = v_new.sex,
		is_participant = v_new.is_participant, custody_status = v_new.custody_status,
		establishment = v_new.establishment,
		expected_release_date = v_new.expected_release_date,
		probation_office = v_new.probation_office,
		probation_practitioner = v_new.probation_practitioner, area = v_new.area,
		risk_level = v_new.risk_level, version = version + 1, updated_at = now()
	WHERE id = p_id RETURNING * INTO v_new;
	-- The identity is shared: every organisation holding the person gets
	-- the row, so each one's audit log and export show the change.
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, po.org_id, 'person.update', 'person', p_id, p_id, p_addr, p_rid,
	       jsonb_build_object('fields', v_changed)
	FROM core.person_org po WHERE po.person_id = p_id ORDER BY po.org_id;
	RETURN core.person_json(v_new, 'full', p_staff);
END $$;

-- --- Assignments -------------------------------------------------------

CREATE FUNCTION assignment_json(a core.assignment) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', a.id, 'organisation_id', a.org_id, 'staff_id', a.staff_id,
		'staff_display_name', (SELECT s.display_name FROM core.staff s WHERE s.id = a.staff_id),
		'person_id', a.person_id, 'kind', a.kind, 'created_at', core.utc_text(a.created_at),
		'created_by', a.created_by, 'ended_at', core.utc_text(a.ended_at),
		'ended_by', a.ended_by)
$$;

-- POST /people/{id}/assignments. The caller must be admin or coordinator of
-- the organisation and the organisation must hold the person (else 404:
-- neither is revealed); the staff member must hold the role `kind` there
-- and not be disabled (422 core.not_member); one live assignment per
-- (organisation, staff, person, kind) (409 core.conflict).
CREATE FUNCTION assignment_create(p_staff bigint, p_addr inet, p_rid text, p_person bigint,
                                  p_org bigint, p_target bigint, p_kind core.staff_role)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v core.assignment;
BEGIN
	IF NOT core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[])
	   OR NOT EXISTS (SELECT 1 FROM core.person_org po
	                  WHERE po.person_id = p_person AND po.org_id = p_org) THEN
		RETURN NULL;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM core.membership m JOIN core.staff s ON s.id = m.staff_id
	               WHERE m.staff_id = p_target AND m.org_id = p_org AND m.role = p_kind
	                 AND s.disabled_at IS NULL) THEN
		RAISE EXCEPTION 'core.not_member|staff_id|This staff member is not a % of the organisation.', p_kind
		USING ERRCODE = 'WM422';
	END IF;
	-- Serialise concurrent creates of the same assignment; the unique index
	-- would refuse the second anyway, this gives it the clear answer.
	PERFORM 1 FROM core.person WHERE id = p_person FOR UPDATE;
	IF EXISTS (SELECT 1 FROM core.assignment a
	           WHERE a.org_id = p_org AND a.staff_id = p_target AND a.person_id = p_person
	             AND a.kind = p_kind AND a.ended_at IS NULL) THEN
		RAISE EXCEPTION 'core.conflict||This staff member is already assigned to this person as %.', p_kind
		USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.assignment (org_id, staff_id, person_id, kind, created_by)
	VALUES (p_org, p_target, p_person, p_kind, p_staff) RETURNING * INTO v;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'assignment.create', 'assignment', v.id, p_person, p_addr, p_rid,
	        jsonb_build_object('kind', p_kind, 'staff_id', p_target));
	RETURN core.assignment_json(v);
END $$;
