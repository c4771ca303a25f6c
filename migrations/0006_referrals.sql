-- Referrals and consent: the functions behind /referrals and /consents.
-- Runs with search_path = core, public, after 0002 (tables) and 0003..0005.
--
-- Every write is one plpgsql function called by one statement, so a refused
-- request (RAISE ... USING ERRCODE 'WM4xx') rolls back everything it did:
-- no half-made onward referral, no history row without its status.
-- Scope is always "admin or coordinator of the organisation that holds the
-- referral / recorded the consent"; anything else is not found.

-- Today as the API sees it (api_date compares with the UTC date), so the
-- database and the C checks agree whatever the session's TimeZone.
CREATE FUNCTION referral_today() RETURNS date LANGUAGE sql STABLE AS $$
	SELECT (now() AT TIME ZONE 'UTC')::date
$$;

CREATE FUNCTION referral_instant(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- True when `staff` may see and change referrals and consents of `org`.
CREATE FUNCTION referral_manager(p_staff bigint, p_org bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT core.has_role(p_staff, p_org, ARRAY['admin', 'coordinator']::core.staff_role[])
$$;

-- True when organisation `org` still holds `person` (a live person_org
-- link). After an erasure by that organisation its referrals and consents
-- about the person are closed to it: no change, no referring on.
CREATE FUNCTION referral_org_holds(p_org bigint, p_person bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM core.person_org po
	               WHERE po.org_id = p_org AND po.person_id = p_person)
$$;

-- One referral as `p_staff` sees it. Chain links are ids only: the
-- previous or onward referral itself stays out of reach unless the caller
-- manages its organisation too. Staff ids (created_by, history by_staff_id)
-- are shown only when that staff member shares an organisation with the
-- caller: an onward referral does not hand the sender's staff ids over.
CREATE FUNCTION referral_json(p_id bigint, p_history boolean, p_staff bigint) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT (jsonb_build_object(
		'id', r.id,
		'organisation_id', r.org_id,
		'person_id', r.person_id,
		'source', r.source,
		'referrer_name', r.referrer_name,
		'referrer_organisation', r.referrer_organisation,
		'referred_on', to_char(r.referred_on, 'YYYY-MM-DD'),
		'status', r.status,
		'eligibility', r.eligibility,
		'eligibility_rule_version', r.eligibility_rule_version,
		'eligibility_note', r.eligibility_note,
		'decision_reason', r.decision_reason,
		'risk_summary', r.risk_summary,
		'previous_referral_id', r.previous_referral_id,
		'onward_organisation_id', r.onward_org_id,
		'onward_referral_id', r.onward_referral_id,
		'consent_id', r.consent_id,
		'created_at', core.referral_instant(r.created_at),
		'created_by', core.staff_shown(p_staff, r.created_by),
		'updated_at', core.referral_instant(r.updated_at),
		'version', r.version)
	    || CASE WHEN p_history THEN jsonb_build_object('history', COALESCE(
			(SELECT jsonb_agg(jsonb_build_object(
				'from_status', h.from_status,
				'to_status', h.to_status,
				'at', core.referral_instant(h.at),
				'by_staff_id', core.staff_shown(p_staff, h.by_staff),
				'reason', h.reason) ORDER BY h.id)
			 FROM core.referral_history h WHERE h.referral_id = r.id), '[]'::jsonb))
	       ELSE '{}'::jsonb END)::json
	FROM core.referral r WHERE r.id = p_id
$$;

-- POST /referrals.
CREATE FUNCTION referral_create(p_actor bigint, p_addr inet, p_rid text, p_org bigint,
                                p_person bigint, p_source referral_source,
                                p_referrer_name text, p_referrer_org text, p_referred_on date,
                                p_risk_summary text, p_previous bigint) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	prev core.referral;
	new_id bigint;
BEGIN
	IF NOT core.referral_manager(p_actor, p_org) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	IF NOT core.referral_org_holds(p_org, p_person)
	   OR EXISTS (SELECT 1 FROM core.person p WHERE p.id = p_person AND p.erased_at IS NOT NULL)
	THEN
		RAISE EXCEPTION 'core.not_found|person_id|No such person in this organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	IF p_referred_on > core.referral_today() THEN
		RAISE EXCEPTION 'core.date_in_future|referred_on|referred_on cannot be in the future.'
			USING ERRCODE = 'WM422';
	END IF;
	IF p_previous IS NOT NULL THEN
		SELECT * INTO prev FROM core.referral r
		WHERE r.id = p_previous AND core.referral_manager(p_actor, r.org_id)
		  AND core.referral_org_holds(r.org_id, r.person_id);
		IF NOT FOUND THEN
			RAISE EXCEPTION 'core.not_found|previous_referral_id|No such referral.'
				USING ERRCODE = 'WM404';
		END IF;
		-- A chain follows one person; linking someone else's referral
		-- would mix two people's histories.
		IF prev.person_id <> p_person THEN
			RAISE EXCEPTION 'core.invalid|previous_referral_id|The previous referral is about another person.'
				USING ERRCODE = 'WM422';
		END IF;
	END IF;

	INSERT INTO core.referral (org_id, person_id, source, referrer_name, referrer_organisation,
	                           referred_on, risk_summary, previous_referral_id, created_by)
	VALUES (p_org, p_person, p_source, p_referrer_name, p_referrer_org, p_referred_on,
	        p_risk_summary, p_previous, p_actor)
	RETURNING id INTO new_id;
	INSERT INTO core.referral_history (referral_id, from_status, to_status, by_staff)
	VALUES (new_id, NULL, 'received', p_actor);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_actor, p_org, 'referral.create', 'referral', new_id, p_person, p_addr, p_rid,
	        jsonb_build_object('source', p_source, 'status', 'received',
	                           'previous_referral_id', p_previous));
	RETURN core.referral_json(new_id, true, p_actor);
END $$;

-- PATCH /referrals/{id}: `p_patch` holds only the members the request set
-- (already checked in C); JSON null clears an optional text. NULL result
-- (404) when the caller cannot see the referral, or its organisation no
-- longer holds the person (erased there). A declined or referred-on
-- referral is final: 409 core.closed, nothing changes.
CREATE FUNCTION referral_update(p_actor bigint, p_addr inet, p_rid text, p_id bigint,
                                p_patch jsonb, p_version integer) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	r core.referral;
	fields text[];
BEGIN
	SELECT * INTO r FROM core.referral x
	WHERE x.id = p_id AND core.referral_manager(p_actor, x.org_id)
	  AND core.referral_org_holds(x.org_id, x.person_id) FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF r.status IN ('declined', 'referred_on') THEN
		RAISE EXCEPTION 'core.closed||This referral is % and can no longer be changed.', r.status
			USING ERRCODE = 'WM409';
	END IF;
	IF p_version IS NOT NULL AND p_version <> r.version THEN
		RAISE EXCEPTION 'core.stale|version|The referral has changed since version % (it is now version %).',
			p_version, r.version USING ERRCODE = 'WM409';
	END IF;
	SELECT array_agg(k ORDER BY k) INTO fields FROM jsonb_object_keys(p_patch) k;
	UPDATE core.referral SET
		eligibility = CASE WHEN p_patch ? 'eligibility'
		                   THEN (p_patch->>'eligibility')::core.eligibility_result
		                   ELSE eligibility END,
		eligibility_rule_version = CASE WHEN p_patch ? 'eligibility_rule_version'
		                   THEN p_patch->>'eligibility_rule_version'
		                   ELSE eligibility_rule_version END,
		eligibility_note = CASE WHEN p_patch ? 'eligibility_note'
		                   THEN p_patch->>'eligibility_note' ELSE eligibility_note END,
		risk_summary = CASE WHEN p_patch ? 'risk_summary'
		                   THEN p_patch->>'risk_summary' ELSE risk_summary END,
		referrer_name = CASE WHEN p_patch ? 'referrer_name'
		                   THEN p_patch->>'referrer_name' ELSE referrer_name END,
		referrer_organisation = CASE WHEN p_patch ? 'referrer_organisation'
		                   THEN p_patch->>'referrer_organisation' ELSE referrer_organisation END,
		version = version + 1,
		updated_at = now()
	WHERE id = r.id;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_actor, r.org_id, 'referral.update', 'referral', r.id, r.person_id, p_addr, p_rid,
	        jsonb_build_object('fields', to_jsonb(COALESCE(fields, '{}'::text[]))));
	RETURN core.referral_json(r.id, true, p_actor);
END $$;

-- The one setter of referral.status. Refuses, changing nothing, anything
-- out of scope or whose organisation no longer holds the person (404), a
-- stale version (409), a pair missing from referral_transition (409; the
-- same status twice is not a pair either), and a referral on without an
-- onward organisation (400), to the same organisation (422), or without
-- live consent to refer to or share with that organisation (422
-- core.consent_required; an organisation that does not exist has none, so
-- the answer does not tell whether it exists). A referral on also creates
-- the onward referral in the other organisation and links the person to
-- it. The sender's own risk summary stays with the sender: the onward
-- referral carries only `p_shared_risk`, what the sender chose to share.
CREATE FUNCTION referral_set_status(p_actor bigint, p_addr inet, p_rid text, p_id bigint,
                                    p_to referral_status, p_reason text, p_onward_org bigint,
                                    p_version integer, p_shared_risk text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	r core.referral;
	today date := core.referral_today();
	v_consent bigint;
	from_name text;
	onward_id bigint;
	linked integer := 0;
BEGIN
	-- Lock first: two coordinators moving the same referral at once are
	-- serialised, and the second sees the first one's status.
	SELECT * INTO r FROM core.referral x
	WHERE x.id = p_id AND core.referral_manager(p_actor, x.org_id)
	  AND core.referral_org_holds(x.org_id, x.person_id) FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'core.not_found||No such referral.' USING ERRCODE = 'WM404';
	END IF;
	IF p_version IS NOT NULL AND p_version <> r.version THEN
		RAISE EXCEPTION 'core.stale|version|The referral has changed since version % (it is now version %).',
			p_version, r.version USING ERRCODE = 'WM409';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM core.referral_transition t
	               WHERE t.from_status = r.status AND t.to_status = p_to) THEN
		RAISE EXCEPTION 'core.illegal_transition|status|A referral cannot move from % to %.',
			r.status, p_to USING ERRCODE = 'WM409';
	END IF;

	IF p_to = 'referred_on' THEN
		IF p_onward_org IS NULL THEN
			RAISE EXCEPTION 'core.missing_field|onward_organisation_id|onward_organisation_id is required to refer on.'
				USING ERRCODE = 'WM400';
		END IF;
		IF p_onward_org = r.org_id THEN
			RAISE EXCEPTION 'core.invalid|onward_organisation_id|A referral cannot be referred on to the organisation that holds it.'
				USING ERRCODE = 'WM422';
		END IF;
		v_consent := COALESCE(
			core.consent_allows(r.person_id, r.org_id, p_onward_org, 'referral', today),
			core.consent_allows(r.person_id, r.org_id, p_onward_org,
			                    'share_with_organisation', today));
		IF v_consent IS NULL OR NOT EXISTS (
			SELECT 1 FROM core.organisation o
			WHERE o.id = p_onward_org AND o.archived_at IS NULL) THEN
			RAISE EXCEPTION 'core.consent_required|onward_organisation_id|There is no live consent to refer this person to that organisation.'
				USING ERRCODE = 'WM422';
		END IF;
		SELECT o.name INTO from_name FROM core.organisation o WHERE o.id = r.org_id;

		INSERT INTO core.referral (org_id, person_id, source, referrer_organisation, referred_on,
		                           risk_summary, previous_referral_id, consent_id, created_by)
		VALUES (p_onward_org, r.person_id, 'partner_organisation', from_name, today,
		        p_shared_risk, r.id, v_consent, p_actor)
		RETURNING id INTO onward_id;
		INSERT INTO core.referral_history (referral_id, from_status, to_status, by_staff)
		VALUES (onward_id, NULL, 'received', p_actor);
		INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
		                        person_id, remote_addr, request_id, detail)
		VALUES (p_actor, p_onward_org, 'referral.create', 'referral', onward_id, r.person_id,
		        p_addr, p_rid,
		        jsonb_build_object('source', 'partner_organisation', 'status', 'received',
		                           'previous_referral_id', r.id, 'consent_id', v_consent,
		                           'risk_summary_shared', p_shared_risk IS NOT NULL));

		INSERT INTO core.person_org (person_id, org_id, created_by)
		VALUES (r.person_id, p_onward_org, p_actor) ON CONFLICT DO NOTHING;
		GET DIAGNOSTICS linked = ROW_COUNT;
		IF linked > 0 THEN
			INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id,
			                        person_id, remote_addr, request_id, detail)
			VALUES (p_actor, r.org_id, 'person.share', 'person', r.person_id, r.person_id,
			        p_addr, p_rid,
			        jsonb_build_object('to_organisation_id', p_onward_org,
			                           'consent_id', v_consent, 'referral_id', r.id));
		END IF;
	END IF;

	UPDATE core.referral SET
		status = p_to,
		decision_reason = CASE WHEN p_to IN ('accepted', 'declined', 'waiting_list', 'referred_on')
		                       THEN p_reason ELSE decision_reason END,
		onward_org_id = CASE WHEN p_to = 'referred_on' THEN p_onward_org ELSE onward_org_id END,
		onward_referral_id = CASE WHEN p_to = 'referred_on' THEN onward_id
		                          ELSE onward_referral_id END,
		consent_id = CASE WHEN p_to = 'referred_on' THEN v_consent ELSE consent_id END,
		version = version + 1,
		updated_at = now()
	WHERE id = r.id;
	INSERT INTO core.referral_history (referral_id, from_status, to_status, by_staff, reason)
	VALUES (r.id, r.status, p_to, p_actor, p_reason);
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_actor, r.org_id, 'referral.status', 'referral', r.id, r.person_id, p_addr, p_rid,
	        jsonb_build_object('from', r.status, 'to', p_to)
	        || CASE WHEN p_to = 'referred_on'
	                THEN jsonb_build_object('onward_organisation_id', p_onward_org,
	                                        'onward_referral_id', onward_id,
	                                        'consent_id', v_consent)
	                ELSE '{}'::jsonb END);
	RETURN core.referral_json(r.id, true, p_actor);
END $$;

-- --- Consent ------------------------------------------------------------

CREATE FUNCTION consent_json(c consent) RETURNS json LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
		'id', c.id,
		'organisation_id', c.org_id,
		'person_id', c.person_id,
		'purpose', c.purpose,
		'recipient_organisation_id', c.recipient_org_id,
		'scope', c.scope,
		'given_on', to_char(c.given_on, 'YYYY-MM-DD'),
		'given_by', c.given_by,
		'note', c.note,
		'recorded_at', core.referral_instant(c.recorded_at),
		'recorded_by', c.recorded_by,
		'withdrawn_on', to_char(c.withdrawn_on, 'YYYY-MM-DD'),
		'withdrawn_recorded_by', c.withdrawn_recorded_by,
		'live', c.given_on <= core.referral_today()
		        AND (c.withdrawn_on IS NULL OR c.withdrawn_on > core.referral_today()))
$$;

-- POST /people/{id}/consents.
CREATE FUNCTION consent_create(p_actor bigint, p_addr inet, p_rid text, p_person bigint,
                               p_org bigint, p_purpose consent_purpose, p_recipient bigint,
                               p_scope text, p_given_on date, p_given_by consent_giver,
                               p_note text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	c core.consent;
BEGIN
	IF NOT core.referral_manager(p_actor, p_org) THEN
		RAISE EXCEPTION 'core.not_found|organisation_id|No such organisation.'
			USING ERRCODE = 'WM404';
	END IF;
	IF NOT core.referral_org_holds(p_org, p_person)
	   OR EXISTS (SELECT 1 FROM core.person p WHERE p.id = p_person AND p.erased_at IS NOT NULL)
	THEN
		RAISE EXCEPTION 'core.not_found||No such person.' USING ERRCODE = 'WM404';
	END IF;
	IF p_purpose IN ('share_with_organisation', 'referral') AND p_recipient IS NULL THEN
		RAISE EXCEPTION 'core.missing_field|recipient_organisation_id|recipient_organisation_id is required for this purpose.'
			USING ERRCODE = 'WM400';
	END IF;
	-- Unknown, archived or the recording organisation itself: one answer,
	-- so the reply does not tell an unknown id from an archived one.
	IF p_recipient IS NOT NULL AND (p_recipient = p_org OR NOT EXISTS (
		SELECT 1 FROM core.organisation o WHERE o.id = p_recipient AND o.archived_at IS NULL))
	THEN
		RAISE EXCEPTION 'core.invalid|recipient_organisation_id|The recipient must be another organisation, not archived.'
			USING ERRCODE = 'WM422';
	END IF;
	IF p_given_on > core.referral_today() THEN
		RAISE EXCEPTION 'core.date_in_future|given_on|given_on cannot be in the future.'
			USING ERRCODE = 'WM422';
	END IF;
	INSERT INTO core.consent (org_id, person_id, purpose, recipient_org_id, scope, given_on,
	                          given_by, recorded_by, note)
	VALUES (p_org, p_person, p_purpose, p_recipient, p_scope, p_given_on,
	        COALESCE(p_given_by, 'self'), p_actor, p_note)
	RETURNING * INTO c;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_actor, p_org, 'consent.create', 'consent', c.id, p_person, p_addr, p_rid,
	        jsonb_build_object('purpose', p_purpose, 'recipient_organisation_id', p_recipient,
	                           'given_by', c.given_by));
	RETURN core.consent_json(c);
END $$;

-- POST /consents/{id}/withdraw. NULL result (404) when out of scope or
-- when the recording organisation no longer holds the person.
CREATE FUNCTION consent_withdraw(p_actor bigint, p_addr inet, p_rid text, p_id bigint,
                                 p_on date) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	c core.consent;
BEGIN
	SELECT * INTO c FROM core.consent x
	WHERE x.id = p_id AND core.referral_manager(p_actor, x.org_id)
	  AND core.referral_org_holds(x.org_id, x.person_id) FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF c.withdrawn_on IS NOT NULL THEN
		RAISE EXCEPTION 'core.already_withdrawn||This consent was already withdrawn.'
			USING ERRCODE = 'WM409';
	END IF;
	IF p_on < c.given_on THEN
		RAISE EXCEPTION 'core.invalid|withdrawn_on|withdrawn_on cannot be before given_on.'
			USING ERRCODE = 'WM422';
	END IF;
	IF p_on > core.referral_today() THEN
		RAISE EXCEPTION 'core.date_in_future|withdrawn_on|withdrawn_on cannot be in the future.'
			USING ERRCODE = 'WM422';
	END IF;
	UPDATE core.consent SET withdrawn_on = p_on, withdrawn_recorded_by = p_actor
	WHERE id = c.id RETURNING * INTO c;
	INSERT INTO core.audit (actor_staff_id, org_id, action, object_type, object_id, person_id,
	                        remote_addr, request_id, detail)
	VALUES (p_actor, c.org_id, 'consent.withdraw', 'consent', c.id, c.person_id, p_addr, p_rid,
	        jsonb_build_object('purpose', c.purpose,
	                           'recipient_organisation_id', c.recipient_org_id));
	RETURN core.consent_json(c);
END $$;

-- Lists filter on these.
CREATE INDEX referral_previous ON referral (previous_referral_id)
	WHERE previous_referral_id IS NOT NULL;

-- Defence in depth: whatever writes core.referral, a status only ever moves
-- along core.referral_transition (referral_set_status checks first and gives
-- the clear answer; this refuses any other path the same way).
CREATE FUNCTION referral_status_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM core.referral_transition t
	               WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
		RAISE EXCEPTION 'core.illegal_transition|status|A referral cannot move from % to %.',
			OLD.status, NEW.status USING ERRCODE = 'WM409';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER referral_status_transition BEFORE UPDATE OF status ON referral
	FOR EACH ROW EXECUTE FUNCTION referral_status_guard();
