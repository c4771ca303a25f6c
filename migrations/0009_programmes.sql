-- Programmes (with their staff), venues and rooms, closures: the routes of
-- core/api_programmes.c, api_venues.c and api_closures.c. Runs after 0008
-- with search_path = core, public.
--
-- Each route is one call of one function below: it checks scope, makes the
-- change, writes the audit row(s) and builds the JSON reply, in one
-- statement. Every function takes the request context first (staff, peer
-- address, request id) and returns NULL when the object is out of scope or
-- does not exist (the API answers 404, so ids reveal nothing). Rules refuse
-- with RAISE ... USING ERRCODE 'WM4xx' and a message "code|field|text".
--
-- The programme type (a loaded plugin) and the plugin's verdict on the
-- settings are checked in C before these run: the database does not know
-- which plugins are loaded.

CREATE INDEX venue_org_id ON venue (org_id, id);
CREATE INDEX closure_org_id ON closure (org_id, id);
CREATE INDEX session_closure ON session (closure_id) WHERE closure_id IS NOT NULL;
CREATE INDEX session_room_time ON session (room_id, starts_at) WHERE room_id IS NOT NULL;
CREATE INDEX session_venue_time ON session (venue_id, starts_at) WHERE venue_id IS NOT NULL;

-- --- Programmes ----------------------------------------------------------

-- How `staff` may reach programme `p`: core.programme_access, except that
-- the organisation's admins and coordinators still 'manage' an archived
-- programme (to read it, or bring it back).
CREATE FUNCTION programme_scope(p_staff bigint, p_programme bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
	WHEN core.has_role(p_staff, pr.org_id, ARRAY['admin', 'coordinator']::core.staff_role[])
		THEN 'manage'
	ELSE core.programme_access(p_staff, pr.id)
	END
	FROM core.programme pr WHERE pr.id = p_programme
$$;

CREATE FUNCTION programme_json(pr core.programme, p_access text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', pr.id, 'organisation_id', pr.org_id, 'type', pr.type, 'name', pr.name,
		'description', pr.description, 'time_zone', pr.time_zone, 'settings', pr.settings,
		'public_listing', pr.public_listing, 'archived', pr.archived_at IS NOT NULL,
		'archived_at', core.utc_text(pr.archived_at),
		'created_at', core.utc_text(pr.created_at), 'updated_at', core.utc_text(pr.updated_at),
		'version', pr.version, 'access', p_access)
$$;

-- Refuses a zone PostgreSQL does not know, naming the field.
CREATE FUNCTION programme_check_zone(p_tz text) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT core.valid_time_zone(p_tz) THEN
		RAISE EXCEPTION 'core.bad_time_zone|time_zone|time_zone must be an IANA time zone such as Europe/London.'
			USING ERRCODE = 'WM400';
	END IF;
END $$;

CREATE FUNCTION programme_create(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                                 p_type text, p_name text, p_description text, p_tz text,
                                 p_settings jsonb, p_public boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	pr core.programme;
BEGIN
	IF NOT core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	PERFORM core.programme_check_zone(coalesce(p_tz, 'Europe/London'));
	INSERT INTO core.programme (org_id, type, name, description, time_zone, settings,
	                            public_listing, created_by)
	VALUES (p_org, p_type, p_name, p_description, coalesce(p_tz, 'Europe/London'),
	        coalesce(p_settings, '{}'::jsonb), coalesce(p_public, false), p_staff)
	RETURNING * INTO pr;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'programme.create', 'programme', pr.id, p_addr, p_rid,
	        jsonb_build_object('type', pr.type, 'fields', jsonb_build_array(
	            'name', 'description', 'time_zone', 'settings', 'public_listing')));
	RETURN core.programme_json(pr, 'manage');
END $$;

-- Programmes the caller may see (any access), by id. Archived ones only
-- when asked (?archived=true), and then only to their managers.
CREATE FUNCTION programme_list(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                               p_type text, p_archived boolean, p_limit integer,
                               p_cursor bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	WITH rows AS (
		SELECT pr AS p, pr.id, core.programme_scope(p_staff, pr.id) AS access
		FROM core.programme pr
		WHERE pr.org_id IN (SELECT core.staff_orgs(p_staff, ARRAY['admin', 'coordinator',
		                    'facilitator', 'mentor', 'commissioner']::core.staff_role[]))
		  AND (p_org IS NULL OR pr.org_id = p_org)
		  AND (p_type IS NULL OR pr.type = p_type)
		  AND (pr.archived_at IS NOT NULL) = coalesce(p_archived, false)
		  AND (p_cursor IS NULL OR pr.id > p_cursor)
		  AND core.programme_scope(p_staff, pr.id) IS NOT NULL
		ORDER BY pr.id LIMIT p_limit + 1),
	page AS (SELECT * FROM rows ORDER BY id LIMIT p_limit)
	SELECT jsonb_build_object(
		'items', coalesce((SELECT jsonb_agg(core.programme_json(p, access) ORDER BY id)
		                   FROM page), '[]'::jsonb),
		'next_cursor', CASE WHEN (SELECT count(*) FROM rows) > p_limit
		                    THEN (SELECT max(id)::text FROM page) END)
$$;

CREATE FUNCTION programme_get(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT core.programme_json(pr, a.access)
	FROM core.programme pr, LATERAL (SELECT core.programme_scope(p_staff, pr.id) AS access) a
	WHERE pr.id = p_id AND a.access IS NOT NULL
$$;

-- The type of a programme the caller manages (NULL otherwise): what the
-- handler needs to ask the plugin about new settings before the update.
CREATE FUNCTION programme_type_for_update(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS text LANGUAGE sql STABLE AS $$
	SELECT pr.type FROM core.programme pr
	WHERE pr.id = p_id AND core.programme_scope(p_staff, pr.id) = 'manage'
$$;

-- PATCH /programmes/{id}: `p_patch` holds only the members the request set
-- (checked in C, settings already accepted by the plugin); JSON null clears
-- description. "archived": true/false archives or restores.
CREATE FUNCTION programme_update(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                 p_patch jsonb, p_version integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	pr core.programme;
	fields text[];
BEGIN
	SELECT * INTO pr FROM core.programme x WHERE x.id = p_id FOR UPDATE;
	IF NOT FOUND OR coalesce(core.programme_scope(p_staff, pr.id), '') <> 'manage' THEN
		RETURN NULL;
	END IF;
	IF p_version IS NOT NULL AND p_version <> pr.version THEN
		RAISE EXCEPTION 'core.stale|version|The programme has changed since version % (it is now version %).',
			p_version, pr.version USING ERRCODE = 'WM409';
	END IF;
	IF p_patch ? 'time_zone' THEN
		PERFORM core.programme_check_zone(p_patch->>'time_zone');
	END IF;
	SELECT array_agg(k ORDER BY k) INTO fields FROM jsonb_object_keys(p_patch) k;
	UPDATE core.programme SET
		name = CASE WHEN p_patch ? 'name' THEN p_patch->>'name' ELSE name END,
		description = CASE WHEN p_patch ? 'description' THEN p_patch->>'description'
		                   ELSE description END,
		time_zone = CASE WHEN p_patch ? 'time_zone' THEN p_patch->>'time_zone'
		                 ELSE time_zone END,
		settings = CASE WHEN p_patch ? 'settings' THEN p_patch->'settings' ELSE settings END,
		public_listing = CASE WHEN p_patch ? 'public_listing'
		                      THEN (p_patch->>'public_listing')::boolean
		                      ELSE public_listing END,
		archived_at = CASE WHEN NOT p_patch ? 'archived' THEN archived_at
		                   WHEN (p_patch->>'archived')::boolean
		                   THEN coalesce(archived_at, now()) END,
		version = version + 1,
		updated_at = now()
	WHERE id = pr.id
	RETURNING * INTO pr;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'programme.update', 'programme', pr.id, p_addr, p_rid,
	        jsonb_build_object('fields', to_jsonb(coalesce(fields, '{}'::text[]))));
	RETURN core.programme_json(pr, 'manage');
END $$;

CREATE FUNCTION programme_staff_json(ps core.programme_staff) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'programme_id', ps.programme_id, 'staff_id', ps.staff_id,
		'display_name', (SELECT s.display_name FROM core.staff s WHERE s.id = ps.staff_id),
		'role', ps.role, 'added_at', core.utc_text(ps.added_at))
$$;

-- Who runs a programme: its managers and the staff who run it may see.
CREATE FUNCTION programme_staff_list(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'programme_id', pr.id,
		'items', coalesce((SELECT jsonb_agg(core.programme_staff_json(ps)
		                                    ORDER BY ps.added_at, ps.staff_id, ps.role)
		                   FROM core.programme_staff ps WHERE ps.programme_id = pr.id),
		                  '[]'::jsonb),
		'next_cursor', NULL)
	FROM core.programme pr
	WHERE pr.id = p_id AND core.programme_scope(p_staff, pr.id) IN ('manage', 'run')
$$;

-- Refuses a change to an archived programme (PATCH may still restore it).
CREATE FUNCTION programme_refuse_archived(pr core.programme) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF pr.archived_at IS NOT NULL THEN
		RAISE EXCEPTION 'core.archived||This programme is archived; restore it first.'
			USING ERRCODE = 'WM409';
	END IF;
END $$;

-- Adds a member of the programme's organisation to its staff in `role`. A
-- staff member of another organisation is refused exactly as one that does
-- not exist (422 core.not_member), so ids cannot be probed.
CREATE FUNCTION programme_staff_add(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                    p_member bigint, p_role text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	pr core.programme;
	ps core.programme_staff;
BEGIN
	SELECT * INTO pr FROM core.programme x WHERE x.id = p_id FOR UPDATE;
	IF NOT FOUND OR coalesce(core.programme_scope(p_staff, pr.id), '') <> 'manage' THEN
		RETURN NULL;
	END IF;
	PERFORM core.programme_refuse_archived(pr);
	IF NOT EXISTS (SELECT 1 FROM core.membership m JOIN core.staff s ON s.id = m.staff_id
	               WHERE m.staff_id = p_member AND m.org_id = pr.org_id
	                 AND s.disabled_at IS NULL) THEN
		RAISE EXCEPTION 'core.not_member|staff_id|The staff member is not a member of the programme''s organisation.'
			USING ERRCODE = 'WM422';
	END IF;
	IF EXISTS (SELECT 1 FROM core.programme_staff x WHERE x.programme_id = pr.id
	           AND x.staff_id = p_member AND x.role = p_role::core.programme_role) THEN
		RAISE EXCEPTION 'core.conflict|staff_id|The staff member already has this role in the programme.'
			USING ERRCODE = 'WM409';
	END IF;
	IF (SELECT count(*) FROM core.programme_staff x WHERE x.programme_id = pr.id) >= 200 THEN
		RAISE EXCEPTION 'core.too_many|staff_id|A programme has at most 200 staff entries.'
			USING ERRCODE = 'WM422';
	END IF;
	INSERT INTO core.programme_staff (programme_id, staff_id, role, added_by)
	VALUES (pr.id, p_member, p_role::core.programme_role, p_staff)
	RETURNING * INTO ps;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'programme.add_staff', 'programme', pr.id, p_addr, p_rid,
	        jsonb_build_object('staff_id', p_member, 'role', p_role));
	RETURN core.programme_staff_json(ps);
END $$;

CREATE FUNCTION programme_staff_remove(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                       p_member bigint, p_role text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	pr core.programme;
BEGIN
	SELECT * INTO pr FROM core.programme x WHERE x.id = p_id FOR UPDATE;
	IF NOT FOUND OR coalesce(core.programme_scope(p_staff, pr.id), '') <> 'manage' THEN
		RETURN NULL;
	END IF;
	DELETE FROM core.programme_staff x
	WHERE x.programme_id = pr.id AND x.staff_id = p_member
	  AND x.role::text = p_role;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, pr.org_id, 'programme.remove_staff', 'programme', pr.id, p_addr, p_rid,
	        jsonb_build_object('staff_id', p_member, 'role', p_role));
	RETURN '{}'::jsonb;
END $$;

-- --- Venues and rooms ------------------------------------------------------

-- Admins and coordinators manage an organisation's venues; its
-- facilitators and mentors may read them (commissioners may not).
CREATE FUNCTION venue_reader(p_staff bigint, p_org bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT core.has_role(p_staff, p_org,
	                     ARRAY['admin', 'coordinator', 'facilitator', 'mentor']::core.staff_role[])
$$;

CREATE FUNCTION room_json(r core.room) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', r.id, 'venue_id', r.venue_id, 'name', r.name,
	                          'capacity', r.capacity, 'archived', r.archived_at IS NOT NULL)
$$;

-- A venue with its rooms (live ones, by id).
CREATE FUNCTION venue_json(v core.venue) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', v.id, 'organisation_id', v.org_id, 'name', v.name,
		'location_kind', v.location_kind, 'establishment', v.establishment,
		'public_name', v.public_name, 'address', v.address,
		'archived', v.archived_at IS NOT NULL, 'created_at', core.utc_text(v.created_at),
		'rooms', coalesce((SELECT jsonb_agg(core.room_json(r) ORDER BY r.id) FROM core.room r
		                   WHERE r.venue_id = v.id AND r.archived_at IS NULL), '[]'::jsonb))
$$;

-- A prison venue names its establishment (sessions there inherit it).
CREATE FUNCTION venue_check(v core.venue) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF v.location_kind = 'prison' AND v.establishment IS NULL THEN
		RAISE EXCEPTION 'core.establishment_required|establishment|A prison venue names its establishment.'
			USING ERRCODE = 'WM422';
	END IF;
END $$;

CREATE FUNCTION venue_create(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                             p_name text, p_kind text, p_establishment text,
                             p_public_name text, p_address text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	v core.venue;
BEGIN
	IF NOT core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	v.location_kind := p_kind::core.location_kind;
	v.establishment := p_establishment;
	PERFORM core.venue_check(v);
	INSERT INTO core.venue (org_id, name, location_kind, establishment, public_name, address,
	                        created_by)
	VALUES (p_org, p_name, p_kind::core.location_kind, p_establishment, p_public_name,
	        p_address, p_staff)
	RETURNING * INTO v;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'venue.create', 'venue', v.id, p_addr, p_rid,
	        jsonb_build_object('location_kind', p_kind, 'fields', jsonb_build_array(
	            'name', 'location_kind', 'establishment', 'public_name', 'address')));
	RETURN core.venue_json(v);
END $$;

CREATE FUNCTION venue_list(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                           p_archived boolean, p_limit integer, p_cursor bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	WITH rows AS (
		SELECT v AS vv, v.id FROM core.venue v
		WHERE v.org_id IN (SELECT core.staff_orgs(p_staff, ARRAY['admin', 'coordinator',
		                   'facilitator', 'mentor']::core.staff_role[]))
		  AND (p_org IS NULL OR v.org_id = p_org)
		  AND (v.archived_at IS NOT NULL) = coalesce(p_archived, false)
		  AND (p_cursor IS NULL OR v.id > p_cursor)
		ORDER BY v.id LIMIT p_limit + 1),
	page AS (SELECT * FROM rows ORDER BY id LIMIT p_limit)
	SELECT jsonb_build_object(
		'items', coalesce((SELECT jsonb_agg(core.venue_json(vv) ORDER BY id) FROM page),
		                  '[]'::jsonb),
		'next_cursor', CASE WHEN (SELECT count(*) FROM rows) > p_limit
		                    THEN (SELECT max(id)::text FROM page) END)
$$;

CREATE FUNCTION venue_get(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT core.venue_json(v) FROM core.venue v
	WHERE v.id = p_id AND core.venue_reader(p_staff, v.org_id)
$$;

-- PATCH /venues/{id}: `p_patch` holds only the members the request set;
-- JSON null clears establishment, public_name and address. Archiving a
-- venue that future scheduled sessions use is refused (409 core.in_use).
CREATE FUNCTION venue_update(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                             p_patch jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	v core.venue;
	fields text[];
BEGIN
	SELECT * INTO v FROM core.venue x WHERE x.id = p_id FOR UPDATE;
	IF NOT FOUND
	   OR NOT core.has_role(p_staff, v.org_id, ARRAY['admin', 'coordinator']::core.staff_role[])
	THEN
		RETURN NULL;
	END IF;
	IF coalesce((p_patch->>'archived')::boolean, false) AND v.archived_at IS NULL
	   AND EXISTS (SELECT 1 FROM core.session s WHERE s.venue_id = v.id
	               AND s.status = 'scheduled' AND s.ends_at > core.clock()) THEN
		RAISE EXCEPTION 'core.in_use|archived|Sessions to come are held at this venue: move or cancel them first.'
			USING ERRCODE = 'WM409';
	END IF;
	SELECT array_agg(k ORDER BY k) INTO fields FROM jsonb_object_keys(p_patch) k;
	UPDATE core.venue SET
		name = CASE WHEN p_patch ? 'name' THEN p_patch->>'name' ELSE name END,
		location_kind = CASE WHEN p_patch ? 'location_kind'
		                     THEN (p_patch->>'location_kind')::core.location_kind
		                     ELSE location_kind END,
		establishment = CASE WHEN p_patch ? 'establishment' THEN p_patch->>'establishment'
		                     ELSE establishment END,
		public_name = CASE WHEN p_patch ? 'public_name' THEN p_patch->>'public_name'
		                   ELSE public_name END,
		address = CASE WHEN p_patch ? 'address' THEN p_patch->>'address' ELSE address END,
		archived_at = CASE WHEN NOT p_patch ? 'archived' THEN archived_at
		                   WHEN (p_patch->>'archived')::boolean
		                   THEN coalesce(archived_at, now()) END
	WHERE id = v.id
	RETURNING * INTO v;
	PERFORM core.venue_check(v);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, v.org_id, 'venue.update', 'venue', v.id, p_addr, p_rid,
	        jsonb_build_object('fields', to_jsonb(coalesce(fields, '{}'::text[]))));
	RETURN core.venue_json(v);
END $$;

CREATE FUNCTION room_create(p_staff bigint, p_addr inet, p_rid text, p_venue bigint,
                            p_name text, p_capacity integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	v core.venue;
	r core.room;
BEGIN
	SELECT * INTO v FROM core.venue x WHERE x.id = p_venue FOR UPDATE;
	IF NOT FOUND
	   OR NOT core.has_role(p_staff, v.org_id, ARRAY['admin', 'coordinator']::core.staff_role[])
	THEN
		RETURN NULL;
	END IF;
	IF v.archived_at IS NOT NULL THEN
		RAISE EXCEPTION 'core.archived||This venue is archived; restore it first.'
			USING ERRCODE = 'WM409';
	END IF;
	IF EXISTS (SELECT 1 FROM core.room x WHERE x.venue_id = v.id AND x.name = p_name) THEN
		RAISE EXCEPTION 'core.conflict|name|The venue already has a room of this name (archived rooms keep theirs).'
			USING ERRCODE = 'WM409';
	END IF;
	IF (SELECT count(*) FROM core.room x WHERE x.venue_id = v.id) >= 200 THEN
		RAISE EXCEPTION 'core.too_many|name|A venue has at most 200 rooms.'
			USING ERRCODE = 'WM422';
	END IF;
	INSERT INTO core.room (venue_id, name, capacity) VALUES (v.id, p_name, p_capacity)
	RETURNING * INTO r;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, v.org_id, 'room.create', 'room', r.id, p_addr, p_rid,
	        jsonb_build_object('venue_id', v.id, 'fields', jsonb_build_array('name', 'capacity')));
	RETURN core.room_json(r);
END $$;

-- Archives a room (rooms are never deleted: past sessions name them). A
-- room that future scheduled sessions use is refused (409 core.in_use).
CREATE FUNCTION room_archive(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r core.room;
	v core.venue;
BEGIN
	SELECT * INTO r FROM core.room x WHERE x.id = p_id AND x.archived_at IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT * INTO v FROM core.venue x WHERE x.id = r.venue_id;
	IF NOT core.has_role(p_staff, v.org_id, ARRAY['admin', 'coordinator']::core.staff_role[])
	THEN
		RETURN NULL;
	END IF;
	IF EXISTS (SELECT 1 FROM core.session s WHERE s.room_id = r.id
	           AND s.status = 'scheduled' AND s.ends_at > core.clock()) THEN
		RAISE EXCEPTION 'core.in_use||Sessions to come are held in this room: move or cancel them first.'
			USING ERRCODE = 'WM409';
	END IF;
	UPDATE core.room SET archived_at = now() WHERE id = r.id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, v.org_id, 'room.archive', 'room', r.id, p_addr, p_rid,
	        jsonb_build_object('venue_id', v.id));
	RETURN '{}'::jsonb;
END $$;

-- --- Closures ------------------------------------------------------------

-- The closure that falls on a session of organisation `p_org` at venue
-- `p_venue` (NULL: none) starting at `p_at`, judged on the local date in
-- zone `p_tz` (the programme's): a 'skip' closure wins over a 'flag' one,
-- then the oldest. NULL when none does. Series expansion (0010) calls this
-- for each new instance.
CREATE FUNCTION closure_match(p_org bigint, p_venue bigint, p_at timestamptz, p_tz text)
RETURNS core.closure LANGUAGE sql STABLE AS $$
	SELECT c.* FROM core.closure c
	WHERE c.org_id = p_org AND (c.venue_id IS NULL OR c.venue_id = p_venue)
	  AND (p_at AT TIME ZONE p_tz)::date BETWEEN c.starts_on AND c.ends_on
	ORDER BY c.effect = 'skip' DESC, c.id
	LIMIT 1
$$;

CREATE FUNCTION closure_json(c core.closure) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id, 'organisation_id', c.org_id, 'venue_id', c.venue_id,
		'starts_on', c.starts_on, 'ends_on', c.ends_on, 'reason', c.reason,
		'effect', c.effect, 'created_at', core.utc_text(c.created_at),
		'created_by', c.created_by)
$$;

-- Scheduled sessions not yet started that closure `c` falls on: of its
-- organisation (and venue), starting on one of its dates in the
-- programme's zone. The window on starts_at (a day either side, for any
-- zone) lets the index on (org_id, starts_at) do the work.
CREATE FUNCTION closure_sessions(c core.closure) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
	SELECT s.id FROM core.session s JOIN core.programme pr ON pr.id = s.programme_id
	WHERE s.org_id = c.org_id AND (c.venue_id IS NULL OR s.venue_id = c.venue_id)
	  AND s.status = 'scheduled'
	  AND s.starts_at >= (c.starts_on - 1)::timestamp AT TIME ZONE 'UTC'
	  AND s.starts_at < (c.ends_on + 2)::timestamp AT TIME ZONE 'UTC'
	  AND s.starts_at >= core.clock()
	  AND (s.starts_at AT TIME ZONE pr.time_zone)::date BETWEEN c.starts_on AND c.ends_on
$$;

-- POST /closures: records the closure and applies it to the sessions it
-- falls on, in the same transaction. 'skip' cancels them (reason, SEQUENCE
-- bumped so calendars update; staff and seats freed by the session trigger,
-- cohort seats re-synced, bookings handed to core.booking_session_cancelled
-- when 0012 defines it); 'flag' marks them for a coordinator to decide.
CREATE FUNCTION closure_create(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                               p_venue bigint, p_starts date, p_ends date, p_reason text,
                               p_effect text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	c core.closure;
	ids bigint[];
	cohort bigint;
	sid bigint;
	has_booking_fn boolean;
BEGIN
	IF NOT core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[]) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	IF p_venue IS NOT NULL AND NOT EXISTS (SELECT 1 FROM core.venue v
	                                       WHERE v.id = p_venue AND v.org_id = p_org) THEN
		RAISE EXCEPTION 'core.not_found|venue_id|No such venue.' USING ERRCODE = 'WM404';
	END IF;
	IF p_ends < p_starts THEN
		RAISE EXCEPTION 'core.bad_range|ends_on|ends_on must not be before starts_on.'
			USING ERRCODE = 'WM422';
	END IF;
	IF p_ends - p_starts > 366 THEN
		RAISE EXCEPTION 'core.bad_range|ends_on|A closure lasts at most 367 days.'
			USING ERRCODE = 'WM422';
	END IF;
	INSERT INTO core.closure (org_id, venue_id, starts_on, ends_on, reason, effect, created_by)
	VALUES (p_org, p_venue, p_starts, p_ends, p_reason, p_effect, p_staff)
	RETURNING * INTO c;
	SELECT coalesce(array_agg(x ORDER BY x), '{}') INTO ids FROM core.closure_sessions(c) x;
	IF c.effect = 'skip' THEN
		UPDATE core.session s SET status = 'cancelled', cancel_reason = c.reason,
		       sequence = s.sequence + 1, updated_at = now()
		WHERE s.id = ANY (ids);
		BEGIN
			FOR cohort IN SELECT DISTINCT s.cohort_id FROM core.session s
			              WHERE s.id = ANY (ids) AND s.cohort_id IS NOT NULL LOOP
				PERFORM core.seat_sync_cohort(cohort);
			END LOOP;
		EXCEPTION WHEN exclusion_violation THEN
			RAISE EXCEPTION 'core.person_clash||Re-seating a cohort after the closure would put a participant in two sessions at once.'
				USING ERRCODE = 'WM409';
		END;
		-- The bookings of skipped sessions are cancelled too, with the
		-- caller as actor (0012 defines the function; looked up at run
		-- time, since this migration comes first).
		has_booking_fn := to_regprocedure(
			'core.booking_session_cancelled(bigint,bigint,inet,text)') IS NOT NULL;
		IF has_booking_fn THEN
			FOREACH sid IN ARRAY ids LOOP
				EXECUTE 'SELECT core.booking_session_cancelled($1, $2, $3, $4)'
					USING sid, p_staff, p_addr, p_rid;
			END LOOP;
		END IF;
	ELSE
		UPDATE core.session s SET closure_id = c.id, updated_at = now()
		WHERE s.id = ANY (ids);
	END IF;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, p_org, 'closure.create', 'closure', c.id, p_addr, p_rid,
	        jsonb_build_object('effect', c.effect, 'venue_id', c.venue_id,
	                           'sessions', cardinality(ids),
	                           'fields', jsonb_build_array('starts_on', 'ends_on', 'reason')));
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	SELECT p_staff, p_org, CASE c.effect WHEN 'skip' THEN 'session.cancel' ELSE 'session.flag' END,
	       'session', x, p_addr, p_rid,
	       jsonb_build_object('closure_id', c.id, 'fields',
	                          CASE c.effect WHEN 'skip'
	                          THEN jsonb_build_array('status', 'cancel_reason', 'sequence')
	                          ELSE jsonb_build_array('closure_id') END)
	FROM unnest(ids) x;
	RETURN core.closure_json(c) || jsonb_build_object(
		'skipped', CASE c.effect WHEN 'skip' THEN cardinality(ids) ELSE 0 END,
		'flagged', CASE c.effect WHEN 'flag' THEN cardinality(ids) ELSE 0 END);
END $$;

-- Closures of the caller's organisations (members but commissioners)
-- overlapping [from, to] when given; by id.
CREATE FUNCTION closure_list(p_staff bigint, p_addr inet, p_rid text, p_org bigint,
                             p_from date, p_to date, p_limit integer, p_cursor bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	WITH rows AS (
		SELECT c AS cc, c.id FROM core.closure c
		WHERE c.org_id IN (SELECT core.staff_orgs(p_staff, ARRAY['admin', 'coordinator',
		                   'facilitator', 'mentor']::core.staff_role[]))
		  AND (p_org IS NULL OR c.org_id = p_org)
		  AND (p_from IS NULL OR c.ends_on >= p_from)
		  AND (p_to IS NULL OR c.starts_on <= p_to)
		  AND (p_cursor IS NULL OR c.id > p_cursor)
		ORDER BY c.id LIMIT p_limit + 1),
	page AS (SELECT * FROM rows ORDER BY id LIMIT p_limit)
	SELECT jsonb_build_object(
		'items', coalesce((SELECT jsonb_agg(core.closure_json(cc) ORDER BY id) FROM page),
		                  '[]'::jsonb),
		'next_cursor', CASE WHEN (SELECT count(*) FROM rows) > p_limit
		                    THEN (SELECT max(id)::text FROM page) END)
$$;

-- DELETE /closures/{id}: the sessions it flagged lose the flag (or take
-- another flag closure that still falls on them); the ones it skipped stay
-- cancelled, for a coordinator to reinstate one by one.
CREATE FUNCTION closure_delete(p_staff bigint, p_addr inet, p_rid text, p_id bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c core.closure;
	unflagged integer;
BEGIN
	SELECT * INTO c FROM core.closure x WHERE x.id = p_id FOR UPDATE;
	IF NOT FOUND
	   OR NOT core.has_role(p_staff, c.org_id, ARRAY['admin', 'coordinator']::core.staff_role[])
	THEN
		RETURN NULL;
	END IF;
	UPDATE core.session s SET updated_at = now(), closure_id = (
		SELECT c2.id FROM core.closure c2 JOIN core.programme pr ON pr.id = s.programme_id
		WHERE c2.id <> c.id AND c2.effect = 'flag' AND c2.org_id = s.org_id
		  AND (c2.venue_id IS NULL OR c2.venue_id = s.venue_id)
		  AND (s.starts_at AT TIME ZONE pr.time_zone)::date BETWEEN c2.starts_on AND c2.ends_on
		ORDER BY c2.id LIMIT 1)
	WHERE s.closure_id = c.id;
	GET DIAGNOSTICS unflagged = ROW_COUNT;
	DELETE FROM core.closure WHERE id = c.id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
	                        remote_addr, request_id, detail)
	VALUES (p_staff, c.org_id, 'closure.delete', 'closure', c.id, p_addr, p_rid,
	        jsonb_build_object('effect', c.effect, 'venue_id', c.venue_id,
	                           'starts_on', c.starts_on, 'ends_on', c.ends_on,
	                           'unflagged', unflagged));
	RETURN '{}'::jsonb;
END $$;
