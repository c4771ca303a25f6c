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

-- The first organisation (lowest id) where `staff` is admin and `target` a
-- member: the one the audit row of a change to `target` names. NULL if none.
CREATE FUNCTION identity_staff_admin_org(p_staff bigint, p_target bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT min(m.org_id) FROM core.membership m
	WHERE m.staff_id = p_target
	  AND m.org_id IN (SELECT core.staff_orgs(p_staff, ARRAY['admin']::core.staff_role[]))
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
-- already manages (or the caller a server admin), so an admin cannot probe
-- or annex other organisations' staff.
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
	   OR NOT (core.identity_is_sa(p_staff)
	           OR core.identity_staff_admin_org(p_staff, p_target) IS NOT NULL) THEN
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
-- is not disabled; the organisation row is locked so two removals cannot
-- each believe the other admin remains.
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
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'membership.delete', 'staff', p_target, p_addr, p_rid,
	        jsonb_build_object('role', p_role));
	RETURN '{}'::jsonb;
END $$;

-- --- Staff --------------------------------------------------------------

-- `p_hash` is crypto_pwhash_str output computed off the event loop, or NULL.
CREATE FUNCTION identity_staff_create(p_staff bigint, p_addr inet, p_rid text, p_email text,
                                      p_name text, p_hash text, p_org bigint,
                                      p_role core.staff_role) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	s core.staff;
BEGIN
	IF NOT core.identity_org_admin(p_staff, p_org)
	   OR NOT EXISTS (SELECT 1 FROM core.organisation WHERE id = p_org) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	IF EXISTS (SELECT 1 FROM core.staff WHERE lower(email) = lower(p_email)) THEN
		RAISE EXCEPTION 'core.duplicate_email|email|A staff member with this email already exists.'
			USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.staff (email, display_name, password_hash)
	VALUES (p_email, p_name, p_hash) RETURNING * INTO s;
	INSERT INTO core.membership (staff_id, org_id, role, created_by)
	VALUES (s.id, p_org, p_role, p_staff);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'staff.create', 'staff', s.id, p_addr, p_rid,
	        jsonb_build_object('role', p_role, 'password', p_hash IS NOT NULL));
	RETURN core.identity_staff_json(s, p_staff);
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

-- Self may change their name and password (the caller verified the current
-- one off the loop and passes the new hash); an admin of an organisation the
-- member belongs to, or a server admin, may change the name and disable or
-- enable the account. A new password ends every other browser session
-- (`p_keep_session`: the selector of the caller's own, or NULL); disabling
-- ends them all.
CREATE FUNCTION identity_staff_update(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                      p_name text, p_disabled boolean, p_hash text,
                                      p_keep_session text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	s core.staff;
	v_org bigint;
	fields text[] := '{}';
BEGIN
	IF p_staff <> p_id THEN
		v_org := core.identity_staff_admin_org(p_staff, p_id);
		IF v_org IS NULL AND NOT core.identity_is_sa(p_staff) THEN
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
		failed_logins = CASE WHEN p_hash IS NULL THEN failed_logins ELSE 0 END,
		locked_until = CASE WHEN p_hash IS NULL THEN locked_until END,
		updated_at = CASE WHEN cardinality(fields) > 0 THEN now() ELSE updated_at END
	WHERE id = p_id RETURNING * INTO s;
	IF p_hash IS NOT NULL OR p_disabled THEN
		UPDATE core.web_session SET revoked_at = now()
		WHERE staff_id = p_id AND revoked_at IS NULL
		  AND (p_disabled OR selector IS DISTINCT FROM p_keep_session);
	END IF;
	IF cardinality(fields) > 0 THEN
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        remote_addr, request_id, detail)
		VALUES (p_staff, v_org, 'staff.update', 'staff', p_id, p_addr, p_rid,
		        jsonb_build_object('fields', fields));
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
-- secret once. A staff member holds at most 100 live tokens.
CREATE FUNCTION identity_token_create(p_staff bigint, p_addr inet, p_rid text, p_name text,
                                      p_selector text, p_hash text, p_days integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	t core.api_token;
BEGIN
	PERFORM 1 FROM core.staff WHERE id = p_staff FOR UPDATE;
	IF EXISTS (SELECT 1 FROM core.api_token
	           WHERE staff_id = p_staff AND name = p_name AND revoked_at IS NULL) THEN
		RAISE EXCEPTION 'core.duplicate_name|name|You already have a token with this name.'
			USING ERRCODE = 'WM409';
	END IF;
	IF (SELECT count(*) FROM core.api_token
	    WHERE staff_id = p_staff AND revoked_at IS NULL) >= 100 THEN
		RAISE EXCEPTION 'core.too_many_tokens||You hold 100 tokens; revoke one first.'
			USING ERRCODE = 'WM409';
	END IF;
	INSERT INTO core.api_token (staff_id, name, selector, verifier_hash, expires_at)
	VALUES (p_staff, p_name, p_selector, p_hash,
	        now() + make_interval(days => p_days))
	RETURNING * INTO t;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, NULL, 'token.create', 'token', t.id, p_addr, p_rid,
	        jsonb_build_object('expires', p_days IS NOT NULL));
	RETURN core.identity_token_json(t);
END $$;

-- --- Sign-in ------------------------------------------------------------

-- The password matched: unless the account was locked meanwhile (then
-- {"retry_after": s}) or disabled (NULL), reset the failure count, open a
-- browser session and return who signed in.
CREATE FUNCTION identity_login_succeed(p_staff bigint, p_addr inet, p_rid text, p_target bigint,
                                       p_selector text, p_hash text, p_ttl integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_until timestamptz;
	v_expires timestamptz;
BEGIN
	SELECT locked_until INTO v_until FROM core.staff
	WHERE id = p_target AND disabled_at IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF v_until > now() THEN
		RETURN jsonb_build_object('retry_after',
		                          greatest(1, ceil(extract(epoch FROM v_until - now())))::integer);
	END IF;
	UPDATE core.staff SET failed_logins = 0, locked_until = NULL WHERE id = p_target;
	INSERT INTO core.web_session (staff_id, selector, verifier_hash, expires_at, remote_addr)
	VALUES (p_target, p_selector, p_hash, now() + make_interval(secs => p_ttl), p_addr)
	RETURNING expires_at INTO v_expires;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_target, NULL, 'auth.login', 'staff', p_target, p_addr, p_rid, '{}'::jsonb);
	RETURN jsonb_build_object('staff', core.identity_me_json(p_target),
	                          'expires_at', core.identity_time(v_expires));
END $$;

-- A failed sign-in. For a known account (`p_target`) the failure count
-- rises and, from the `p_max`-th failure on, further tries must wait
-- 2^(failures - max) seconds, at most `p_cap`. The typed email is never
-- stored: people type passwords into the wrong box.
CREATE FUNCTION identity_login_fail(p_staff bigint, p_addr inet, p_rid text, p_target bigint,
                                    p_max integer, p_cap integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	v_failures integer;
BEGIN
	IF p_target IS NOT NULL THEN
		UPDATE core.staff SET
			failed_logins = failed_logins + 1,
			locked_until = CASE WHEN failed_logins + 1 >= p_max
				THEN now() + make_interval(secs => least(
					power(2, least(failed_logins + 1 - p_max, 30)), p_cap))
				ELSE locked_until END
		WHERE id = p_target RETURNING failed_logins INTO v_failures;
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (NULL, NULL, 'auth.login_failed', 'staff', p_target, p_addr, p_rid,
	        jsonb_build_object('known_account', p_target IS NOT NULL, 'failures', v_failures));
	RETURN '{}'::jsonb;
END $$;
