-- Scheduling: programmes, venues and rooms, closures, cohorts and
-- enrolments, sessions (one-off and series instances), who runs them, who
-- is expected or booked at them, waitlists, attendance, completion and
-- alerts. Runs with search_path = core, public.
--
-- The database guards integrity (DESIGN.md §1): no staff member, room or
-- participant can be in two overlapping sessions — exclusion constraints on
-- time ranges, not application checks — and every state machine has one
-- setter and a transition table, as referrals do.

-- Trusted since PostgreSQL 13, so a database owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

CREATE TYPE delivery_mode AS ENUM ('face_to_face', 'online', 'phone', 'in_cell_pack');
CREATE TYPE location_kind AS ENUM (
	'prison', 'approved_premises', 'probation_office', 'community_venue', 'home', 'school');
CREATE TYPE booking_mode AS ENUM ('enrolled', 'booked');
CREATE TYPE programme_role AS ENUM (
	'lead', 'facilitator', 'co_facilitator', 'peer_mentor', 'guest', 'escort', 'coach', 'mentor',
	'coordinator');

-- A time zone PostgreSQL knows (IANA name). Declared immutable so CHECK can
-- use it; the zone list only grows with tzdata updates.
CREATE FUNCTION valid_time_zone(tz text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF tz IS NULL OR length(tz) > 64 OR tz !~ '^[A-Za-z][A-Za-z0-9_+/-]*$' THEN
		RETURN false;
	END IF;
	PERFORM now() AT TIME ZONE tz;
	RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN false;
END $$;

-- The server's clock for rules that depend on time (offer expiry, cut-offs).
-- Tests move it with core.test_clock; nothing in the API writes that table.
CREATE TABLE test_clock (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	offset_by interval NOT NULL DEFAULT '0'
);
INSERT INTO test_clock DEFAULT VALUES;
CREATE FUNCTION clock() RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT now() + offset_by FROM core.test_clock
$$;

CREATE TABLE programme (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,
	-- The programme type is the loaded plugin that runs it.
	type text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]{0,30}$'),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	description text CHECK (length(description) BETWEEN 1 AND 2000),
	time_zone text NOT NULL DEFAULT 'Europe/London' CHECK (valid_time_zone(time_zone)),
	-- Validated by the plugin's programme_validate hook before it is stored.
	settings jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
	-- Listed in the public "what is on" feed (no people, ever).
	public_listing boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	updated_at timestamptz NOT NULL DEFAULT now(),
	archived_at timestamptz,
	version integer NOT NULL DEFAULT 1
);
CREATE INDEX programme_org ON programme (org_id, id);

CREATE TABLE programme_staff (
	programme_id bigint NOT NULL REFERENCES programme,
	staff_id bigint NOT NULL REFERENCES staff,
	role programme_role NOT NULL,
	added_at timestamptz NOT NULL DEFAULT now(),
	added_by bigint REFERENCES staff,
	PRIMARY KEY (programme_id, staff_id, role)
);
CREATE INDEX programme_staff_staff ON programme_staff (staff_id);

CREATE TABLE venue (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	location_kind location_kind NOT NULL,
	establishment text CHECK (length(establishment) BETWEEN 1 AND 200),
	-- What a family or the public listing may be shown ("Visitors' Centre");
	-- NULL means the venue is never shown outside staff views.
	public_name text CHECK (length(public_name) BETWEEN 1 AND 200),
	address text CHECK (length(address) BETWEEN 1 AND 500),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	archived_at timestamptz
);
CREATE INDEX venue_org ON venue (org_id);

CREATE TABLE room (
	id bigserial PRIMARY KEY,
	venue_id bigint NOT NULL REFERENCES venue,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	capacity integer CHECK (capacity BETWEEN 1 AND 10000),
	archived_at timestamptz,
	UNIQUE (venue_id, name)
);

-- Organisation-wide (or one venue's) closed days: bank holidays, lockdown.
-- 'skip' removes instances from series laid out over them; 'flag' keeps
-- them and marks them for a coordinator to decide.
CREATE TABLE closure (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,
	venue_id bigint REFERENCES venue,
	starts_on date NOT NULL,
	ends_on date NOT NULL,
	reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
	effect text NOT NULL DEFAULT 'skip' CHECK (effect IN ('skip', 'flag')),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	CHECK (ends_on >= starts_on AND ends_on - starts_on <= 366)
);
CREATE INDEX closure_org ON closure (org_id, starts_on);

CREATE TYPE cohort_status AS ENUM ('planned', 'running', 'finished', 'cancelled');

CREATE TABLE cohort (
	id bigserial PRIMARY KEY,
	programme_id bigint NOT NULL REFERENCES programme,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	starts_on date NOT NULL,
	ends_on date,
	capacity integer CHECK (capacity BETWEEN 1 AND 1000),
	status cohort_status NOT NULL DEFAULT 'planned',
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	updated_at timestamptz NOT NULL DEFAULT now(),
	version integer NOT NULL DEFAULT 1,
	CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX cohort_programme ON cohort (programme_id);

-- A recurring series: one RRULE (RFC 5545) from a local start in the
-- programme's zone, expanded by libical into session rows up to
-- expanded_until. The series keeps what calendar feeds need to emit it as
-- one VEVENT with RRULE, EXDATE and RECURRENCE-ID overrides.
CREATE TABLE series (
	id bigserial PRIMARY KEY,
	programme_id bigint NOT NULL REFERENCES programme,
	cohort_id bigint REFERENCES cohort,
	title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
	rrule text NOT NULL CHECK (length(rrule) BETWEEN 1 AND 500),
	dtstart_local timestamp NOT NULL,
	time_zone text NOT NULL CHECK (valid_time_zone(time_zone)),
	duration interval NOT NULL CHECK (duration > '0' AND duration <= '24 hours'),
	delivery_mode delivery_mode NOT NULL DEFAULT 'face_to_face',
	location_kind location_kind NOT NULL,
	venue_id bigint REFERENCES venue,
	room_id bigint REFERENCES room,
	capacity integer CHECK (capacity BETWEEN 1 AND 10000),
	booking_mode booking_mode NOT NULL DEFAULT 'enrolled',
	expanded_until timestamptz NOT NULL,
	sequence integer NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	updated_at timestamptz NOT NULL DEFAULT now(),
	cancelled_at timestamptz
);
CREATE INDEX series_programme ON series (programme_id);

CREATE TYPE session_status AS ENUM ('scheduled', 'cancelled');

CREATE TABLE session (
	id bigserial PRIMARY KEY,
	programme_id bigint NOT NULL REFERENCES programme,
	org_id bigint NOT NULL REFERENCES organisation, -- the programme's, for scope
	series_id bigint REFERENCES series,
	-- For a series instance: its original start (RFC 5545 RECURRENCE-ID),
	-- kept when the instance is moved.
	recurrence_id timestamptz,
	cohort_id bigint REFERENCES cohort,
	title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
	starts_at timestamptz NOT NULL,
	ends_at timestamptz NOT NULL,
	during tstzrange GENERATED ALWAYS AS (tstzrange(starts_at, ends_at, '[)')) STORED,
	status session_status NOT NULL DEFAULT 'scheduled',
	moved boolean NOT NULL DEFAULT false,
	closure_id bigint REFERENCES closure, -- a 'flag' closure falls on it
	delivery_mode delivery_mode NOT NULL DEFAULT 'face_to_face',
	location_kind location_kind NOT NULL,
	venue_id bigint REFERENCES venue,
	room_id bigint REFERENCES room,
	establishment text CHECK (length(establishment) BETWEEN 1 AND 200),
	capacity integer CHECK (capacity BETWEEN 1 AND 10000),
	booked integer NOT NULL DEFAULT 0 CHECK (booked >= 0),
	booking_mode booking_mode NOT NULL DEFAULT 'enrolled',
	-- Plugin data: the module this session covers, and whether it is a
	-- catch-up for a module (group courses); free for other plugins.
	module text CHECK (length(module) BETWEEN 1 AND 100),
	catch_up boolean NOT NULL DEFAULT false,
	-- Release-date anchoring: the session sits `anchor_offset_days` from
	-- this person's expected release date and moves with it.
	anchor_person_id bigint REFERENCES person,
	anchor_offset_days integer CHECK (anchor_offset_days BETWEEN -3650 AND 3650),
	cancel_reason text CHECK (length(cancel_reason) BETWEEN 1 AND 500),
	-- RFC 5545 SEQUENCE: bumped on every change a calendar user cares about.
	sequence integer NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	updated_at timestamptz NOT NULL DEFAULT now(),
	CHECK (ends_at > starts_at AND ends_at - starts_at <= interval '24 hours'),
	CHECK (capacity IS NULL OR booked <= capacity),
	CHECK ((series_id IS NULL) = (recurrence_id IS NULL)),
	CHECK ((anchor_person_id IS NULL) = (anchor_offset_days IS NULL)),
	UNIQUE (series_id, recurrence_id),
	-- A room holds one scheduled session at a time.
	CONSTRAINT session_room_free EXCLUDE USING gist (room_id WITH =, during WITH &&)
		WHERE (status = 'scheduled' AND room_id IS NOT NULL)
);
CREATE INDEX session_programme ON session (programme_id, starts_at);
CREATE INDEX session_org_time ON session (org_id, starts_at);
CREATE INDEX session_cohort ON session (cohort_id, starts_at);
CREATE INDEX session_anchor ON session (anchor_person_id) WHERE anchor_person_id IS NOT NULL;

-- Who runs a session. `during` copies the session's (kept in step by
-- trigger) so the exclusion constraint can see it.
CREATE TABLE session_staff (
	session_id bigint NOT NULL REFERENCES session,
	staff_id bigint NOT NULL REFERENCES staff,
	role programme_role NOT NULL DEFAULT 'facilitator',
	during tstzrange NOT NULL,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (session_id, staff_id),
	CONSTRAINT session_staff_free EXCLUDE USING gist (staff_id WITH =, during WITH &&)
		WHERE (active)
);
CREATE INDEX session_staff_staff ON session_staff (staff_id);

CREATE TYPE enrolment_status AS ENUM ('enrolled', 'on_hold', 'left');

CREATE TABLE enrolment (
	id bigserial PRIMARY KEY,
	cohort_id bigint NOT NULL REFERENCES cohort,
	person_id bigint NOT NULL REFERENCES person,
	joined_on date NOT NULL,
	status enrolment_status NOT NULL DEFAULT 'enrolled',
	left_on date,
	left_reason text CHECK (left_reason IN (
		'completed', 'expectations_not_met', 'referral_unsuitable', 'transfer', 'released',
		'recalled', 'health', 'moved_away', 'withdrew', 'other')),
	referral_id bigint REFERENCES referral,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	updated_at timestamptz NOT NULL DEFAULT now(),
	version integer NOT NULL DEFAULT 1,
	UNIQUE (cohort_id, person_id),
	CHECK ((status = 'left') = (left_on IS NOT NULL AND left_reason IS NOT NULL))
);
CREATE INDEX enrolment_person ON enrolment (person_id);

CREATE TABLE enrolment_transition (
	from_status enrolment_status NOT NULL,
	to_status enrolment_status NOT NULL,
	PRIMARY KEY (from_status, to_status)
);
INSERT INTO enrolment_transition VALUES
	('enrolled', 'on_hold'), ('on_hold', 'enrolled'), ('enrolled', 'left'), ('on_hold', 'left');

-- Holds freeze an enrolment: sessions inside a hold are not expected, so
-- they can never count as absences.
CREATE TABLE enrolment_hold (
	id bigserial PRIMARY KEY,
	enrolment_id bigint NOT NULL REFERENCES enrolment,
	starts_at timestamptz NOT NULL,
	ends_at timestamptz,
	reason text NOT NULL CHECK (reason IN (
		'prison_transfer', 'recall', 'health', 'release', 'regime_change', 'other')),
	note text CHECK (length(note) BETWEEN 1 AND 1000),
	created_by bigint REFERENCES staff,
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (ends_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX enrolment_hold_enrolment ON enrolment_hold (enrolment_id);

-- Who is expected at (enrolled) or booked into a session: one row per
-- person and session, active while it counts. The exclusion constraint is
-- what makes double-booking a participant impossible.
CREATE TABLE seat (
	session_id bigint NOT NULL REFERENCES session,
	person_id bigint NOT NULL REFERENCES person,
	source text NOT NULL CHECK (source IN ('enrolment', 'booking')),
	during tstzrange NOT NULL,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (session_id, person_id),
	CONSTRAINT seat_person_free EXCLUDE USING gist (person_id WITH =, during WITH &&)
		WHERE (active)
);
CREATE INDEX seat_person ON seat (person_id);

CREATE TYPE booking_status AS ENUM (
	'booked', 'waitlisted', 'offered', 'cancelled', 'declined', 'expired');

CREATE TABLE booking (
	id bigserial PRIMARY KEY,
	session_id bigint NOT NULL REFERENCES session,
	person_id bigint NOT NULL REFERENCES person,
	booked_by bigint REFERENCES staff,
	status booking_status NOT NULL,
	-- FIFO order on the waitlist.
	waitlisted_at timestamptz,
	offered_at timestamptz,
	offer_expires_at timestamptz,
	cancelled_at timestamptz,
	cancel_reason text CHECK (length(cancel_reason) BETWEEN 1 AND 500),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	version integer NOT NULL DEFAULT 1,
	CHECK (status <> 'offered' OR offer_expires_at IS NOT NULL)
);
CREATE UNIQUE INDEX booking_live ON booking (session_id, person_id)
	WHERE status IN ('booked', 'waitlisted', 'offered');
CREATE INDEX booking_waitlist ON booking (session_id, waitlisted_at, id)
	WHERE status = 'waitlisted';
CREATE INDEX booking_offers ON booking (offer_expires_at) WHERE status = 'offered';

CREATE TABLE booking_transition (
	from_status booking_status NOT NULL,
	to_status booking_status NOT NULL,
	PRIMARY KEY (from_status, to_status)
);
INSERT INTO booking_transition VALUES
	('booked', 'cancelled'),
	('waitlisted', 'offered'), ('waitlisted', 'cancelled'),
	('offered', 'booked'), ('offered', 'declined'), ('offered', 'expired'),
	('offered', 'cancelled');

-- Idempotency-Key: a retried POST returns the first answer.
CREATE TABLE idempotency (
	staff_id bigint NOT NULL REFERENCES staff,
	key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
	route text NOT NULL,
	request_hash text NOT NULL,
	status integer NOT NULL,
	response jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (staff_id, key)
);
CREATE INDEX idempotency_age ON idempotency (created_at);

-- Attendance outcomes: built-in codes (org_id NULL) plus each
-- organisation's own.
CREATE TYPE reason_class AS ENUM ('acceptable', 'unacceptable', 'service_cancelled', 'logistics');

CREATE TABLE outcome_code (
	id bigserial PRIMARY KEY,
	org_id bigint REFERENCES organisation,
	code text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
	label text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
	attended boolean NOT NULL,
	compliant boolean NOT NULL,
	reason_class reason_class,
	archived_at timestamptz,
	CHECK (attended OR reason_class IS NOT NULL)
);
CREATE UNIQUE INDEX outcome_code_key ON outcome_code (coalesce(org_id, 0), code);
INSERT INTO outcome_code (org_id, code, label, attended, compliant, reason_class) VALUES
	(NULL, 'attended', 'Attended', true, true, NULL),
	(NULL, 'late', 'Attended, late', true, true, NULL),
	(NULL, 'left_early', 'Attended, left early', true, false, NULL),
	(NULL, 'absent_acceptable', 'Absent, acceptable reason', false, true, 'acceptable'),
	(NULL, 'absent_unacceptable', 'Absent, no acceptable reason', false, false, 'unacceptable'),
	(NULL, 'refused', 'Refused to attend', false, false, 'unacceptable'),
	(NULL, 'service_cancelled', 'Session cancelled by the service', false, true,
	 'service_cancelled'),
	(NULL, 'regime_logistics', 'Prison regime or escort not available', false, true,
	 'logistics');

CREATE TABLE attendance (
	session_id bigint NOT NULL REFERENCES session,
	person_id bigint NOT NULL REFERENCES person,
	outcome_code_id bigint NOT NULL REFERENCES outcome_code,
	late_minutes integer CHECK (late_minutes BETWEEN 1 AND 1440),
	late_reason text CHECK (length(late_reason) BETWEEN 1 AND 500),
	note text CHECK (length(note) BETWEEN 1 AND 1000),
	recorded_by bigint REFERENCES staff,
	recorded_at timestamptz NOT NULL DEFAULT now(),
	version integer NOT NULL DEFAULT 1,
	PRIMARY KEY (session_id, person_id),
	CHECK (late_reason IS NULL OR late_minutes IS NOT NULL)
);
CREATE INDEX attendance_person ON attendance (person_id);

-- Corrections keep history: the row a correction replaced.
CREATE TABLE attendance_history (
	id bigserial PRIMARY KEY,
	session_id bigint NOT NULL,
	person_id bigint NOT NULL,
	outcome_code_id bigint NOT NULL REFERENCES outcome_code,
	late_minutes integer,
	late_reason text,
	note text,
	recorded_by bigint REFERENCES staff,
	recorded_at timestamptz NOT NULL,
	version integer NOT NULL,
	superseded_at timestamptz NOT NULL DEFAULT now(),
	superseded_by bigint REFERENCES staff,
	FOREIGN KEY (session_id, person_id) REFERENCES attendance
);
CREATE INDEX attendance_history_key ON attendance_history (session_id, person_id, id);

CREATE TYPE completion_result AS ENUM ('in_progress', 'completed', 'not_completed', 'withdrawn');

-- What the programme's plugin decided about an enrolment, and under which
-- version of its rule.
CREATE TABLE completion (
	enrolment_id bigint PRIMARY KEY REFERENCES enrolment,
	result completion_result NOT NULL,
	rule_version text NOT NULL CHECK (length(rule_version) BETWEEN 1 AND 100),
	reason text CHECK (length(reason) BETWEEN 1 AND 500),
	detail jsonb NOT NULL DEFAULT '{}',
	decided_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE completion_history (
	id bigserial PRIMARY KEY,
	enrolment_id bigint NOT NULL REFERENCES enrolment,
	result completion_result NOT NULL,
	rule_version text NOT NULL,
	reason text,
	decided_at timestamptz NOT NULL
);

-- Alerts for coordinators (and, where recorded, the probation
-- practitioner): kept and queryable whatever delivers them later.
CREATE TABLE alert (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,
	kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$'),
	person_id bigint REFERENCES person,
	session_id bigint REFERENCES session,
	enrolment_id bigint REFERENCES enrolment,
	cohort_id bigint REFERENCES cohort,
	message text NOT NULL CHECK (length(message) BETWEEN 1 AND 500),
	detail jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	resolved_at timestamptz,
	resolved_by bigint REFERENCES staff
);
CREATE INDEX alert_open ON alert (org_id, id) WHERE resolved_at IS NULL;
CREATE INDEX alert_person ON alert (person_id);

-- --- Scope -------------------------------------------------------------

-- How `staff` may reach programme `p`: 'manage' (admin or coordinator of its
-- organisation), 'run' (on its staff list, or staffing one of its sessions),
-- 'report' (commissioner of its organisation: aggregates only), or NULL.
CREATE FUNCTION programme_access(p_staff bigint, p_programme bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
	WHEN core.has_role(p_staff, pr.org_id, ARRAY['admin', 'coordinator']::core.staff_role[])
		THEN 'manage'
	WHEN core.has_role(p_staff, pr.org_id,
	                   ARRAY['facilitator', 'mentor']::core.staff_role[])
	     AND (EXISTS (SELECT 1 FROM core.programme_staff ps
	                  WHERE ps.programme_id = pr.id AND ps.staff_id = p_staff)
	          OR EXISTS (SELECT 1 FROM core.session_staff ss
	                     JOIN core.session s ON s.id = ss.session_id
	                     WHERE s.programme_id = pr.id AND ss.staff_id = p_staff))
		THEN 'run'
	WHEN core.has_role(p_staff, pr.org_id, ARRAY['commissioner']::core.staff_role[])
		THEN 'report'
	END
	FROM core.programme pr WHERE pr.id = p_programme AND pr.archived_at IS NULL
$$;

-- Facilitators and mentors also see the participants of the programmes
-- they run (enrolled in their cohorts, or seated at their sessions): the
-- 'caseload' view, widened here once for every route.
CREATE OR REPLACE FUNCTION person_access(p_staff bigint, p_person bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
	-- PL/pgSQL, checked branch by branch with an early return: as one SQL
	-- expression PostgreSQL planned all four joins on every call (~9 ms),
	-- and this runs for every person any route touches.
	IF EXISTS (SELECT 1 FROM core.person_org po
	           JOIN core.membership m ON m.org_id = po.org_id
	           JOIN core.organisation o ON o.id = po.org_id AND o.archived_at IS NULL
	           WHERE po.person_id = p_person AND m.staff_id = p_staff
	             AND m.role IN ('admin', 'coordinator')) THEN
		RETURN 'full';
	END IF;
	IF EXISTS (SELECT 1 FROM core.assignment a
	           JOIN core.membership m ON m.org_id = a.org_id AND m.staff_id = a.staff_id
	                                 AND m.role = a.kind
	           JOIN core.organisation o ON o.id = a.org_id AND o.archived_at IS NULL
	           WHERE a.person_id = p_person AND a.staff_id = p_staff
	             AND a.ended_at IS NULL) THEN
		RETURN 'caseload';
	END IF;
	IF EXISTS (SELECT 1 FROM core.enrolment e
	           JOIN core.cohort c ON c.id = e.cohort_id
	           JOIN core.programme pr ON pr.id = c.programme_id AND pr.archived_at IS NULL
	           JOIN core.programme_staff ps ON ps.programme_id = pr.id
	           JOIN core.membership m ON m.org_id = pr.org_id AND m.staff_id = ps.staff_id
	                                 AND m.role IN ('facilitator', 'mentor')
	           JOIN core.person_org po ON po.person_id = e.person_id
	                                  AND po.org_id = pr.org_id
	           WHERE e.person_id = p_person AND ps.staff_id = p_staff
	             AND e.status <> 'left') THEN
		RETURN 'caseload';
	END IF;
	IF EXISTS (SELECT 1 FROM core.seat st
	           JOIN core.session s ON s.id = st.session_id
	           JOIN core.session_staff ss ON ss.session_id = s.id AND ss.active
	           JOIN core.membership m ON m.org_id = s.org_id AND m.staff_id = ss.staff_id
	                                 AND m.role IN ('facilitator', 'mentor')
	           JOIN core.person_org po ON po.person_id = st.person_id
	                                  AND po.org_id = s.org_id
	           WHERE st.person_id = p_person AND ss.staff_id = p_staff AND st.active) THEN
		RETURN 'caseload';
	END IF;
	RETURN NULL;
END $$;

-- Moving or cancelling a session moves (or frees) what hangs off its time,
-- so the exclusion constraints keep judging the real times.
CREATE FUNCTION session_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.during IS DISTINCT FROM OLD.during OR NEW.status IS DISTINCT FROM OLD.status THEN
		UPDATE core.session_staff SET during = NEW.during,
		       active = (NEW.status = 'scheduled')
		WHERE session_id = NEW.id;
		UPDATE core.seat SET during = NEW.during
		WHERE session_id = NEW.id;
		IF NEW.status = 'cancelled' THEN
			UPDATE core.seat SET active = false WHERE session_id = NEW.id;
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER session_sync AFTER UPDATE ON session
	FOR EACH ROW EXECUTE FUNCTION session_sync();

-- A seat or a staff row always carries its session's current time: taken
-- from the session row under a share lock, so a concurrent move either
-- waits for this transaction or has already committed and is what we read.
-- Without it an enrolment racing a move could keep the old time, and the
-- exclusion constraints would judge the wrong interval.
CREATE FUNCTION session_during() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	SELECT during INTO NEW.during FROM core.session WHERE id = NEW.session_id FOR SHARE;
	RETURN NEW;
END $$;
CREATE TRIGGER seat_during BEFORE INSERT OR UPDATE ON seat
	FOR EACH ROW EXECUTE FUNCTION session_during();
CREATE TRIGGER session_staff_during BEFORE INSERT OR UPDATE ON session_staff
	FOR EACH ROW EXECUTE FUNCTION session_during();

-- State machines, as for referrals: any status update outside the
-- transition tables is refused, whoever makes it.
CREATE FUNCTION booking_status_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
		SELECT 1 FROM core.booking_transition
		WHERE from_status = OLD.status AND to_status = NEW.status) THEN
		RAISE EXCEPTION 'core.illegal_transition|status|A booking cannot move from % to %.',
			OLD.status, NEW.status USING ERRCODE = 'WM409';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER booking_status_transition BEFORE UPDATE OF status ON booking
	FOR EACH ROW EXECUTE FUNCTION booking_status_transition();

CREATE FUNCTION enrolment_status_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
		SELECT 1 FROM core.enrolment_transition
		WHERE from_status = OLD.status AND to_status = NEW.status) THEN
		RAISE EXCEPTION 'core.illegal_transition|status|An enrolment cannot move from % to %.',
			OLD.status, NEW.status USING ERRCODE = 'WM409';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER enrolment_status_transition BEFORE UPDATE OF status ON enrolment
	FOR EACH ROW EXECUTE FUNCTION enrolment_status_transition();

-- --- Expected attendance -------------------------------------------------

-- True when an enrolment expects its person at a session starting at
-- `p_at`: on or after the join date (in the programme's zone), not inside a
-- hold, not after leaving. Sessions outside this never count as absences.
CREATE FUNCTION enrolment_expects(p_enrolment bigint, p_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT (p_at AT TIME ZONE pr.time_zone)::date >= e.joined_on
	   AND (e.left_on IS NULL OR (p_at AT TIME ZONE pr.time_zone)::date < e.left_on)
	   AND NOT EXISTS (SELECT 1 FROM core.enrolment_hold h
	                   WHERE h.enrolment_id = e.id AND h.starts_at <= p_at
	                     AND (h.ends_at IS NULL OR h.ends_at > p_at))
	FROM core.enrolment e
	JOIN core.cohort c ON c.id = e.cohort_id
	JOIN core.programme pr ON pr.id = c.programme_id
	WHERE e.id = p_enrolment
$$;

-- Brings a cohort's seats in line with its enrolments and sessions: one
-- active seat per expected (enrolment, scheduled session) pair, inactive
-- ones otherwise. Called after sessions are added, moved or cancelled and
-- after enrolments change. A clash with another seat of the same person
-- raises the seat_person_free exclusion violation, which the caller turns
-- into 409 core.person_clash. Booked seats (source 'booking') are left
-- alone.
CREATE FUNCTION seat_sync_cohort(p_cohort bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	-- Deactivate first, so a seat that moves out of the way never clashes
	-- with one that moves in.
	UPDATE core.seat st SET active = false
	FROM core.session s
	WHERE st.session_id = s.id AND s.cohort_id = p_cohort AND st.source = 'enrolment'
	  AND st.active
	  AND NOT (s.status = 'scheduled' AND EXISTS (
		SELECT 1 FROM core.enrolment e
		WHERE e.cohort_id = p_cohort AND e.person_id = st.person_id
		  AND core.enrolment_expects(e.id, s.starts_at)));
	INSERT INTO core.seat (session_id, person_id, source, during, active)
	SELECT s.id, e.person_id, 'enrolment', s.during, true
	FROM core.session s JOIN core.enrolment e ON e.cohort_id = s.cohort_id
	WHERE s.cohort_id = p_cohort AND s.status = 'scheduled'
	  AND core.enrolment_expects(e.id, s.starts_at)
	ON CONFLICT (session_id, person_id) DO UPDATE SET active = true, during = EXCLUDED.during
	WHERE core.seat.source = 'enrolment' AND NOT core.seat.active;
END $$;

-- --- Times in requests -----------------------------------------------------

-- An instant from the API: RFC 3339 with Z or an offset, or a local
-- date-time (no offset) read in zone `p_tz`. A local time that does not
-- exist (the hour skipped when clocks go forward) or that happens twice
-- (the hour repeated when they go back) is refused, naming `p_field`,
-- rather than guessed. The C side (api_instant) has already checked the
-- shape.
CREATE FUNCTION instant_in(p_text text, p_tz text, p_field text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
	local timestamp;
	t timestamptz;
BEGIN
	IF p_text ~ '(Z|z|[+-][0-9]{2}:[0-9]{2})$' THEN
		RETURN p_text::timestamptz;
	END IF;
	local := p_text::timestamp;
	t := local AT TIME ZONE p_tz;
	IF (t AT TIME ZONE p_tz) <> local THEN
		RAISE EXCEPTION '%', format('core.nonexistent_time|%s|%s does not exist in %s: the clocks go forward then. Choose another time.',
			p_field, to_char(local, 'YYYY-MM-DD HH24:MI'), p_tz) USING ERRCODE = 'WM422';
	END IF;
	IF ((t - interval '1 hour') AT TIME ZONE p_tz) = local
	   OR ((t + interval '1 hour') AT TIME ZONE p_tz) = local THEN
		RAISE EXCEPTION '%', format('core.ambiguous_time|%s|%s happens twice in %s: the clocks go back then. Give the time with its UTC offset.',
			p_field, to_char(local, 'YYYY-MM-DD HH24:MI'), p_tz) USING ERRCODE = 'WM422';
	END IF;
	RETURN t;
END $$;
