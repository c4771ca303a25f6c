/*
 * api_register — the core's resource routes, one line per api_<resource>.c.
 * Each registers its routes (with the roles that may call them) and declares
 * its prepared statements on the pool.
 */
#include "api.h"
#include "server.h"

wm_status api_register_all(struct server *srv)
{
	wm_status (*const all[])(struct server *) = {
	    api_orgs_register,       api_staff_register,        api_tokens_register,
	    api_login_register,      api_people_register,       api_assignments_register,
	    api_flags_register,      api_households_register,   api_nonassoc_register,
	    api_consents_register,   api_referrals_register,    api_audit_register,
	    api_subject_register,    api_reports_register,      api_programmes_register,
	    api_venues_register,     api_closures_register,     api_bookings_register,
	    api_outcomes_register,   api_register_att_register, api_cohorts_register,
	    api_enrolments_register, api_alerts_register,       api_milestones_register,
	    api_sessions_register,   api_series_register,       api_feeds_register,
	};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i](srv) != WM_OK)
			return WM_ERR;
	return WM_OK;
}
