-- Calendar feeds (issue 6): subscribable iCalendar links per household,
-- mentor, facilitator and public programme listing. Runs after 0013 with
-- search_path = core, public.
--
-- A feed link is a bearer secret like an API token (core/secret.h): a
-- public selector finds the row, only the SHA-256 of the verifier is kept,
-- and C compares it in constant time. What a feed shows is decided here,
-- per audience, before any plugin sees it (hooks.md, calendar_render): the
-- rows carry only the redacted text, and the hook's JSON is built from the
-- same redacted values.
--
-- Last-Modified must also move when something leaves a feed without any
-- session row changing (a booking cancelled, a seat freed, a staff member
-- taken off, a household member removed). Statement-level triggers append
-- to calendar_revision; the feed takes the latest entry of its scopes.
-- Append-only on purpose: an upsert of one "latest" row per scope would make
-- every booking of a programme queue on one row lock.

CREATE TABLE calendar_feed (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,
	kind text NOT NULL CHECK (kind IN ('household', 'mentor', 'facilitator', 'programme')),
	household_id bigint REFERENCES household,
	staff_id bigint REFERENCES staff,
	programme_id bigint REFERENCES programme,
	variant text NOT NULL DEFAULT 'full' CHECK (variant IN ('full', 'busy')),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	token_selector text NOT NULL UNIQUE CHECK (token_selector ~ '^[A-Za-z0-9_-]{16}$'),
	token_hash text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	created_by bigint REFERENCES staff,
	created_at timestamptz NOT NULL DEFAULT now(),
	last_used_at timestamptz,
	revoked_at timestamptz,
	-- Moves on regeneration and revocation, and whenever the feed's content
	-- changes without a row's updated_at moving.
	revision_at timestamptz NOT NULL DEFAULT now(),
	CHECK ((kind = 'household') = (household_id IS NOT NULL)),
	CHECK ((kind IN ('mentor', 'facilitator')) = (staff_id IS NOT NULL)),
	CHECK ((kind = 'programme') = (programme_id IS NOT NULL))
);
CREATE INDEX calendar_feed_org ON calendar_feed (org_id, id);
CREATE INDEX calendar_feed_staff ON calendar_feed (staff_id) WHERE staff_id IS NOT NULL;

CREATE TABLE calendar_revision (
	scope text NOT NULL CHECK (scope IN ('person', 'household', 'staff', 'session', 'venue',
	                                     'cohort', 'programme')),
	scope_id bigint NOT NULL,
	revised_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calendar_revision_key ON calendar_revision (scope, scope_id, revised_at DESC);

-- Keeps the latest entry of each scope (and anything from the last hour):
-- for a periodic job.
CREATE FUNCTION calendar_revision_prune() RETURNS integer LANGUAGE sql AS $$
	WITH d AS (
		DELETE FROM core.calendar_revision r
		WHERE r.revised_at < now() - interval '1 hour'
		  AND EXISTS (SELECT 1 FROM core.calendar_revision n
		              WHERE n.scope = r.scope AND n.scope_id = r.scope_id
		                AND n.revised_at > r.revised_at)
		RETURNING 1)
	SELECT count(*)::integer FROM d
$$;

-- --- Revision triggers (statement level, transition tables) --------------

CREATE FUNCTION calendar_rev_person_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO core.calendar_revision (scope, scope_id)
		SELECT DISTINCT 'person', person_id FROM rev_new
		UNION SELECT DISTINCT 'session', session_id FROM rev_new;
	END IF;
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		INSERT INTO core.calendar_revision (scope, scope_id)
		SELECT DISTINCT 'person', person_id FROM rev_old
		UNION SELECT DISTINCT 'session', session_id FROM rev_old;
	END IF;
	RETURN NULL;
END $$;

CREATE FUNCTION calendar_rev_staff_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO core.calendar_revision (scope, scope_id)
		SELECT DISTINCT 'staff', staff_id FROM rev_new
		UNION SELECT DISTINCT 'session', session_id FROM rev_new;
	END IF;
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		INSERT INTO core.calendar_revision (scope, scope_id)
		SELECT DISTINCT 'staff', staff_id FROM rev_old
		UNION SELECT DISTINCT 'session', session_id FROM rev_old;
	END IF;
	RETURN NULL;
END $$;

CREATE FUNCTION calendar_rev_programme_staff() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO core.calendar_revision (scope, scope_id)
		SELECT DISTINCT 'staff', staff_id FROM rev_new;
	END IF;
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		INSERT INTO core.calendar_revision (scope, scope_id)
		SELECT DISTINCT 'staff', staff_id FROM rev_old;
	END IF;
	RETURN NULL;
END $$;

CREATE FUNCTION calendar_rev_household() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO core.calendar_revision (scope, scope_id)
		SELECT DISTINCT 'household', household_id FROM rev_new;
	END IF;
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		INSERT INTO core.calendar_revision (scope, scope_id)
		SELECT DISTINCT 'household', household_id FROM rev_old;
	END IF;
	RETURN NULL;
END $$;

-- Venues, rooms, cohorts and programmes have no column that moves when
-- their names change (or not one every writer keeps): any update counts.
CREATE FUNCTION calendar_rev_named() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO core.calendar_revision (scope, scope_id)
	SELECT DISTINCT TG_ARGV[0], (to_jsonb(n) ->> TG_ARGV[1])::bigint FROM rev_new n;
	RETURN NULL;
END $$;

-- A person's name shows in mentors' feeds (as initials).
CREATE FUNCTION calendar_rev_person_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO core.calendar_revision (scope, scope_id) VALUES ('person', NEW.id);
	RETURN NULL;
END $$;

-- is_participant decides whether a household's feed follows the person
-- (family members only): a change adds or removes their sessions.
CREATE TRIGGER calendar_rev_person_name
	AFTER UPDATE OF given_name, family_name, is_participant ON person
	FOR EACH ROW WHEN (OLD.given_name IS DISTINCT FROM NEW.given_name
	                   OR OLD.family_name IS DISTINCT FROM NEW.family_name
	                   OR OLD.is_participant IS DISTINCT FROM NEW.is_participant)
	EXECUTE FUNCTION calendar_rev_person_name();
CREATE TRIGGER calendar_rev_seat_ins AFTER INSERT ON seat REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_person_session();
CREATE TRIGGER calendar_rev_seat_upd AFTER UPDATE ON seat
	REFERENCING OLD TABLE AS rev_old NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_person_session();
CREATE TRIGGER calendar_rev_seat_del AFTER DELETE ON seat REFERENCING OLD TABLE AS rev_old
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_person_session();
CREATE TRIGGER calendar_rev_booking_ins AFTER INSERT ON booking
	REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_person_session();
CREATE TRIGGER calendar_rev_booking_upd AFTER UPDATE ON booking
	REFERENCING OLD TABLE AS rev_old NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_person_session();
CREATE TRIGGER calendar_rev_booking_del AFTER DELETE ON booking
	REFERENCING OLD TABLE AS rev_old
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_person_session();
CREATE TRIGGER calendar_rev_sstaff_ins AFTER INSERT ON session_staff
	REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_staff_session();
CREATE TRIGGER calendar_rev_sstaff_upd AFTER UPDATE ON session_staff
	REFERENCING OLD TABLE AS rev_old NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_staff_session();
CREATE TRIGGER calendar_rev_sstaff_del AFTER DELETE ON session_staff
	REFERENCING OLD TABLE AS rev_old
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_staff_session();
CREATE TRIGGER calendar_rev_pstaff_ins AFTER INSERT ON programme_staff
	REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_programme_staff();
CREATE TRIGGER calendar_rev_pstaff_upd AFTER UPDATE ON programme_staff
	REFERENCING OLD TABLE AS rev_old NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_programme_staff();
CREATE TRIGGER calendar_rev_pstaff_del AFTER DELETE ON programme_staff
	REFERENCING OLD TABLE AS rev_old
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_programme_staff();
-- A staff feed keeps to the organisations where its owner holds the role.
CREATE TRIGGER calendar_rev_membership_ins AFTER INSERT ON membership
	REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_programme_staff();
CREATE TRIGGER calendar_rev_membership_upd AFTER UPDATE ON membership
	REFERENCING OLD TABLE AS rev_old NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_programme_staff();
CREATE TRIGGER calendar_rev_membership_del AFTER DELETE ON membership
	REFERENCING OLD TABLE AS rev_old
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_programme_staff();
CREATE TRIGGER calendar_rev_hhm_ins AFTER INSERT ON household_member
	REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_household();
CREATE TRIGGER calendar_rev_hhm_upd AFTER UPDATE ON household_member
	REFERENCING OLD TABLE AS rev_old NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_household();
CREATE TRIGGER calendar_rev_hhm_del AFTER DELETE ON household_member
	REFERENCING OLD TABLE AS rev_old
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_household();
CREATE TRIGGER calendar_rev_venue AFTER UPDATE ON venue REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_named('venue', 'id');
CREATE TRIGGER calendar_rev_room AFTER UPDATE ON room REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_named('venue', 'venue_id');
CREATE TRIGGER calendar_rev_cohort AFTER UPDATE ON cohort REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_named('cohort', 'id');
CREATE FUNCTION calendar_rev_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO core.calendar_revision (scope, scope_id)
	SELECT DISTINCT 'programme', x.pid
	FROM rev_old o JOIN rev_new n ON n.id = o.id,
	     LATERAL (VALUES (o.programme_id), (n.programme_id)) x(pid)
	WHERE (o.starts_at, o.status, o.programme_id, o.anchor_person_id)
	      IS DISTINCT FROM (n.starts_at, n.status, n.programme_id, n.anchor_person_id);
	RETURN NULL;
END $$;
CREATE TRIGGER calendar_rev_session AFTER UPDATE ON session
	REFERENCING OLD TABLE AS rev_old NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_session();
CREATE TRIGGER calendar_rev_programme AFTER UPDATE ON programme REFERENCING NEW TABLE AS rev_new
	FOR EACH STATEMENT EXECUTE FUNCTION calendar_rev_named('programme', 'id');

-- --- Rows of a feed ------------------------------------------------------

-- Times for C: whole seconds since the epoch, UTC instants as they are and
-- local times as wall-clock seconds (read as if UTC); C formats them
-- (to_char cost more than everything else in a 10 000-event feed).
CREATE FUNCTION feed_stamp(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT floor(date_part('epoch', t))::bigint::text
$$;

CREATE FUNCTION feed_local(t timestamp) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT floor(date_part('epoch', t))::bigint::text
$$;

-- The UTC offset of zone `tz` at instant `t`.
CREATE FUNCTION feed_offset(t timestamptz, tz text) RETURNS interval LANGUAGE sql STABLE AS $$
	SELECT (t AT TIME ZONE tz) - (t AT TIME ZONE 'UTC')
$$;

-- A derived moment for Last-Modified, never later than now (the test clock
-- may run ahead); NULL stays NULL (least() would turn it into now()).
CREATE FUNCTION feed_capped(t timestamptz) RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN t IS NOT NULL THEN least(t, now()) END
$$;

-- What a mentor's feed shows of who comes to session `p_session`: the
-- initials of the people seated or booked ("J.S. A.B."), never names.
CREATE FUNCTION feed_initials(p_session bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT string_agg(upper(left(p.given_name, 1)) || '.' || upper(left(p.family_name, 1)) || '.',
	                  ' ' ORDER BY p.family_name, p.given_name, p.id)
	FROM core.person p
	WHERE p.id IN (SELECT st.person_id FROM core.seat st
	               WHERE st.session_id = p_session AND st.active
	               UNION
	               SELECT b.person_id FROM core.booking b
	               WHERE b.session_id = p_session AND b.status IN ('booked', 'offered'))
$$;

-- What a facilitator's feed shows of who comes: a count.
CREATE FUNCTION feed_expected(p_session bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT count(*) FROM core.seat st WHERE st.session_id = p_session AND st.active
$$;

-- The events for sessions `p_ids` (or, when p_programme is given, the first
-- p_max sessions of that programme within the window, read straight off
-- its index: the public listing is the one feed that can be large) as
-- `p_audience` ('family', 'mentor', 'facilitator', 'public') may see them,
-- or as busy blocks. One row per series emitted whole (o_t 'S': every
-- instance within [p_from, p_to) is shown, so the series becomes one
-- RRULE), one per session (o_t 'E', in no particular order: C sorts), and
-- one 'R' row whose o_x2 is the latest change (epoch seconds) of anything
-- shown or just dropped. Cancelled one-offs stay for p_grace days after the
-- cancellation (updated_at, so measured with now(), not the test clock).
-- Texts are preformatted here so C only copies them: o_start/o_end are
-- local times in o_tz, o_recur/o_rend the instance's place in its series'
-- rule. o_hook is the calendar_render event (hooks.md) for programme types
-- in p_hooks, built from the same redacted values.
--
-- One 'D' row carries (o_x1) a digest of every input of the bytes, taken in
-- the same snapshot as the rows and without building any text: p_salt (the
-- caller's share: feed id, name, variant, zone ...), the sessions shown
-- (id and row version, so any change to a session row counts, and whether a
-- cancelled one is still within its grace period), which series are shown
-- whole, the row versions of their programmes, series, venues, rooms and
-- cohorts, and for staff audiences the initials or counts shown. The window
-- moving is seen as the set of sessions changing. When the digest equals
-- p_known, the 'S' and 'E' rows are left out and o_status is 'same': the
-- caller still has the bytes of that digest (core/feed_cache.c).
CREATE FUNCTION feed_emit(p_audience text, p_busy boolean, p_ids bigint[], p_programme bigint,
                          p_max integer, p_from timestamptz, p_to timestamptz,
                          p_series boolean, p_grace integer, p_hooks text[],
                          p_salt text DEFAULT '', p_known text DEFAULT NULL)
RETURNS TABLE (o_t text, o_id bigint, o_series bigint, o_status text, o_seq integer,
               o_stamp text, o_start text, o_end text, o_recur text, o_rend text, o_tz text,
               o_summary text, o_location text, o_description text, o_hook text, o_x1 text,
               o_x2 text)
LANGUAGE sql STABLE AS $$
	WITH sel AS (
		SELECT x.* FROM core.session x
		WHERE p_programme IS NULL AND x.id IN (SELECT unnest(p_ids))
		UNION ALL
		(SELECT x.* FROM core.session x
		 WHERE x.programme_id = p_programme AND x.starts_at >= p_from AND x.starts_at < p_to
		   AND x.anchor_person_id IS NULL
		 ORDER BY x.starts_at, x.id LIMIT p_max)
	), k AS MATERIALIZED (
		-- The same sessions (same snapshot), only the keys: what the digest
		-- and Last-Modified need, so an unchanged feed never reads the rest.
		SELECT x.id, x.xmin AS xv, x.status, x.updated_at, x.starts_at, x.series_id,
		       x.venue_id, x.room_id, x.cohort_id, x.programme_id AS pid
		FROM core.session x
		WHERE p_programme IS NULL AND x.id IN (SELECT unnest(p_ids))
		UNION ALL
		(SELECT x.id, x.xmin, x.status, x.updated_at, x.starts_at, x.series_id, x.venue_id,
		        x.room_id, x.cohort_id, x.programme_id
		 FROM core.session x
		 WHERE x.programme_id = p_programme AND x.starts_at >= p_from AND x.starts_at < p_to
		   AND x.anchor_person_id IS NULL
		 ORDER BY x.starts_at, x.id LIMIT p_max)
	), s AS (
		SELECT x.id, x.series_id, x.status, x.sequence, x.updated_at, x.starts_at, x.ends_at,
		       x.recurrence_id, x.title, x.module, x.catch_up, x.venue_id, x.room_id,
		       x.cohort_id, pr.id AS pid, pr.type AS ptype, pr.name AS pname,
		       coalesce(sr.time_zone, pr.time_zone) AS tz, sr.duration
		FROM sel x
		JOIN core.programme pr ON pr.id = x.programme_id
		LEFT JOIN core.series sr ON sr.id = x.series_id
	), whole AS MATERIALIZED (
		SELECT k.series_id AS wid FROM k
		WHERE p_series AND k.series_id IS NOT NULL
		GROUP BY k.series_id
		HAVING count(*) FILTER (WHERE k.status = 'scheduled') > 0
		   AND count(*) = (SELECT count(*) FROM core.session x
		                   WHERE x.series_id = k.series_id AND x.starts_at >= p_from
		                     AND x.starts_at < p_to)
	), folds AS MATERIALIZED (
		-- Where each zone's clocks go back within the sessions' span: UTC
		-- [a, b) holds the instants whose local time happens twice. A
		-- session starting or ending there is written in UTC: with a TZID
		-- a client would take the first of the two (RFC 5545 3.3.5).
		-- Days whose offset drops, then the hour it drops in.
		SELECT z.tz, h.h - (core.feed_offset(h.h - interval '1 hour', z.tz)
		                    - core.feed_offset(h.h, z.tz)) AS a,
		       h.h + (core.feed_offset(h.h - interval '1 hour', z.tz)
		              - core.feed_offset(h.h, z.tz)) AS b
		FROM (SELECT z.tz, d.d
		      FROM (SELECT s.tz, min(s.starts_at) AS lo, max(s.ends_at) AS hi FROM s
		            GROUP BY s.tz) z,
		      LATERAL generate_series(date_trunc('day', z.lo, 'UTC'), z.hi, interval '1 day') d(d)
		      WHERE core.feed_offset(d.d, z.tz) > core.feed_offset(d.d + interval '1 day', z.tz)
		      OFFSET 0) z,
		LATERAL generate_series(z.d + interval '1 hour', z.d + interval '1 day',
		                        interval '1 hour') h(h)
		WHERE core.feed_offset(h.h - interval '1 hour', z.tz) > core.feed_offset(h.h, z.tz)
	), ev AS (
		SELECT s.*, w.wid, a.amb IS NOT NULL AS amb
		FROM s LEFT JOIN whole w ON w.wid = s.series_id
		-- A join, not an EXISTS in the select list: the three uses of amb
		-- below would each run the subquery again.
		LEFT JOIN LATERAL (SELECT true AS amb FROM folds f
		                   WHERE f.tz = s.tz AND ((s.starts_at >= f.a AND s.starts_at < f.b)
		                                          OR (s.ends_at >= f.a AND s.ends_at < f.b))
		                   LIMIT 1) a ON true
		WHERE w.wid IS NOT NULL OR s.status = 'scheduled'
		   OR s.updated_at > now() - make_interval(days => p_grace)
	), vn AS MATERIALIZED (
		-- Names by id, in memory: as plain joins the planner (guessing a
		-- few sessions) rescans the tables once per session.
		SELECT x.id, x.name, x.public_name FROM core.venue x
		WHERE x.id IN (SELECT k.venue_id FROM k)
	), rm AS MATERIALIZED (
		SELECT x.id, x.name FROM core.room x WHERE x.id IN (SELECT k.room_id FROM k)
	), co AS MATERIALIZED (
		SELECT x.id, x.name FROM core.cohort x WHERE x.id IN (SELECT k.cohort_id FROM k)
	), txt AS (
		SELECT ev.*,
		       CASE WHEN NOT p_busy AND p_audience = 'mentor' THEN core.feed_initials(ev.id)
		       END AS initials,
		       CASE WHEN NOT p_busy AND p_audience = 'facilitator'
		            THEN core.feed_expected(ev.id) END AS expected,
		       v.name AS vname, v.public_name AS vpublic, r.name AS rname, c.name AS cname
		FROM ev
		LEFT JOIN vn v ON v.id = ev.venue_id
		LEFT JOIN rm r ON r.id = ev.room_id
		LEFT JOIN co c ON c.id = ev.cohort_id
	), dig AS MATERIALIZED (
		-- The digest of everything the bytes are made of (see above), from
		-- the same snapshot as the rows: no text is built for it.
		SELECT md5(concat_ws('|', p_salt, p_audience, p_busy, p_series, p_grace, p_hooks::text,
			(SELECT count(*) || ':' || coalesce(bit_xor(hashint8extended(s.id,
			            s.xv::text::bigint
			            + CASE WHEN s.status <> 'scheduled'
			                    AND s.updated_at > now() - make_interval(days => p_grace)
			                   THEN 4294967296 ELSE 0 END)), 0) FROM k s),
			(SELECT string_agg(w.wid::text, ',' ORDER BY w.wid) FROM whole w),
			-- A series master's SEQUENCE and DTSTAMP count its cancelled
			-- instances, some of which may lie before the window.
			(SELECT count(*) || ':' || coalesce(max(c.updated_at)::text, '')
			 FROM core.session c
			 WHERE c.series_id IN (SELECT w.wid FROM whole w) AND c.status = 'cancelled'),
			(SELECT bit_xor(hashint8extended(x.id, x.xmin::text::bigint)) FROM core.programme x
			 WHERE x.id IN (SELECT s.pid FROM k s)),
			(SELECT bit_xor(hashint8extended(x.id, x.xmin::text::bigint)) FROM core.series x
			 WHERE x.id IN (SELECT s.series_id FROM k s)),
			(SELECT bit_xor(hashint8extended(x.id, x.xmin::text::bigint)) FROM core.venue x
			 WHERE x.id IN (SELECT s.venue_id FROM k s)),
			(SELECT bit_xor(hashint8extended(x.id, x.xmin::text::bigint)) FROM core.room x
			 WHERE x.id IN (SELECT s.room_id FROM k s)),
			(SELECT bit_xor(hashint8extended(x.id, x.xmin::text::bigint)) FROM core.cohort x
			 WHERE x.id IN (SELECT s.cohort_id FROM k s)),
			CASE WHEN NOT p_busy AND p_audience = 'mentor' THEN (
				SELECT bit_xor(hashtext(s.id || ':' || coalesce(core.feed_initials(s.id), '')))
				FROM k s) END,
			CASE WHEN NOT p_busy AND p_audience = 'facilitator' THEN (
				SELECT bit_xor(hashint8extended(s.id, core.feed_expected(s.id))) FROM k s) END))
			AS d
	), fresh AS (
		SELECT p_known IS NOT NULL AND p_known = (SELECT d FROM dig) AS same
	)
	SELECT 'S', sr.id, sr.id, 'scheduled', sr.sequence + cx.n,
	       core.feed_stamp(greatest(sr.updated_at, cx.at)),
	       core.feed_local(f.first AT TIME ZONE sr.time_zone),
	       core.feed_local((f.first AT TIME ZONE sr.time_zone) + sr.duration),
	       NULL, NULL, sr.time_zone, NULL, NULL, NULL, NULL, sr.rrule,
	       core.feed_stamp((((f.last AT TIME ZONE sr.time_zone)::date + 1)::timestamp
	                        - interval '1 second') AT TIME ZONE sr.time_zone)
	FROM (SELECT s.series_id, min(s.recurrence_id) AS first, max(s.recurrence_id) AS last
	      FROM s JOIN whole w ON w.wid = s.series_id GROUP BY s.series_id) f
	JOIN core.series sr ON sr.id = f.series_id
	-- Each cancelled instance up to the last one shown is an EXDATE of the
	-- master: a change to it (ICAL.md D4). Only grows as the window moves.
	CROSS JOIN LATERAL (SELECT count(*)::integer AS n, max(c.updated_at) AS at
	                    FROM core.session c
	                    WHERE c.series_id = sr.id AND c.status = 'cancelled'
	                      AND c.recurrence_id <= f.last) cx
	WHERE NOT (SELECT same FROM fresh)
	UNION ALL
	SELECT 'E', t.id, t.wid, t.status::text, t.sequence, core.feed_stamp(t.updated_at),
	       CASE WHEN t.amb THEN core.feed_stamp(t.starts_at)
	            ELSE core.feed_local(t.starts_at AT TIME ZONE t.tz) END,
	       CASE WHEN t.amb THEN core.feed_stamp(t.ends_at)
	            ELSE core.feed_local(t.ends_at AT TIME ZONE t.tz) END,
	       core.feed_local(t.recurrence_id AT TIME ZONE t.tz),
	       core.feed_local((t.recurrence_id AT TIME ZONE t.tz) + t.duration),
	       CASE WHEN t.amb THEN '-utc' ELSE t.tz END,
	       CASE WHEN p_busy THEN NULL
	            WHEN p_audience = 'mentor' THEN t.title || coalesce(' — ' || t.initials, '')
	            WHEN p_audience = 'facilitator'
	                THEN coalesce(t.cname || ': ', '') || coalesce(t.module, t.title)
	            ELSE t.title END,
	       CASE WHEN p_busy THEN NULL
	            WHEN p_audience IN ('mentor', 'facilitator')
	                THEN t.vname || coalesce(', ' || t.rname, '')
	            ELSE t.vpublic END,
	       CASE WHEN p_busy THEN NULL
	            WHEN p_audience = 'mentor' THEN t.pname
	            WHEN p_audience = 'facilitator'
	                THEN t.pname || coalesce(E'\nModule: ' || t.module, '')
	                     || E'\nExpected: ' || t.expected
	            END,
	       CASE WHEN NOT p_busy AND t.ptype = ANY (p_hooks) THEN jsonb_build_object(
	           'audience', p_audience,
	           'programme', jsonb_build_object('id', t.pid, 'type', t.ptype, 'name', t.pname),
	           'session', jsonb_build_object('id', t.id, 'title', t.title, 'module', t.module,
	                                         'catch_up', t.catch_up, 'status', t.status),
	           'cohort', CASE WHEN p_audience = 'facilitator' AND t.cohort_id IS NOT NULL
	                          THEN jsonb_build_object('id', t.cohort_id, 'name', t.cname)
	                     END,
	           'participants', CASE WHEN p_audience = 'mentor'
	                                THEN coalesce(to_jsonb(string_to_array(t.initials, ' ')),
	                                              '[]'::jsonb)
	                           END)::text
	       END,
	       t.ptype, NULL::text
	FROM txt t
	WHERE NOT (SELECT same FROM fresh)
	UNION ALL
	-- The digest: o_x1, and o_status 'same' when it is p_known (the rows
	-- above were then left out: the caller has the bytes).
	SELECT 'D', NULL, NULL, CASE WHEN (SELECT same FROM fresh) THEN 'same' ELSE 'new' END,
	       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	       (SELECT d FROM dig), NULL
	UNION ALL
	-- Last-Modified's share from the sessions: their rows (a cancelled one
	-- that left after its grace period counts from when it left), their
	-- series, and what they show that has no updated_at of its own (venue,
	-- cohort and programme names; for staff feeds, who is booked).
	SELECT 'R', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	       NULL, NULL, floor(extract(epoch FROM greatest(
		(SELECT max(CASE WHEN s.status = 'cancelled'
		                  AND s.updated_at + make_interval(days => p_grace) <= now()
		                 THEN s.updated_at + make_interval(days => p_grace)
		                 ELSE s.updated_at END) FROM k s),
		(SELECT max(sr.updated_at) FROM core.series sr
		 WHERE sr.id IN (SELECT s.series_id FROM k s)),
		(SELECT max(r.revised_at) FROM core.calendar_revision r
		 WHERE r.scope = 'venue' AND r.scope_id IN (SELECT DISTINCT s.venue_id FROM k s)),
		(SELECT max(r.revised_at) FROM core.calendar_revision r
		 WHERE r.scope = 'cohort' AND r.scope_id IN (SELECT DISTINCT s.cohort_id FROM k s)),
		(SELECT max(r.revised_at) FROM core.calendar_revision r
		 WHERE r.scope = 'programme' AND r.scope_id IN (SELECT DISTINCT s.pid FROM k s)),
		(SELECT max(r.revised_at) FROM core.calendar_revision r
		 WHERE p_audience IN ('mentor', 'facilitator') AND r.scope = 'session'
		   AND r.scope_id IN (SELECT s.id FROM k s)),
		-- A mentor sees initials: the names of whoever is seated or booked.
		(SELECT max(r.revised_at) FROM core.calendar_revision r
		 WHERE p_audience = 'mentor' AND r.scope = 'person' AND r.scope_id IN (
		     SELECT st.person_id FROM core.seat st WHERE st.session_id IN (SELECT s.id FROM k s)
		     UNION SELECT b.person_id FROM core.booking b
		     WHERE b.session_id IN (SELECT s.id FROM k s))),
		-- The window's far end moves on: the latest session came into view
		-- that long before it starts.
		CASE WHEN isfinite(p_to) THEN (SELECT core.feed_capped(max(s.starts_at)
		                                                       - (p_to - core.clock()))
		                               FROM k s) END)))::bigint::text
$$;

-- Whoever holds the link of feed `f`: the sessions it shows within
-- [p_from, p_to), at most p_max of them, in time order. NULL when the feed
-- no longer shows anything at all (programme unlisted or archived, staff
-- member disabled).
CREATE FUNCTION feed_sessions(f core.calendar_feed, p_from timestamptz, p_to timestamptz,
                              p_max integer) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
	ids bigint[];
BEGIN
	IF f.kind = 'programme' THEN
		IF NOT EXISTS (SELECT 1 FROM core.programme pr
		               WHERE pr.id = f.programme_id AND pr.public_listing
		                 AND pr.archived_at IS NULL) THEN
			RETURN NULL;
		END IF;
		SELECT array_agg(x.id ORDER BY x.starts_at, x.id) INTO ids FROM (
			SELECT s.id, s.starts_at FROM core.session s
			WHERE s.programme_id = f.programme_id AND s.anchor_person_id IS NULL
			  AND s.starts_at >= p_from
			  AND s.starts_at < p_to
			ORDER BY s.starts_at, s.id LIMIT p_max) x;
	ELSIF f.kind = 'household' THEN
		-- Live bookings and active seats of the household's family members
		-- (not its participants: a family must not see the course, visits
		-- or appointments of someone in the justice system, only what the
		-- family itself goes to, such as a family day or a graduation), in
		-- the household's organisation; and the cancelled sessions they
		-- were booked on or expected at.
		SELECT array_agg(x.id ORDER BY x.starts_at, x.id) INTO ids FROM (
			SELECT s.id, s.starts_at FROM core.session s
			WHERE s.org_id = f.org_id AND s.starts_at >= p_from AND s.starts_at < p_to
			  AND s.id IN (
				SELECT st.session_id FROM core.household_member hm
				JOIN core.person p ON p.id = hm.person_id AND NOT p.is_participant
				JOIN core.seat st ON st.person_id = hm.person_id
				JOIN core.session s2 ON s2.id = st.session_id
				WHERE hm.household_id = f.household_id
				  AND (st.active OR (s2.status = 'cancelled' AND st.source = 'enrolment'))
				UNION
				SELECT b.session_id FROM core.household_member hm
				JOIN core.person p ON p.id = hm.person_id AND NOT p.is_participant
				JOIN core.booking b ON b.person_id = hm.person_id
				JOIN core.session s2 ON s2.id = b.session_id
				WHERE hm.household_id = f.household_id
				  AND (b.status IN ('booked', 'offered')
				       OR (s2.status = 'cancelled' AND b.status = 'cancelled'
				           AND b.cancel_reason = 'session cancelled')))
			ORDER BY s.starts_at, s.id LIMIT p_max) x;
	ELSE
		IF NOT EXISTS (SELECT 1 FROM core.staff st
		               WHERE st.id = f.staff_id AND st.disabled_at IS NULL) THEN
			RETURN NULL;
		END IF;
		-- Sessions they staff (kept when cancelled), and for facilitators
		-- those of the programmes they facilitate; only in organisations
		-- where they still hold the role.
		SELECT array_agg(x.id ORDER BY x.starts_at, x.id) INTO ids FROM (
			SELECT s.id, s.starts_at FROM core.session s
			WHERE s.starts_at >= p_from AND s.starts_at < p_to
			  AND (s.org_id = f.org_id OR f.created_by = f.staff_id)
			  AND EXISTS (SELECT 1 FROM core.membership m
			              WHERE m.staff_id = f.staff_id AND m.org_id = s.org_id
			                AND m.role = f.kind::core.staff_role)
			  AND (EXISTS (SELECT 1 FROM core.session_staff ss
			               WHERE ss.session_id = s.id AND ss.staff_id = f.staff_id
			                 AND (ss.active OR s.status = 'cancelled'))
			       OR (f.kind = 'facilitator' AND EXISTS (
			               SELECT 1 FROM core.programme_staff ps
			               WHERE ps.programme_id = s.programme_id AND ps.staff_id = f.staff_id
			                 AND ps.role IN ('lead', 'facilitator', 'co_facilitator'))))
			ORDER BY s.starts_at, s.id LIMIT p_max) x;
	END IF;
	RETURN coalesce(ids, '{}');
END $$;

CREATE FUNCTION feed_audience(p_kind text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_kind WHEN 'household' THEN 'family' WHEN 'programme' THEN 'public'
	                   ELSE p_kind END
$$;

-- GET /feeds/{token} and /feeds/{token}/sessions/{id}.ics: ONE statement.
-- Finds the live feed by selector and verifier hash (C compares the hash
-- again in constant time), touches last_used_at at most once a minute, and
-- returns the header row (o_t 'H': o_x1 the calendar name, o_x2
-- Last-Modified in epoch seconds, o_description the stored hash, o_status
-- the kind, o_summary the audience, o_location the variant, o_tz the
-- calendar's zone) followed by feed_emit's rows. No row: 404. JIT is off:
-- compiling the plan of a 10 000-row feed took seconds; running it, ms.
CREATE FUNCTION feed_serve(p_selector text, p_hash text, p_session bigint, p_hooks text[],
                           p_past integer, p_future integer, p_grace integer, p_max integer,
                           p_known text DEFAULT NULL)
RETURNS TABLE (o_t text, o_id bigint, o_series bigint, o_status text, o_seq integer,
               o_stamp text, o_start text, o_end text, o_recur text, o_rend text, o_tz text,
               o_summary text, o_location text, o_description text, o_hook text, o_x1 text,
               o_x2 text)
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
	f core.calendar_feed;
	v_from timestamptz := core.clock() - make_interval(days => p_past);
	v_to timestamptz := core.clock() + make_interval(days => p_future);
	v_ids bigint[];
	v_tz text;
	v_lm timestamptz;
BEGIN
	SELECT * INTO f FROM core.calendar_feed cf
	WHERE cf.token_selector = p_selector AND cf.token_hash = p_hash AND cf.revoked_at IS NULL;
	IF NOT FOUND OR EXISTS (SELECT 1 FROM core.organisation o
	                        WHERE o.id = f.org_id AND o.archived_at IS NOT NULL) THEN
		RETURN;
	END IF;
	IF f.kind = 'programme' AND p_session IS NULL THEN
		-- Read straight off the programme's index by feed_emit; only the
		-- listing is checked here.
		IF NOT EXISTS (SELECT 1 FROM core.programme pr
		               WHERE pr.id = f.programme_id AND pr.public_listing
		                 AND pr.archived_at IS NULL) THEN
			RETURN;
		END IF;
	ELSE
		v_ids := core.feed_sessions(f, v_from, v_to, p_max);
		IF v_ids IS NULL THEN
			RETURN;
		END IF;
		IF p_session IS NOT NULL THEN
			IF NOT p_session = ANY (v_ids) THEN
				RETURN;
			END IF;
			v_ids := ARRAY[p_session];
		END IF;
	END IF;
	IF f.last_used_at IS NULL OR f.last_used_at < now() - interval '60 seconds' THEN
		UPDATE core.calendar_feed SET last_used_at = now() WHERE id = f.id;
	END IF;
	-- The calendar's zone: the programme's, else the one most of its
	-- sessions are in, else London.
	SELECT coalesce((SELECT pr.time_zone FROM core.programme pr WHERE pr.id = f.programme_id),
	                (SELECT pr.time_zone FROM unnest(v_ids) u(sid)
	                 JOIN core.session s ON s.id = u.sid
	                 JOIN core.programme pr ON pr.id = s.programme_id
	                 GROUP BY pr.time_zone ORDER BY count(*) DESC, pr.time_zone LIMIT 1),
	                'Europe/London')
	INTO v_tz;
	-- Last-Modified's share from the feed itself: its own revision
	-- (regeneration), whatever left it without a session changing (a
	-- booking, seat, staff row or household member gone, the programme
	-- changed), and sessions leaving the window. feed_emit adds the
	-- sessions' share ('R' row).
	SELECT greatest(f.revision_at,
		(SELECT max(r.revised_at) FROM core.calendar_revision r
		 WHERE r.scope = 'household' AND r.scope_id = f.household_id),
		(SELECT max(r.revised_at) FROM core.calendar_revision r
		 WHERE f.kind = 'household' AND r.scope = 'person' AND r.scope_id IN (
		     SELECT hm.person_id FROM core.household_member hm
		     WHERE hm.household_id = f.household_id)),
		(SELECT max(r.revised_at) FROM core.calendar_revision r
		 WHERE r.scope = 'staff' AND r.scope_id = f.staff_id),
		(SELECT max(r.revised_at) FROM core.calendar_revision r
		 WHERE r.scope = 'programme' AND r.scope_id = f.programme_id),
		(SELECT max(pr.updated_at) FROM core.programme pr WHERE pr.id = f.programme_id),
		-- The window's near end moves on: the latest session that left it
		-- did so p_past days after it started.
		(SELECT core.feed_capped(max(s.starts_at) + make_interval(days => p_past))
		 FROM core.session s
		 WHERE s.id = ANY (core.feed_sessions(f, v_from - make_interval(days => p_past), v_from,
		                                      p_max))))
	INTO v_lm;
	RETURN QUERY SELECT 'H'::text, f.id, NULL::bigint, f.kind, 0, NULL::text, NULL::text,
		NULL::text, NULL::text, NULL::text, v_tz, core.feed_audience(f.kind), f.variant,
		f.token_hash, NULL::text, f.name, floor(extract(epoch FROM v_lm))::bigint::text;
	-- The digest covers the header's share of the bytes too.
	RETURN QUERY SELECT * FROM core.feed_emit(core.feed_audience(f.kind), f.variant = 'busy',
		v_ids, CASE WHEN v_ids IS NULL THEN f.programme_id END, p_max, v_from, v_to,
		p_session IS NULL, p_grace, p_hooks,
		concat_ws('|', f.id, f.kind, f.variant, f.name, v_tz, p_session, p_max), p_known);
END $$;

-- GET /api/v1/sessions/{id}/ics (staff: the facilitator's view of a
-- session they can see) and /bookings/{id}/ics (the family's view of the
-- booked session: what may be handed to the person). Same rows as
-- feed_serve; no row when out of scope.
CREATE FUNCTION feed_session_ics(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                 p_hooks text[])
RETURNS TABLE (o_t text, o_id bigint, o_series bigint, o_status text, o_seq integer,
               o_stamp text, o_start text, o_end text, o_recur text, o_rend text, o_tz text,
               o_summary text, o_location text, o_description text, o_hook text, o_x1 text,
               o_x2 text)
LANGUAGE plpgsql SET jit = off STABLE AS $$
DECLARE
	v_tz text;
BEGIN
	IF NOT core.session_visible(p_staff, p_id) THEN
		RETURN;
	END IF;
	SELECT pr.time_zone INTO v_tz FROM core.session s
	JOIN core.programme pr ON pr.id = s.programme_id WHERE s.id = p_id;
	RETURN QUERY SELECT 'H'::text, p_id, NULL::bigint, 'session'::text, 0, NULL::text,
		NULL::text, NULL::text, NULL::text, NULL::text, v_tz, 'facilitator'::text, 'full'::text,
		NULL::text, NULL::text, 'Session'::text, NULL::text;
	RETURN QUERY SELECT * FROM core.feed_emit('facilitator', false, ARRAY[p_id], NULL, 1,
		'-infinity', 'infinity', false, 1000000, p_hooks);
END $$;

CREATE FUNCTION feed_booking_ics(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                 p_hooks text[])
RETURNS TABLE (o_t text, o_id bigint, o_series bigint, o_status text, o_seq integer,
               o_stamp text, o_start text, o_end text, o_recur text, o_rend text, o_tz text,
               o_summary text, o_location text, o_description text, o_hook text, o_x1 text,
               o_x2 text)
LANGUAGE plpgsql SET jit = off STABLE AS $$
DECLARE
	v_session bigint;
	v_tz text;
BEGIN
	SELECT s.id, pr.time_zone INTO v_session, v_tz
	FROM core.booking b JOIN core.session s ON s.id = b.session_id
	JOIN core.programme pr ON pr.id = s.programme_id
	WHERE b.id = p_id
	  AND core.booking_person_ok(p_staff, s.org_id, b.person_id,
	                             core.booking_session_reach(p_staff, s.org_id, s.programme_id,
	                                                        s.id));
	IF v_session IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY SELECT 'H'::text, v_session, NULL::bigint, 'session'::text, 0, NULL::text,
		NULL::text, NULL::text, NULL::text, NULL::text, v_tz, 'family'::text, 'full'::text,
		NULL::text, NULL::text, 'Session'::text, NULL::text;
	RETURN QUERY SELECT * FROM core.feed_emit('family', false, ARRAY[v_session], NULL, 1,
		'-infinity', 'infinity', false, 1000000, p_hooks);
END $$;

-- --- Managing feeds --------------------------------------------------------

-- Admins and coordinators of the feed's organisation; a mentor or
-- facilitator for their own feed.
CREATE FUNCTION feed_manages(p_staff bigint, f core.calendar_feed) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT core.has_role(p_staff, f.org_id, ARRAY['admin', 'coordinator']::core.staff_role[])
	    OR (f.kind IN ('mentor', 'facilitator') AND f.staff_id = p_staff)
$$;

CREATE FUNCTION feed_json(f core.calendar_feed) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', f.id, 'organisation_id', f.org_id, 'kind', f.kind, 'variant', f.variant,
		'name', f.name, 'household_id', f.household_id, 'staff_id', f.staff_id,
		'programme_id', f.programme_id, 'created_by', f.created_by,
		'created_at', to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
		'last_used_at', to_char(f.last_used_at AT TIME ZONE 'UTC',
		                        'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
		'revoked_at', to_char(f.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
$$;

-- POST /feeds. The C side has checked the shape (the id the kind needs
-- and no other) and made the secret; only its selector and hash come here.
CREATE FUNCTION feed_create(p_staff bigint, p_addr inet, p_rid text, p_kind text,
                            p_household bigint, p_target bigint, p_programme bigint,
                            p_variant text, p_name text, p_selector text, p_hash text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_org bigint;
	v_name text;
	v_target bigint := coalesce(p_target, p_staff);
	f core.calendar_feed;
BEGIN
	IF p_kind = 'household' THEN
		SELECT h.org_id INTO v_org FROM core.household h
		WHERE h.id = p_household
		  AND core.has_role(p_staff, h.org_id, ARRAY['admin', 'coordinator']::core.staff_role[]);
		v_name := 'Family sessions';
	ELSIF p_kind = 'programme' THEN
		SELECT pr.org_id, pr.name INTO v_org, v_name FROM core.programme pr
		WHERE pr.id = p_programme AND pr.archived_at IS NULL
		  AND core.has_role(p_staff, pr.org_id, ARRAY['admin', 'coordinator']::core.staff_role[]);
		IF v_org IS NOT NULL AND NOT (SELECT public_listing FROM core.programme
		                              WHERE id = p_programme) THEN
			RAISE EXCEPTION 'core.not_public|programme_id|Only a programme with a public listing has a public feed.'
				USING ERRCODE = 'WM422';
		END IF;
	ELSE
		-- Their own: an organisation where they hold the role. Someone
		-- else's: an organisation where the target holds it and the caller
		-- is admin or coordinator.
		SELECT min(m.org_id) INTO v_org FROM core.membership m
		JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL
		JOIN core.staff st ON st.id = m.staff_id AND st.disabled_at IS NULL
		WHERE m.staff_id = v_target AND m.role = p_kind::core.staff_role
		  AND (v_target = p_staff
		       OR core.has_role(p_staff, m.org_id,
		                        ARRAY['admin', 'coordinator']::core.staff_role[]));
		IF v_org IS NULL AND v_target = p_staff THEN
			RAISE EXCEPTION '%', format('core.not_role|kind|You do not hold the %s role in any organisation.', p_kind)
				USING ERRCODE = 'WM422';
		END IF;
		v_name := CASE p_kind WHEN 'mentor' THEN 'Mentoring sessions'
		                      ELSE 'Facilitated sessions' END;
	END IF;
	IF v_org IS NULL THEN
		RETURN NULL;
	END IF;
	INSERT INTO core.calendar_feed (org_id, kind, household_id, staff_id, programme_id, variant,
	                                name, token_selector, token_hash, created_by)
	VALUES (v_org, p_kind, p_household,
	        CASE WHEN p_kind IN ('mentor', 'facilitator') THEN v_target END, p_programme,
	        coalesce(p_variant, 'full'), left(coalesce(p_name, v_name), 100), p_selector, p_hash,
	        p_staff)
	RETURNING * INTO f;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_staff, v_org, 'feed.create', 'calendar_feed', f.id, p_addr, p_rid,
	        jsonb_build_object('kind', f.kind, 'variant', f.variant));
	RETURN core.feed_json(f);
END $$;

CREATE FUNCTION feed_list(p_staff bigint, p_addr inet, p_rid text, p_kind text,
                          p_household bigint, p_limit integer, p_cursor bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	WITH page AS (
		SELECT f AS fr, f.id FROM core.calendar_feed f
		WHERE (p_kind IS NULL OR f.kind = p_kind)
		  AND (p_household IS NULL OR f.household_id = p_household)
		  AND f.id > coalesce(p_cursor, 0) AND core.feed_manages(p_staff, f)
		ORDER BY f.id LIMIT p_limit + 1),
	shown AS (SELECT * FROM page ORDER BY id LIMIT p_limit)
	SELECT jsonb_build_object(
		'items', coalesce((SELECT jsonb_agg(core.feed_json(s.fr) ORDER BY s.id) FROM shown s),
		                  '[]'),
		'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit
		                    THEN (SELECT max(id) FROM shown)::text END)
$$;

CREATE FUNCTION feed_get(p_staff bigint, p_addr inet, p_rid text, p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT core.feed_json(f) FROM core.calendar_feed f
	WHERE f.id = p_id AND core.feed_manages(p_staff, f)
$$;

CREATE FUNCTION feed_revoke(p_staff bigint, p_addr inet, p_rid text, p_id bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	f core.calendar_feed;
BEGIN
	SELECT * INTO f FROM core.calendar_feed WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR NOT core.feed_manages(p_staff, f) THEN
		RETURN NULL;
	END IF;
	IF f.revoked_at IS NULL THEN
		UPDATE core.calendar_feed SET revoked_at = now(), revision_at = now() WHERE id = p_id
		RETURNING * INTO f;
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        remote_addr, request_id, detail)
		VALUES (p_staff, f.org_id, 'feed.revoke', 'calendar_feed', f.id, p_addr, p_rid,
		        jsonb_build_object('fields', jsonb_build_array('revoked_at')));
	END IF;
	RETURN core.feed_json(f);
END $$;

CREATE FUNCTION feed_regenerate(p_staff bigint, p_addr inet, p_rid text, p_id bigint,
                                p_selector text, p_hash text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	f core.calendar_feed;
BEGIN
	SELECT * INTO f FROM core.calendar_feed WHERE id = p_id FOR UPDATE;
	IF NOT FOUND OR NOT core.feed_manages(p_staff, f) THEN
		RETURN NULL;
	END IF;
	-- A staff member's own feed spans their organisations: only they may
	-- take a new link to it.
	IF f.kind IN ('mentor', 'facilitator') AND f.created_by = f.staff_id
	   AND p_staff <> f.staff_id THEN
		RETURN NULL;
	END IF;
	IF f.revoked_at IS NOT NULL THEN
		RAISE EXCEPTION 'core.revoked||This feed was revoked; create a new one.'
			USING ERRCODE = 'WM409';
	END IF;
	UPDATE core.calendar_feed SET token_selector = p_selector, token_hash = p_hash,
	       revision_at = now(), last_used_at = NULL
	WHERE id = p_id RETURNING * INTO f;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, remote_addr,
	                        request_id, detail)
	VALUES (p_staff, f.org_id, 'feed.regenerate', 'calendar_feed', f.id, p_addr, p_rid,
	        jsonb_build_object('fields', jsonb_build_array('token')));
	RETURN core.feed_json(f);
END $$;
