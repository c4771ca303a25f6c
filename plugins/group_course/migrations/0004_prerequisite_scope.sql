-- group_course 0004: an admission sees only the completions it may see.
--
-- Eligibility checks a course's prerequisites against the courses the
-- person completed. Whether someone completed a course of another
-- organisation is that organisation's record: until now any completion
-- counted, so a coordinator could list another organisation's programme as
-- a prerequisite and read, off the eligibility result, whether a person
-- they share completed it. Now a completion counts when its course belongs
-- to the admitting course's organisation, or when the person has a live
-- consent for the other organisation to share with this one (the core's
-- consent_allows, as onward referrals use it). Without one, the
-- prerequisite is simply not met, as for someone who never took it.
--
-- Runs with search_path = group_course; everything is qualified.

CREATE OR REPLACE FUNCTION person_facts(pr core.programme, p_person bigint, p_on date)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'on', to_char(p_on, 'YYYY-MM-DD'),
		'person', jsonb_build_object('id', p.id,
			'age', CASE WHEN p.date_of_birth IS NOT NULL
			            THEN date_part('year', age(p_on, p.date_of_birth))::integer END,
			'sex', p.sex, 'is_participant', p.is_participant,
			'custody_status', p.custody_status,
			'expected_release_date', to_char(p.expected_release_date, 'YYYY-MM-DD'),
			'days_to_release', p.expected_release_date - p_on, 'area', p.area),
		'consent', EXISTS (
			SELECT 1 FROM core.consent c
			WHERE c.person_id = p.id AND c.org_id = pr.org_id
			  AND c.purpose = 'programme_participation' AND c.given_on <= p_on
			  AND (c.withdrawn_on IS NULL OR c.withdrawn_on > p_on)),
		'completed_programmes', coalesce((
			SELECT jsonb_agg(DISTINCT c.programme_id)
			FROM core.enrolment e
			JOIN core.cohort c ON c.id = e.cohort_id
			JOIN core.programme done ON done.id = c.programme_id
			JOIN core.completion cp ON cp.enrolment_id = e.id AND cp.result = 'completed'
			WHERE e.person_id = p.id
			  AND c.programme_id IN (
			      SELECT (x->>'programme_id')::bigint
			      FROM jsonb_array_elements(coalesce(pr.settings->'prerequisites', '[]'))
			           x)
			  AND (done.org_id = pr.org_id
			       OR core.consent_allows(p.id, done.org_id, pr.org_id,
			                              'share_with_organisation', p_on) IS NOT NULL)),
			'[]'::jsonb))
	FROM core.person p WHERE p.id = p_person
$$;
