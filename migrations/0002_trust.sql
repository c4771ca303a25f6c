-- People and trust: organisations, staff and their roles, credentials,
-- people and what each organisation holds about them, households, flags,
-- non-associations, consent, referrals, and the audit log.
-- Runs with search_path = core, public, inside the migration's transaction.
--
-- Who may see what is decided here, in SQL, once (person_access and
-- friends below), so every route asks the same question the same way.

CREATE TYPE staff_role AS ENUM ('admin', 'coordinator', 'facilitator', 'mentor', 'commissioner');

CREATE TYPE org_kind AS ENUM (
	'prison_family_service', 'mentoring_charity', 'course_provider', 'sports_charity',
	'housing', 'benefits', 'probation', 'other');

CREATE TABLE organisation (
	id bigserial PRIMARY KEY,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	kind org_kind NOT NULL DEFAULT 'other',
	created_at timestamptz NOT NULL DEFAULT now(),
	archived_at timestamptz
);
CREATE UNIQUE INDEX organisation_name_key ON organisation (lower(name));

CREATE TABLE staff (
	id bigserial PRIMARY KEY,
	email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
	display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
	-- crypto_pwhash_str output (argon2id, salted); never the password.
	password_hash text CHECK (password_hash LIKE '$argon2id$%'),
	server_admin boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	disabled_at timestamptz
);
CREATE UNIQUE INDEX staff_email_key ON staff (lower(email));

CREATE TABLE membership (
	staff_id bigint NOT NULL REFERENCES staff,
	org_id bigint NOT NULL REFERENCES organisation,
	role staff_role NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	PRIMARY KEY (staff_id, org_id, role)
);
CREATE INDEX membership_org ON membership (org_id, role);

-- Bearer tokens and browser sessions share one shape: a public selector to
-- find the row, and the SHA-256 of a 256-bit verifier, compared in C in
-- constant time. The secret itself is shown once and never stored.
CREATE TABLE api_token (
	id bigserial PRIMARY KEY,
	staff_id bigint NOT NULL REFERENCES staff,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	selector text NOT NULL UNIQUE CHECK (selector ~ '^[A-Za-z0-9_-]{16}$'),
	verifier_hash text NOT NULL CHECK (verifier_hash ~ '^[0-9a-f]{64}$'),
	created_at timestamptz NOT NULL DEFAULT now(),
	last_used_at timestamptz,
	expires_at timestamptz,
	revoked_at timestamptz
);
CREATE UNIQUE INDEX api_token_live_name ON api_token (staff_id, name) WHERE revoked_at IS NULL;

CREATE TABLE web_session (
	id bigserial PRIMARY KEY,
	staff_id bigint NOT NULL REFERENCES staff,
	selector text NOT NULL UNIQUE CHECK (selector ~ '^[A-Za-z0-9_-]{16}$'),
	verifier_hash text NOT NULL CHECK (verifier_hash ~ '^[0-9a-f]{64}$'),
	created_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz,
	remote_addr inet
);
CREATE INDEX web_session_staff ON web_session (staff_id) WHERE revoked_at IS NULL;

-- One identity per person, whichever organisations know them.
CREATE TYPE person_sex AS ENUM ('female', 'male', 'other', 'unknown', 'not_recorded');
CREATE TYPE custody_status AS ENUM (
	'in_custody', 'remand', 'on_licence', 'community_sentence', 'released',
	'not_applicable', 'unknown');
CREATE TYPE risk_level AS ENUM ('low', 'medium', 'high', 'very_high', 'unknown');

CREATE TABLE person (
	id bigserial PRIMARY KEY,
	given_name text NOT NULL CHECK (length(given_name) BETWEEN 1 AND 100),
	family_name text NOT NULL CHECK (length(family_name) BETWEEN 1 AND 100),
	known_as text CHECK (length(known_as) BETWEEN 1 AND 100),
	date_of_birth date,
	sex person_sex NOT NULL DEFAULT 'not_recorded',
	is_participant boolean NOT NULL DEFAULT false,
	custody_status custody_status NOT NULL DEFAULT 'unknown',
	establishment text CHECK (length(establishment) BETWEEN 1 AND 200),
	expected_release_date date,
	probation_office text CHECK (length(probation_office) BETWEEN 1 AND 200),
	probation_practitioner text CHECK (length(probation_practitioner) BETWEEN 1 AND 200),
	area text CHECK (length(area) BETWEEN 1 AND 100),
	risk_level risk_level NOT NULL DEFAULT 'unknown',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	-- Set by erasure: identifying fields are replaced, the row and its
	-- counts stay so aggregate figures do not change.
	erased_at timestamptz,
	version integer NOT NULL DEFAULT 1
);
-- Duplicate detection looks people up by name and birth date.
CREATE INDEX person_identity ON person (lower(family_name), lower(given_name), date_of_birth);

-- Which organisations hold a person. An organisation sees a person only
-- through this link: it creates the person, or accepts a referral made
-- with recorded consent to share with it.
CREATE TABLE person_org (
	person_id bigint NOT NULL REFERENCES person,
	org_id bigint NOT NULL REFERENCES organisation,
	since timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	PRIMARY KEY (person_id, org_id)
);
CREATE INDEX person_org_org ON person_org (org_id, person_id);

-- A mentor's or facilitator's caseload within an organisation.
CREATE TABLE assignment (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,
	staff_id bigint NOT NULL REFERENCES staff,
	person_id bigint NOT NULL REFERENCES person,
	kind staff_role NOT NULL CHECK (kind IN ('mentor', 'facilitator')),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	ended_at timestamptz,
	ended_by bigint REFERENCES staff
);
CREATE UNIQUE INDEX assignment_live ON assignment (org_id, staff_id, person_id, kind)
	WHERE ended_at IS NULL;
CREATE INDEX assignment_person ON assignment (person_id) WHERE ended_at IS NULL;

-- Risk and safeguarding flags: held by the organisation that recorded
-- them, readable by its admins and coordinators only, every read audited.
CREATE TYPE flag_kind AS ENUM (
	'risk_to_others', 'risk_to_self', 'risk_to_children', 'safeguarding_child',
	'safeguarding_adult', 'domestic_abuse', 'do_not_contact', 'other');

CREATE TABLE person_flag (
	id bigserial PRIMARY KEY,
	person_id bigint NOT NULL REFERENCES person,
	org_id bigint NOT NULL REFERENCES organisation,
	kind flag_kind NOT NULL,
	severity risk_level NOT NULL DEFAULT 'unknown',
	note text CHECK (length(note) BETWEEN 1 AND 2000),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	removed_at timestamptz,
	removed_by bigint REFERENCES staff
);
CREATE INDEX person_flag_person ON person_flag (person_id, org_id);

CREATE TYPE household_relationship AS ENUM (
	'participant', 'partner', 'child', 'parent', 'grandparent_carer', 'sibling',
	'kinship_carer', 'foster_carer', 'supporter', 'other');

CREATE TABLE household (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX household_org ON household (org_id);

CREATE TABLE household_member (
	household_id bigint NOT NULL REFERENCES household,
	person_id bigint NOT NULL REFERENCES person,
	relationship household_relationship NOT NULL,
	primary_contact boolean NOT NULL DEFAULT false,
	added_at timestamptz NOT NULL DEFAULT now(),
	added_by bigint REFERENCES staff,
	PRIMARY KEY (household_id, person_id)
);
CREATE INDEX household_member_person ON household_member (person_id);

-- "Keep apart": a pair, stored once with the smaller id first.
CREATE TABLE non_association (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,
	person_a bigint NOT NULL REFERENCES person,
	person_b bigint NOT NULL REFERENCES person,
	reason text CHECK (length(reason) BETWEEN 1 AND 1000),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	ended_at timestamptz,
	ended_by bigint REFERENCES staff,
	CHECK (person_a < person_b)
);
CREATE UNIQUE INDEX non_association_live ON non_association (org_id, person_a, person_b)
	WHERE ended_at IS NULL;
CREATE INDEX non_association_b ON non_association (person_b);

-- Consent: what a person agreed to, to whom, when, and when they withdrew.
CREATE TYPE consent_purpose AS ENUM (
	'share_with_organisation', 'referral', 'programme_participation', 'contact_family',
	'photography', 'case_meeting');
CREATE TYPE consent_giver AS ENUM ('self', 'parent', 'guardian', 'advocate');

CREATE TABLE consent (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,
	person_id bigint NOT NULL REFERENCES person,
	purpose consent_purpose NOT NULL,
	-- Required for sharing and referral: consent is to one recipient.
	recipient_org_id bigint REFERENCES organisation,
	scope text CHECK (length(scope) BETWEEN 1 AND 500),
	given_on date NOT NULL,
	given_by consent_giver NOT NULL DEFAULT 'self',
	recorded_at timestamptz NOT NULL DEFAULT now(),
	recorded_by bigint REFERENCES staff,
	withdrawn_on date,
	withdrawn_recorded_by bigint REFERENCES staff,
	note text CHECK (length(note) BETWEEN 1 AND 1000),
	CHECK (purpose NOT IN ('share_with_organisation', 'referral') OR recipient_org_id IS NOT NULL),
	CHECK (withdrawn_on IS NULL OR withdrawn_on >= given_on)
);
CREATE INDEX consent_person ON consent (person_id, org_id);

CREATE TYPE referral_source AS ENUM (
	'probation', 'prison', 'court', 'school', 'childrens_services', 'self', 'partner_organisation',
	'unknown');
CREATE TYPE referral_status AS ENUM (
	'received', 'contacted', 'assessed', 'accepted', 'declined', 'waiting_list', 'referred_on');
CREATE TYPE eligibility_result AS ENUM ('not_assessed', 'eligible', 'ineligible');

CREATE TABLE referral (
	id bigserial PRIMARY KEY,
	org_id bigint NOT NULL REFERENCES organisation,   -- the receiving organisation
	person_id bigint NOT NULL REFERENCES person,
	source referral_source NOT NULL,
	referrer_name text CHECK (length(referrer_name) BETWEEN 1 AND 200),
	referrer_organisation text CHECK (length(referrer_organisation) BETWEEN 1 AND 200),
	referred_on date NOT NULL,
	status referral_status NOT NULL DEFAULT 'received',
	eligibility eligibility_result NOT NULL DEFAULT 'not_assessed',
	eligibility_rule_version text CHECK (length(eligibility_rule_version) BETWEEN 1 AND 100),
	eligibility_note text CHECK (length(eligibility_note) BETWEEN 1 AND 1000),
	decision_reason text CHECK (length(decision_reason) BETWEEN 1 AND 1000),
	risk_summary text CHECK (length(risk_summary) BETWEEN 1 AND 2000),
	previous_referral_id bigint REFERENCES referral,
	onward_org_id bigint REFERENCES organisation,       -- set when referred on
	onward_referral_id bigint REFERENCES referral,
	consent_id bigint REFERENCES consent,               -- the consent a referral on relied on
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by bigint REFERENCES staff,
	updated_at timestamptz NOT NULL DEFAULT now(),
	version integer NOT NULL DEFAULT 1,
	CHECK (previous_referral_id IS NULL OR previous_referral_id <> id)
);
CREATE INDEX referral_org ON referral (org_id, status, id);
CREATE INDEX referral_person ON referral (person_id);

-- The referral state machine, as data: the one setter refuses any pair not
-- listed here.
CREATE TABLE referral_transition (
	from_status referral_status NOT NULL,
	to_status referral_status NOT NULL,
	PRIMARY KEY (from_status, to_status)
);
INSERT INTO referral_transition VALUES
	('received', 'contacted'), ('received', 'declined'),
	('contacted', 'assessed'), ('contacted', 'declined'),
	('assessed', 'accepted'), ('assessed', 'declined'), ('assessed', 'waiting_list'),
	('assessed', 'referred_on'),
	('waiting_list', 'accepted'), ('waiting_list', 'declined'), ('waiting_list', 'referred_on');

CREATE TABLE referral_history (
	id bigserial PRIMARY KEY,
	referral_id bigint NOT NULL REFERENCES referral,
	from_status referral_status,
	to_status referral_status NOT NULL,
	at timestamptz NOT NULL DEFAULT now(),
	by_staff bigint REFERENCES staff,
	reason text CHECK (length(reason) BETWEEN 1 AND 1000)
);
CREATE INDEX referral_history_referral ON referral_history (referral_id, id);

-- The audit log: append-only. `detail` names what changed (fields, states),
-- never personal values, so erasure never needs to touch it.
CREATE TABLE audit (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT clock_timestamp(),
	actor_staff_id bigint REFERENCES staff,
	org_id bigint REFERENCES organisation,
	action text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
	object_type text NOT NULL CHECK (length(object_type) BETWEEN 1 AND 40),
	object_id bigint,
	person_id bigint REFERENCES person,
	remote_addr inet,
	request_id text CHECK (length(request_id) <= 32),
	detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_org ON audit (org_id, id);
CREATE INDEX audit_person ON audit (person_id, id);
CREATE INDEX audit_actor ON audit (actor_staff_id, id);

CREATE FUNCTION audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION audit_immutable();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION audit_immutable();

-- --- Scope: who may see what ------------------------------------------

-- The bit of enum wm_role (include/waymark/types.h) for a role.
CREATE FUNCTION role_bit(r staff_role) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE r WHEN 'admin' THEN 1 WHEN 'coordinator' THEN 2 WHEN 'facilitator' THEN 4
	              WHEN 'mentor' THEN 8 WHEN 'commissioner' THEN 16 END
$$;

-- Organisations (not archived) where `staff` holds one of `roles`.
CREATE FUNCTION staff_orgs(p_staff bigint, p_roles staff_role[]) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
	SELECT DISTINCT m.org_id FROM core.membership m
	JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL
	WHERE m.staff_id = p_staff AND m.role = ANY (p_roles)
$$;

-- True when `staff` holds one of `roles` in organisation `org`.
CREATE FUNCTION has_role(p_staff bigint, p_org bigint, p_roles staff_role[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM core.membership m
	               JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL
	               WHERE m.staff_id = p_staff AND m.org_id = p_org AND m.role = ANY (p_roles))
$$;

-- How `staff` may see `person`:
--   'full'     admin or coordinator of an organisation holding the person;
--   'caseload' a mentor or facilitator the person is assigned to (identity,
--              custody and release facts, risk level; no flags, households
--              or non-associations);
--   NULL       not at all (the API answers 404).
-- Later issues widen 'caseload' (cohorts a facilitator runs) here, once.
CREATE FUNCTION person_access(p_staff bigint, p_person bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
	WHEN EXISTS (SELECT 1 FROM core.person_org po
	             JOIN core.membership m ON m.org_id = po.org_id
	             JOIN core.organisation o ON o.id = po.org_id AND o.archived_at IS NULL
	             WHERE po.person_id = p_person AND m.staff_id = p_staff
	               AND m.role IN ('admin', 'coordinator')) THEN 'full'
	WHEN EXISTS (SELECT 1 FROM core.assignment a
	             JOIN core.membership m ON m.org_id = a.org_id AND m.staff_id = a.staff_id
	                                   AND m.role = a.kind
	             JOIN core.organisation o ON o.id = a.org_id AND o.archived_at IS NULL
	             WHERE a.person_id = p_person AND a.staff_id = p_staff
	               AND a.ended_at IS NULL) THEN 'caseload'
	END
$$;

-- A child, for audit of reads: under 18 today, or a child in a household.
-- Any organisation's household counts: reading a child's record is
-- sensitive wherever the fact is recorded. It decides audit rows only; what
-- a caller is shown (a household member's "child") is that household's own
-- view (core.household_member_json), so it never tells one organisation
-- what another recorded.
-- PL/pgSQL so its plans are kept between calls: it runs on every read of
-- a person.
CREATE FUNCTION is_child(p_person bigint) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM core.person p WHERE p.id = p_person
	               AND p.date_of_birth > current_date - interval '18 years')
	    OR EXISTS (SELECT 1 FROM core.household_member hm
	               WHERE hm.person_id = p_person AND hm.relationship = 'child');
END $$;

-- True when a live consent lets `from_org` share `person` with `to_org` for
-- `purpose` ('share_with_organisation' or 'referral') on `on_day`. Only an
-- organisation that still holds the person (a live person_org link) can
-- share them, and never once they are erased: an erasure ends what the
-- organisation may pass on, whatever consent it had recorded.
CREATE FUNCTION consent_allows(p_person bigint, p_from_org bigint, p_to_org bigint,
                               p_purpose consent_purpose, p_on date) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT c.id FROM core.consent c
	WHERE c.person_id = p_person AND c.org_id = p_from_org AND c.recipient_org_id = p_to_org
	  AND c.purpose = p_purpose AND c.given_on <= p_on
	  AND (c.withdrawn_on IS NULL OR c.withdrawn_on > p_on)
	  AND EXISTS (SELECT 1 FROM core.person_org po
	              WHERE po.person_id = p_person AND po.org_id = p_from_org)
	  AND EXISTS (SELECT 1 FROM core.person p WHERE p.id = p_person AND p.erased_at IS NULL)
	ORDER BY c.given_on DESC, c.id DESC LIMIT 1
$$;
