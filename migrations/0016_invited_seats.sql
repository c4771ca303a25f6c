-- 0016: sessions of a cohort meant for some of its people only.
--
-- A catch-up session belongs to its cohort (it covers one of the cohort's
-- modules, and completion must see it) but is held for the one or two
-- people who missed that module. Until now every session of a cohort
-- seated every enrolled person, so a catch-up made everyone else "expected"
-- and would have recorded an absence against them. Now a catch-up seats
-- only the people invited to it (seat source 'invited', written by whoever
-- arranges the catch-up), seat_sync_cohort leaves catch-ups alone, and the
-- completion facts call a catch-up expected only for a person it seats.

ALTER TABLE core.seat DROP CONSTRAINT seat_source_check;
ALTER TABLE core.seat ADD CONSTRAINT seat_source_check
	CHECK (source IN ('enrolment', 'booking', 'invited'));

CREATE OR REPLACE FUNCTION core.seat_sync_cohort(p_cohort bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	-- Deactivate first, so a seat that moves out of the way never clashes
	-- with one that moves in. Catch-ups never carry enrolment seats.
	UPDATE core.seat st SET active = false
	FROM core.session s
	WHERE st.session_id = s.id AND s.cohort_id = p_cohort AND st.source = 'enrolment'
	  AND st.active
	  AND (s.catch_up OR NOT (s.status = 'scheduled' AND EXISTS (
		SELECT 1 FROM core.enrolment e
		WHERE e.cohort_id = p_cohort AND e.person_id = st.person_id
		  AND core.enrolment_expects(e.id, s.starts_at))));
	INSERT INTO core.seat (session_id, person_id, source, during, active)
	SELECT s.id, e.person_id, 'enrolment', s.during, true
	FROM core.session s JOIN core.enrolment e ON e.cohort_id = s.cohort_id
	WHERE s.cohort_id = p_cohort AND s.status = 'scheduled' AND NOT s.catch_up
	  AND core.enrolment_expects(e.id, s.starts_at)
	ON CONFLICT (session_id, person_id) DO UPDATE SET active = true, during = EXCLUDED.during
	WHERE core.seat.source = 'enrolment' AND NOT core.seat.active;
END $$;

CREATE OR REPLACE FUNCTION core.enrolment_facts(p_enrolment bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'enrolment', jsonb_build_object('id', e.id, 'cohort_id', e.cohort_id,
			'person_id', e.person_id, 'joined_on', e.joined_on, 'status', e.status,
			'left_on', e.left_on, 'left_reason', e.left_reason),
		'programme', jsonb_build_object('id', pr.id, 'type', pr.type, 'settings', pr.settings),
		'cohort', jsonb_build_object('id', c.id, 'starts_on', c.starts_on, 'ends_on', c.ends_on),
		'sessions', coalesce((
			SELECT jsonb_agg(jsonb_build_object(
				'id', s.id, 'starts_at', core.utc_text(s.starts_at), 'status', s.status,
				'module', s.module, 'catch_up', s.catch_up,
				'expected', s.status = 'scheduled'
				            AND coalesce(core.enrolment_expects(e.id, s.starts_at), false)
				            AND (NOT s.catch_up OR EXISTS (
				                SELECT 1 FROM core.seat st
				                WHERE st.session_id = s.id AND st.person_id = e.person_id
				                  AND st.source = 'invited' AND st.active)),
				'attendance', CASE WHEN a.session_id IS NOT NULL THEN jsonb_build_object(
					'code', oc.code, 'attended', oc.attended, 'compliant', oc.compliant,
					'reason_class', oc.reason_class, 'late_minutes', a.late_minutes) END)
				ORDER BY s.starts_at, s.id)
			FROM core.session s
			LEFT JOIN core.attendance a ON a.session_id = s.id AND a.person_id = e.person_id
			LEFT JOIN core.outcome_code oc ON oc.id = a.outcome_code_id
			WHERE s.cohort_id = e.cohort_id), '[]'::jsonb),
		'now', core.utc_text(core.clock()))
	FROM core.enrolment e
	JOIN core.cohort c ON c.id = e.cohort_id
	JOIN core.programme pr ON pr.id = c.programme_id
	WHERE e.id = p_enrolment
$$;
