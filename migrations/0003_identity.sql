-- Identity: organisations, staff and their memberships, API tokens and
-- browser sign-in. Each route of api_orgs.c, api_staff.c, api_tokens.c and
-- api_login.c calls one function (or one statement) here that checks the
-- caller's scope, makes the change, writes the audit row and returns the JSON
-- reply; NULL means "no such object for this caller" (404).
-- Runs after 0002 with search_path = core, public. Every name is qualified so
-- the functions behave the same whatever search_path the caller has. Names
-- carry an identity_ prefix so they never clash with other resources'.

CREATE FUNCTION identity_time(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- A server admin whose account is not disabled.
CREATE FUNCTION identity_is_sa(p_staff bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM core.staff s
	               WHERE s.id = p_staff AND s.server_admin AND s.disabled_at IS NULL)
$$;

-- May `staff` run organisation `org`: its admin (not archived) or a server admin.
CREATE FUNCTION identity_org_admin(p_staff bigint, p_org bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT core.identity_is_sa(p_staff)
	    OR core.has_role(p_staff, p_org, ARRAY['admin']::core.staff_role[])
$$;

-- May `staff` change staff member `target` (name, disabled): a server admin
-- may change anyone; anyone else must be an enabled admin of EVERY
-- organisation (not archived) `target` belongs to, `target` must belong to
-- at least one, and a server admin is changed only by server admins. So an
-- admin who shares one organisation with someone cannot lock them out of
-- the others.
CREATE FUNCTION identity_staff_manageable(p_staff bigint, p_target bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT core.identity_is_sa(p_staff) OR (
		EXISTS (SELECT 1 FROM core.staff c WHERE c.id = p_staff AND c.disabled_at IS NULL)
		AND NOT EXISTS (SELECT 1 FROM core.staff t WHERE t.id = p_target AND t.server_admin)
		AND EXISTS (SELECT 1 FROM core.membership m
		            JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL
		            WHERE m.staff_id = p_target)
		AND NOT EXISTS (SELECT 1 FROM core.membership m
		                JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL
		                WHERE m.staff_id = p_target
		                  AND NOT core.has_role(p_staff, m.org_id,
		                                        ARRAY['admin']::core.staff_role[])))
$$;

-- An audit row about staff member `target` for each organisation (not
-- archived) they belong to, so each organisation's admins see it in
-- /audit; with `p_global`, or when they belong to none, also one row
-- without an organisation (the server admins' view).
CREATE FUNCTION identity_audit_staff(p_actor bigint, p_target bigint, p_action text,
                                     p_addr inet, p_rid text, p_detail jsonb,
                                     p_global boolean) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	SELECT p_actor, x.org_id, p_action, 'staff', p_target, p_addr, p_rid, p_detail
	FROM (SELECT DISTINCT m.org_id FROM core.membership m
	      JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL
	      WHERE p_target IS NOT NULL AND m.staff_id = p_target
	      UNION ALL
	      SELECT NULL::bigint WHERE p_global OR p_target IS NULL OR NOT EXISTS (
	          SELECT 1 FROM core.membership m
	          JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL
	          WHERE m.staff_id = p_target)) x
$$;

-- May `staff` see staff member `target`: themselves, a server admin, or an
-- admin or coordinator of an organisation `target` belongs to.
CREATE FUNCTION identity_staff_visible(p_staff bigint, p_target bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT p_staff = p_target OR core.identity_is_sa(p_staff) OR EXISTS (
		SELECT 1 FROM core.membership m
		WHERE m.staff_id = p_target AND m.org_id IN (
			SELECT core.staff_orgs(p_staff, ARRAY['admin', 'coordinator']::core.staff_role[])))
$$;

-- An organisation, with the roles `staff` holds in it.
CREATE FUNCTION identity_org_json(o core.organisation, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', o.id, 'name', o.name, 'kind', o.kind, 'archived', o.archived_at IS NOT NULL,
		'archived_at', core.identity_time(o.archived_at),
		'created_at', core.identity_time(o.created_at),
		'roles', coalesce((SELECT jsonb_agg(m.role ORDER BY m.role) FROM core.membership m
		                   WHERE m.org_id = o.id AND m.staff_id = p_staff), '[]'::jsonb))
$$;

-- A staff member as `staff` sees them: never the password hash, and only the
-- memberships in organisations the caller manages (all for self and SA).
CREATE FUNCTION identity_staff_json(s core.staff, p_staff bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', s.id, 'email', s.email, 'display_name', s.display_name,
		'server_admin', s.server_admin, 'disabled', s.disabled_at IS NOT NULL,
		'has_password', s.password_hash IS NOT NULL,
		'created_at', core.identity_time(s.created_at),
		'updated_at', core.identity_time(s.updated_at),
		'memberships', coalesce((
			SELECT jsonb_agg(jsonb_build_object('organisation_id', o.id, 'organisation', o.name,
			                                    'role', m.role) ORDER BY o.id, m.role)
			FROM core.membership m JOIN core.organisation o ON o.id = m.org_id
			WHERE m.staff_id = s.id
			  AND (core.identity_is_sa(p_staff)
			       OR (o.archived_at IS NULL
			           AND (p_staff = s.id
			                OR core.has_role(p_staff, o.id,
			                                 ARRAY['admin', 'coordinator']::core.staff_role[]))))),
			'[]'::jsonb))
$$;

-- Who is signed in: GET /auth/me and the reply of a sign-in.
CREATE FUNCTION identity_me_json(p_staff bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', s.id, 'email', s.email, 'display_name', s.display_name,
		'server_admin', s.server_admin,
		'memberships', coalesce((
			SELECT jsonb_agg(jsonb_build_object('organisation_id', o.id, 'organisation', o.name,
			                                    'role', m.role) ORDER BY o.id, m.role)
			FROM core.membership m
			JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL
			WHERE m.staff_id = s.id), '[]'::jsonb))
	FROM core.staff s WHERE s.id = p_staff
$$;

-- --- Organisations ------------------------------------------------------

CREATE FUNCTION identity_org_create(p_staff bigint, p_addr inet, p_rid text, p_name text,
                                    p_kind core.org_kind) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	o core.organisation;
BEGIN
	IF NOT core.identity_is_sa(p_staff) THEN
		RETURN NULL;
	END IF;
	IF EXISTS (SELECT 1 FROM core.organisation WHERE lower(name) = lower(p_name)) THEN
		RAISE EXCEPTION 'core.duplicate_name|name|An organisation with this name already exists.'
			USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.organisation (name, kind) VALUES (p_name, p_kind) RETURNING * INTO o;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, o.id, 'organisation.create', 'organisation', o.id, p_addr, p_rid,
	        jsonb_build_object('kind', o.kind));
	RETURN core.identity_org_json(o, p_staff);
END $$;

-- Absent arguments (NULL) leave the field as it is.
CREATE FUNCTION identity_org_update(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                    p_name text, p_kind core.org_kind, p_archived boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	o core.organisation;
	fields text[] := '{}';
BEGIN
	IF NOT core.identity_org_admin(p_staff, p_id) THEN
		RETURN NULL;
	END IF;
	SELECT * INTO o FROM core.organisation WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF p_name IS NOT NULL AND p_name IS DISTINCT FROM o.name THEN
		IF EXISTS (SELECT 1 FROM core.organisation
		           WHERE lower(name) = lower(p_name) AND id <> p_id) THEN
			RAISE EXCEPTION 'core.duplicate_name|name|An organisation with this name already exists.'
				USING ERRCODE = 'WM409';
		END IF;
		fields := fields || 'name'::text;
	END IF;
	IF p_kind IS NOT NULL AND p_kind <> o.kind THEN
		fields := fields || 'kind'::text;
	END IF;
	IF p_archived IS NOT NULL AND p_archived <> (o.archived_at IS NOT NULL) THEN
		fields := fields || 'archived'::text;
	END IF;
	UPDATE core.organisation SET
		name = coalesce(p_name, name), kind = coalesce(p_kind, kind),
		archived_at = CASE WHEN p_archived IS NULL THEN archived_at
		                   WHEN p_archived THEN coalesce(archived_at, now()) END
	WHERE id = p_id RETURNING * INTO o;
	IF cardinality(fields) > 0 THEN
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        remote_addr, request_id, detail)
		VALUES (p_staff, o.id, 'organisation.update', 'organisation', o.id, p_addr, p_rid,
		        jsonb_build_object('fields', fields));
	END IF;
	RETURN core.identity_org_json(o, p_staff);
END $$;

-- The staff of an organisation, one item per person with their roles there.
CREATE FUNCTION identity_org_members(p_staff bigint, p_org bigint, p_limit integer,
                                     p_cursor bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT (core.identity_is_sa(p_staff)
	        OR core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[]))
	   OR NOT EXISTS (SELECT 1 FROM core.organisation WHERE id = p_org) THEN
		RETURN NULL;
	END IF;
	RETURN (
		SELECT jsonb_build_object(
			'items', coalesce(jsonb_agg(x.j ORDER BY x.id) FILTER (WHERE x.n <= p_limit),
			                  '[]'::jsonb),
			'next_cursor', CASE WHEN count(*) > p_limit
			               THEN (max(x.id) FILTER (WHERE x.n <= p_limit))::text END)
		FROM (SELECT s.id, row_number() OVER (ORDER BY s.id) AS n,
		             jsonb_build_object(
		                 'staff_id', s.id, 'email', s.email, 'display_name', s.display_name,
		                 'disabled', s.disabled_at IS NOT NULL,
		                 'roles', (SELECT jsonb_agg(m.role ORDER BY m.role) FROM core.membership m
		                           WHERE m.staff_id = s.id AND m.org_id = p_org)) AS j
		      FROM core.staff s
		      WHERE s.id > p_cursor
		        AND EXISTS (SELECT 1 FROM core.membership m
		                    WHERE m.staff_id = s.id AND m.org_id = p_org)
		      ORDER BY s.id LIMIT p_limit + 1) x);
END $$;

-- Gives `target` a role in `org`. The target must be someone the caller
-- already manages (admin of an organisation they share; or the caller a
-- server admin), so an admin cannot probe or annex other organisations'
-- staff.
CREATE FUNCTION identity_member_add(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                                    p_target bigint, p_role core.staff_role) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	m core.membership;
BEGIN
	IF NOT core.identity_org_admin(p_staff, p_org)
	   OR NOT EXISTS (SELECT 1 FROM core.organisation WHERE id = p_org) THEN
		RETURN NULL;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM core.staff WHERE id = p_target)
	   OR NOT (core.identity_is_sa(p_staff) OR EXISTS (
	           SELECT 1 FROM core.membership x
	           WHERE x.staff_id = p_target AND x.org_id IN (
	               SELECT core.staff_orgs(p_staff, ARRAY['admin']::core.staff_role[])))) THEN
		RAISE EXCEPTION 'core.not_found|staff_id|No such staff member.' USING ERRCODE = 'WM404';
	END IF;
	IF EXISTS (SELECT 1 FROM core.membership
	           WHERE staff_id = p_target AND org_id = p_org AND role = p_role) THEN
		RAISE EXCEPTION 'core.duplicate_membership|role|This staff member already has this role here.'
			USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.membership (staff_id, org_id, role, created_by)
	VALUES (p_target, p_org, p_role, p_staff) RETURNING * INTO m;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'membership.create', 'staff', p_target, p_addr, p_rid,
	        jsonb_build_object('role', p_role));
	RETURN jsonb_build_object('organisation_id', m.org_id, 'staff_id', m.staff_id,
	                          'role', m.role, 'created_at', core.identity_time(m.created_at));
END $$;

-- Removes one role. An organisation keeps at least one admin whose account
-- is not disabled; the organisation row is locked so two removals (or a
-- removal and a disabling) cannot each believe the other admin remains.
-- Taking away the mentor or facilitator role ends the member's live
-- assignments of that kind in the organisation: a caseload must not
-- outlive the role that grants it.
CREATE FUNCTION identity_member_remove(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                                       p_target bigint, p_role core.staff_role) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT core.identity_org_admin(p_staff, p_org) THEN
		RETURN NULL;
	END IF;
	PERFORM 1 FROM core.organisation WHERE id = p_org FOR UPDATE;
	IF NOT FOUND OR NOT EXISTS (SELECT 1 FROM core.membership
	                            WHERE staff_id = p_target AND org_id = p_org AND role = p_role) THEN
		RETURN NULL;
	END IF;
	IF p_role = 'admin' AND NOT EXISTS (
		SELECT 1 FROM core.membership m JOIN core.staff s ON s.id = m.staff_id
		WHERE m.org_id = p_org AND m.role = 'admin' AND m.staff_id <> p_target
		  AND s.disabled_at IS NULL) THEN
		RAISE EXCEPTION 'core.last_admin|role|An organisation must keep at least one admin.'
			USING ERRCODE = 'WM409';
	END IF;
	DELETE FROM core.membership WHERE staff_id = p_target AND org_id = p_org AND role = p_role;
	WITH e AS (
		UPDATE core.assignment a SET ended_at = now(), ended_by = p_staff
		WHERE a.org_id = p_org AND a.staff_id = p_target AND a.kind = p_role
		  AND a.ended_at IS NULL
		RETURNING a.id, a.person_id)
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, p_org, 'assignment.end', 'assignment', e.id, e.person_id, p_addr, p_rid,
	       jsonb_build_object('reason', 'role_removed', 'role', p_role)
	FROM e;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'membership.delete', 'staff', p_target, p_addr, p_rid,
	        jsonb_build_object('role', p_role));
	RETURN '{}'::jsonb;
END $$;

-- --- Staff --------------------------------------------------------------

-- What creating a staff member means, whoever asks (the API's
-- identity_staff_create, the CLI's identity_staff_create_cli): one email
-- per person, the first role, the audit row. `p_hash` is crypto_pwhash_str
-- output computed off the event loop, or NULL.
CREATE FUNCTION identity_staff_insert(p_actor bigint, p_addr inet, p_rid text, p_email text,
                                      p_name text, p_hash text, p_org bigint,
                                      p_role core.staff_role, p_server_admin boolean,
                                      p_via text) RETURNS core.staff
LANGUAGE plpgsql AS $$
DECLARE
	s core.staff;
BEGIN
	IF EXISTS (SELECT 1 FROM core.staff WHERE lower(email) = lower(p_email)) THEN
		RAISE EXCEPTION 'core.duplicate_email|email|A staff member with this email already exists.'
			USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.staff (email, display_name, password_hash, server_admin)
	VALUES (p_email, p_name, p_hash, coalesce(p_server_admin, false)) RETURNING * INTO s;
	IF p_org IS NOT NULL THEN
		INSERT INTO core.membership (staff_id, org_id, role, created_by)
		VALUES (s.id, p_org, p_role, p_actor);
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_actor, p_org, 'staff.create', 'staff', s.id, p_addr, p_rid,
	        jsonb_strip_nulls(jsonb_build_object(
	            'role', p_role, 'password', p_hash IS NOT NULL, 'via', p_via,
	            'server_admin', CASE WHEN s.server_admin THEN true END)));
	RETURN s;
END $$;

CREATE FUNCTION identity_staff_create(p_staff bigint, p_addr inet, p_rid text, p_email text,
                                      p_name text, p_hash text, p_org bigint,
                                      p_role core.staff_role) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
	IF p_staff IS NULL OR NOT core.identity_org_admin(p_staff, p_org)
	   OR NOT EXISTS (SELECT 1 FROM core.organisation WHERE id = p_org) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	RETURN core.identity_staff_json(
		core.identity_staff_insert(p_staff, p_addr, p_rid, p_email, p_name, p_hash, p_org,
		                           p_role, false, NULL),
		p_staff);
END $$;

-- `waymarkd staff create`, run by whoever holds the server's database: the
-- first accounts of a new server. The organisation, when named, is found by
-- name or created; returns the new staff id.
CREATE FUNCTION identity_staff_create_cli(p_email text, p_name text, p_hash text,
                                          p_org_name text, p_role core.staff_role,
                                          p_server_admin boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_org bigint;
BEGIN
	IF p_org_name IS NOT NULL THEN
		SELECT id INTO v_org FROM core.organisation WHERE lower(name) = lower(p_org_name);
		IF NOT FOUND THEN
			INSERT INTO core.organisation (name) VALUES (p_org_name) RETURNING id INTO v_org;
			INSERT INTO core.audit (org_id, action, object_type, object_id, detail)
			VALUES (v_org, 'organisation.create', 'organisation', v_org,
			        jsonb_build_object('via', 'cli'));
		END IF;
	END IF;
	RETURN (core.identity_staff_insert(NULL, NULL, NULL, p_email, p_name, p_hash, v_org,
	                                   p_role, p_server_admin, 'cli')).id;
END $$;

CREATE FUNCTION identity_staff_list(p_staff bigint, p_org bigint, p_limit integer,
                                    p_cursor bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'items', coalesce(jsonb_agg(x.j ORDER BY x.id) FILTER (WHERE x.n <= p_limit),
		                  '[]'::jsonb),
		'next_cursor', CASE WHEN count(*) > p_limit
		               THEN (max(x.id) FILTER (WHERE x.n <= p_limit))::text END)
	FROM (SELECT s.id, row_number() OVER (ORDER BY s.id) AS n,
	             core.identity_staff_json(s, p_staff) AS j
	      FROM core.staff s
	      WHERE s.id > p_cursor AND EXISTS (
	            SELECT 1 FROM core.membership m
	            WHERE m.staff_id = s.id AND (p_org IS NULL OR m.org_id = p_org)
	              AND m.org_id IN (SELECT core.staff_orgs(
	                  p_staff, ARRAY['admin', 'coordinator']::core.staff_role[])))
	      ORDER BY s.id LIMIT p_limit + 1) x
$$;

-- --- Throttling password guesses ----------------------------------------

-- A random key of this instance, for the keyed hash that names throttle
-- rows: the rows never hold an email, and without the key nobody can tell
-- which email a row counts.
ALTER TABLE core.instance ADD COLUMN login_key bytea NOT NULL
	DEFAULT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');

-- Failed password checks per email, known to the server or not, so a
-- lock-out says nothing about which emails exist. Sign-in and the current
-- password of a password change count here alike.
CREATE TABLE core.login_throttle (
	key text PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
	failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
	locked_until timestamptz,
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_throttle_updated ON core.login_throttle (updated_at);

-- HMAC-SHA-256 (RFC 2104) of lower(email) under the instance's key, as hex.
CREATE FUNCTION identity_throttle_key(p_email text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
	k bytea;
	ipad bytea := decode(repeat('36', 64), 'hex');
	opad bytea := decode(repeat('5c', 64), 'hex');
BEGIN
	SELECT login_key INTO STRICT k FROM core.instance;
	IF length(k) > 64 THEN
		k := sha256(k);
	END IF;
	FOR i IN 0 .. length(k) - 1 LOOP
		ipad := set_byte(ipad, i, get_byte(k, i) # 54);
		opad := set_byte(opad, i, get_byte(k, i) # 92);
	END LOOP;
	RETURN encode(sha256(opad || sha256(ipad || convert_to(lower(p_email), 'UTF8'))), 'hex');
END $$;

-- Seconds a throttle row still makes callers wait, or NULL.
CREATE FUNCTION identity_throttle_wait(t core.login_throttle) RETURNS integer
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN t.locked_until > now()
	       THEN greatest(1, ceil(extract(epoch FROM t.locked_until - now())))::integer END
$$;

-- The throttle row of `key`, created if missing and locked FOR UPDATE until
-- the transaction ends, so concurrent checks of one email queue here and
-- each sees the count the previous one left.
CREATE FUNCTION identity_throttle_row(p_key text) RETURNS core.login_throttle
LANGUAGE sql AS $$
	INSERT INTO core.login_throttle AS t (key) VALUES (p_key)
	ON CONFLICT (key) DO UPDATE SET updated_at = t.updated_at
	RETURNING *
$$;

-- Counts one failed check of `key` (its row locked by identity_throttle_row):
-- from the `p_max`-th failure on, further checks must wait 2^(failures -
-- max) seconds, at most `p_cap`. Failures more than a day old are forgotten,
-- and a few forgotten rows are removed each time so the table stays small.
-- Returns the failure count.
CREATE FUNCTION identity_throttle_fail(t core.login_throttle, p_max integer, p_cap integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	v_failures integer;
BEGIN
	v_failures := CASE WHEN t.updated_at < now() - interval '1 day' THEN 0
	                   ELSE t.failures END + 1;
	UPDATE core.login_throttle SET
		failures = v_failures,
		locked_until = CASE WHEN v_failures >= p_max
			THEN now() + make_interval(secs => least(
				power(2, least(v_failures - p_max, 30)), p_cap)) END,
		updated_at = now()
	WHERE key = t.key;
	DELETE FROM core.login_throttle WHERE key IN (
		SELECT key FROM core.login_throttle
		WHERE updated_at < now() - interval '1 day' AND key <> t.key
		  AND (locked_until IS NULL OR locked_until < now())
		ORDER BY updated_at LIMIT 20 FOR UPDATE SKIP LOCKED);
	RETURN v_failures;
END $$;

-- --- Staff changes --------------------------------------------------------

-- The caller's own stored hash, to check a current password against, or
-- {"retry_after": s} when their email is locked by failed checks (audited).
CREATE FUNCTION identity_password_state(p_staff bigint, p_addr inet, p_rid text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	s core.staff;
	v_wait integer;
BEGIN
	SELECT * INTO s FROM core.staff WHERE id = p_staff;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT core.identity_throttle_wait(t) INTO v_wait FROM core.login_throttle t
	WHERE t.key = core.identity_throttle_key(s.email);
	IF v_wait IS NOT NULL THEN
		PERFORM core.identity_audit_staff(p_staff, p_staff, 'staff.password_locked', p_addr,
		                                  p_rid, '{}'::jsonb, false);
		RETURN jsonb_build_object('retry_after', v_wait);
	END IF;
	RETURN jsonb_build_object('hash', s.password_hash);
END $$;

-- A wrong current_password: counted on the caller's email like a failed
-- sign-in, and audited. {"retry_after": s} when the email is (or just was)
-- locked, else {}.
CREATE FUNCTION identity_password_fail(p_staff bigint, p_addr inet, p_rid text, p_max integer,
                                       p_cap integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	t core.login_throttle;
	v_failures integer;
BEGIN
	t := core.identity_throttle_row(core.identity_throttle_key(
		(SELECT email FROM core.staff WHERE id = p_staff)));
	IF core.identity_throttle_wait(t) IS NOT NULL THEN
		PERFORM core.identity_audit_staff(p_staff, p_staff, 'staff.password_locked', p_addr,
		                                  p_rid, '{}'::jsonb, false);
		RETURN jsonb_build_object('retry_after', core.identity_throttle_wait(t));
	END IF;
	v_failures := core.identity_throttle_fail(t, p_max, p_cap);
	PERFORM core.identity_audit_staff(p_staff, p_staff, 'staff.password_failed', p_addr, p_rid,
	                                  jsonb_build_object('failures', v_failures), false);
	RETURN '{}'::jsonb;
END $$;

-- Self may change their name and password (the caller verified the current
-- one off the loop and passes the new hash); whoever may manage the member
-- (identity_staff_manageable) may change the name and disable or enable the
-- account. An organisation keeps an enabled admin: disabling its last one
-- is refused like removing it (the target's organisations are locked first,
-- in id order, as member removal locks them). A new password or a disabled
-- account ends every API token and browser session of the member — for
-- one's own new password, all but the session it was made in
-- (`p_keep_session`, its selector, or NULL). A new password is refused
-- ({"retry_after": s}) while the member's email is locked by failed
-- checks. Audited for each organisation the member belongs to.
CREATE FUNCTION identity_staff_update(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                      p_name text, p_disabled boolean, p_hash text,
                                      p_keep_session text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	s core.staff;
	t core.login_throttle;
	fields text[] := '{}';
	v_tokens integer := 0;
	v_sessions integer := 0;
BEGIN
	IF p_staff IS NULL THEN
		RETURN NULL;
	END IF;
	IF p_staff <> p_id THEN
		PERFORM 1 FROM core.organisation o
		WHERE o.id IN (SELECT m.org_id FROM core.membership m WHERE m.staff_id = p_id)
		ORDER BY o.id FOR UPDATE;
		IF NOT core.identity_staff_manageable(p_staff, p_id) THEN
			RETURN NULL;
		END IF;
		IF p_hash IS NOT NULL THEN
			RAISE EXCEPTION 'core.invalid|password|Only staff members change their own password.'
				USING ERRCODE = 'WM422';
		END IF;
	ELSIF p_disabled THEN
		RAISE EXCEPTION 'core.invalid|disabled|You cannot disable your own account.'
			USING ERRCODE = 'WM422';
	END IF;
	SELECT * INTO s FROM core.staff WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF p_hash IS NOT NULL THEN
		t := core.identity_throttle_row(core.identity_throttle_key(s.email));
		IF core.identity_throttle_wait(t) IS NOT NULL THEN
			PERFORM core.identity_audit_staff(p_staff, p_id, 'staff.password_locked', p_addr,
			                                  p_rid, '{}'::jsonb, false);
			RETURN jsonb_build_object('retry_after', core.identity_throttle_wait(t));
		END IF;
		UPDATE core.login_throttle SET failures = 0, locked_until = NULL, updated_at = now()
		WHERE key = t.key;
	END IF;
	IF p_disabled AND s.disabled_at IS NULL AND EXISTS (
		SELECT 1 FROM core.membership m
		WHERE m.staff_id = p_id AND m.role = 'admin' AND NOT EXISTS (
			SELECT 1 FROM core.membership m2 JOIN core.staff s2 ON s2.id = m2.staff_id
			WHERE m2.org_id = m.org_id AND m2.role = 'admin' AND m2.staff_id <> p_id
			  AND s2.disabled_at IS NULL)) THEN
		RAISE EXCEPTION 'core.last_admin|disabled|An organisation must keep at least one enabled admin.'
			USING ERRCODE = 'WM409';
	END IF;
	IF p_name IS NOT NULL AND p_name <> s.display_name THEN
		fields := fields || 'display_name'::text;
	END IF;
	IF p_disabled IS NOT NULL AND p_disabled <> (s.disabled_at IS NOT NULL) THEN
		fields := fields || 'disabled'::text;
	END IF;
	IF p_hash IS NOT NULL THEN
		fields := fields || 'password'::text;
	END IF;
	UPDATE core.staff SET
		display_name = coalesce(p_name, display_name),
		disabled_at = CASE WHEN p_disabled IS NULL THEN disabled_at
		                   WHEN p_disabled THEN coalesce(disabled_at, now()) END,
		password_hash = coalesce(p_hash, password_hash),
		updated_at = CASE WHEN cardinality(fields) > 0 THEN now() ELSE updated_at END
	WHERE id = p_id RETURNING * INTO s;
	IF cardinality(fields) > 0 THEN
		PERFORM core.identity_audit_staff(p_staff, p_id, 'staff.update', p_addr, p_rid,
		                                  jsonb_build_object('fields', fields), false);
	END IF;
	IF p_hash IS NOT NULL OR p_disabled THEN
		WITH x AS (UPDATE core.api_token SET revoked_at = now()
		           WHERE staff_id = p_id AND revoked_at IS NULL RETURNING 1)
		SELECT count(*) INTO v_tokens FROM x;
		WITH x AS (UPDATE core.web_session SET revoked_at = now()
		           WHERE staff_id = p_id AND revoked_at IS NULL
		             AND (p_disabled IS TRUE OR p_staff <> p_id OR p_keep_session IS NULL
		                  OR selector <> p_keep_session)
		           RETURNING 1)
		SELECT count(*) INTO v_sessions FROM x;
		PERFORM core.identity_audit_staff(
			p_staff, p_id, 'staff.credentials_revoked', p_addr, p_rid,
			jsonb_build_object('reason', CASE WHEN p_disabled THEN 'disabled' ELSE 'password' END,
			                   'tokens', v_tokens, 'sessions', v_sessions), false);
	END IF;
	RETURN core.identity_staff_json(s, p_staff);
END $$;

-- --- API tokens ---------------------------------------------------------

CREATE FUNCTION identity_token_json(t core.api_token) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', t.id, 'name', t.name, 'created_at', core.identity_time(t.created_at),
		'last_used_at', core.identity_time(t.last_used_at),
		'expires_at', core.identity_time(t.expires_at),
		'revoked_at', core.identity_time(t.revoked_at))
$$;

-- Stores only the selector and the verifier's SHA-256; the caller shows the
-- secret once. Every token expires: after `p_days` (1..365, default 90). A
-- staff member holds at most 100 live tokens. The API passes the caller as
-- `p_staff` (the owner); the CLI and the demo, which act for nobody, pass
-- NULL, the owner as `p_owner` and what they are as `p_via`.
CREATE FUNCTION identity_token_create(p_staff bigint, p_addr inet, p_rid text, p_name text,
                                      p_selector text, p_hash text, p_days integer,
                                      p_owner bigint DEFAULT NULL, p_via text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	t core.api_token;
	v_owner bigint := coalesce(p_staff, p_owner);
	v_days integer := coalesce(p_days, 90);
BEGIN
	IF p_staff IS NOT NULL AND p_owner IS NOT NULL AND p_owner <> p_staff THEN
		RAISE EXCEPTION 'core.invalid||A token is created for oneself.' USING ERRCODE = 'WM422';
	END IF;
	IF v_days NOT BETWEEN 1 AND 365 THEN
		RAISE EXCEPTION 'core.out_of_range|expires_in_days|expires_in_days must be from 1 to 365.'
			USING ERRCODE = 'WM400';
	END IF;
	PERFORM 1 FROM core.staff WHERE id = v_owner AND disabled_at IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF EXISTS (SELECT 1 FROM core.api_token
	           WHERE staff_id = v_owner AND name = p_name AND revoked_at IS NULL) THEN
		RAISE EXCEPTION 'core.duplicate_name|name|You already have a token with this name.'
			USING ERRCODE = 'WM409';
	END IF;
	IF (SELECT count(*) FROM core.api_token
	    WHERE staff_id = v_owner AND revoked_at IS NULL
	      AND (expires_at IS NULL OR expires_at > now())) >= 100 THEN
		RAISE EXCEPTION 'core.too_many_tokens||You hold 100 tokens; revoke one first.'
			USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.api_token (staff_id, name, selector, verifier_hash, expires_at)
	VALUES (v_owner, p_name, p_selector, p_hash, now() + make_interval(days => v_days))
	RETURNING * INTO t;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, NULL, 'token.create', 'token', t.id, p_addr, p_rid,
	        jsonb_strip_nulls(jsonb_build_object(
	            'expires_in_days', v_days, 'via', p_via,
	            'staff_id', CASE WHEN p_staff IS NULL THEN v_owner END)));
	RETURN core.identity_token_json(t);
END $$;

-- --- Sign-in ------------------------------------------------------------

-- Before the password is checked: the account with this email (not
-- disabled) and its stored hash, or {"retry_after": s} when the email is
-- locked by failed attempts — known or not, so a lock-out does not say
-- which emails exist. Refusals are audited ('auth.login_locked').
CREATE FUNCTION identity_login_lookup(p_staff bigint, p_addr inet, p_rid text, p_email text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	s core.staff;
	v_wait integer;
BEGIN
	SELECT * INTO s FROM core.staff WHERE lower(email) = lower(p_email) AND disabled_at IS NULL;
	SELECT core.identity_throttle_wait(t) INTO v_wait FROM core.login_throttle t
	WHERE t.key = core.identity_throttle_key(p_email);
	IF v_wait IS NOT NULL THEN
		PERFORM core.identity_audit_staff(NULL, s.id, 'auth.login_locked', p_addr, p_rid,
		                                  jsonb_build_object('known_account', s.id IS NOT NULL),
		                                  true);
		RETURN jsonb_build_object('retry_after', v_wait);
	END IF;
	RETURN jsonb_build_object('staff_id', s.id, 'hash', s.password_hash);
END $$;

-- The password matched. The email's throttle row is locked and read again:
-- if attempts running meanwhile locked it, {"retry_after": s} exactly as
-- for a wrong password, and no session. A disabled account: NULL. Else the
-- failure count is reset, a browser session opened and who signed in
-- returned.
CREATE FUNCTION identity_login_succeed(p_staff bigint, p_addr inet, p_rid text, p_target bigint,
                                       p_email text, p_selector text, p_hash text,
                                       p_ttl integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	t core.login_throttle;
	v_expires timestamptz;
BEGIN
	t := core.identity_throttle_row(core.identity_throttle_key(p_email));
	IF core.identity_throttle_wait(t) IS NOT NULL THEN
		PERFORM core.identity_audit_staff(NULL, p_target, 'auth.login_locked', p_addr, p_rid,
		                                  jsonb_build_object('known_account', true), true);
		RETURN jsonb_build_object('retry_after', core.identity_throttle_wait(t));
	END IF;
	PERFORM 1 FROM core.staff WHERE id = p_target AND disabled_at IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	UPDATE core.login_throttle SET failures = 0, locked_until = NULL, updated_at = now()
	WHERE key = t.key;
	INSERT INTO core.web_session (staff_id, selector, verifier_hash, expires_at, remote_addr)
	VALUES (p_target, p_selector, p_hash, now() + make_interval(secs => p_ttl), p_addr)
	RETURNING expires_at INTO v_expires;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_target, NULL, 'auth.login', 'staff', p_target, p_addr, p_rid, '{}'::jsonb);
	RETURN jsonb_build_object('staff', core.identity_me_json(p_target),
	                          'expires_at', core.identity_time(v_expires));
END $$;

-- A failed sign-in, for a known account (`p_target`) or not: counted on the
-- email's throttle row (identity_throttle_fail) whether or not an account
-- has it, so unknown and known emails behave alike. {"retry_after": s} when
-- the row was locked meanwhile (not counted), else {}. Audited once without
-- an organisation and once for each organisation of a known account, so
-- its admins see attacks on their staff. The typed email is never stored:
-- people type passwords into the wrong box.
CREATE FUNCTION identity_login_fail(p_staff bigint, p_addr inet, p_rid text, p_target bigint,
                                    p_email text, p_max integer, p_cap integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	t core.login_throttle;
	v_failures integer;
BEGIN
	t := core.identity_throttle_row(core.identity_throttle_key(p_email));
	IF core.identity_throttle_wait(t) IS NOT NULL THEN
		PERFORM core.identity_audit_staff(NULL, p_target, 'auth.login_locked', p_addr, p_rid,
		                                  jsonb_build_object('known_account',
		                                                     p_target IS NOT NULL),
		                                  true);
		RETURN jsonb_build_object('retry_after', core.identity_throttle_wait(t));
	END IF;
	v_failures := core.identity_throttle_fail(t, p_max, p_cap);
	PERFORM core.identity_audit_staff(NULL, p_target, 'auth.login_failed', p_addr, p_rid,
	                                  jsonb_build_object('known_account', p_target IS NOT NULL,
	                                                     'failures', v_failures),
	                                  true);
	RETURN '{}'::jsonb;
END $$;
