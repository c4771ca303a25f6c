/*
 * The authorisation matrix: every route the router has, called by every kind
 * of caller, on an object of the caller's own organisation, of another
 * organisation and of another caseload, over HTTP against the real server
 * and database. No broken object-level authorisation anywhere:
 *
 *   anonymous                         -> 401 core.unauthenticated
 *   a role the route does not allow   -> 403 core.forbidden
 *   allowed, object out of scope      -> 404 core.not_found, and nothing changed
 *   allowed, object in scope          -> the route's success status
 *
 * Routes come from GET /api/v1/openapi.json, which is built from the router:
 * a route without a rule in tests/authz/tables.h fails the test, and so does a
 * rule for a route the router no longer has. Each rule repeats the route's
 * access list (checked against the document), says which kind of object its
 * path parameters name and who may touch such an object. Lists are checked
 * item by item against who may see what, computed from the tables directly.
 *
 * Objects that a successful call destroys or changes for good (flags,
 * tokens, memberships, erasure, referral status ...) are made fresh, in SQL,
 * for every call, so the order of the calls does not matter.
 *
 * Every record an organisation keeps carries its marker in its free text
 * ("A-SECRET ..."): no reply to anyone but that organisation's admins and
 * coordinators may ever show it, and no audit row may hold it. A second
 * test mixes objects: an own object next to a foreign one in the path, the
 * body or a filter, a person both organisations hold (each sees only what
 * it recorded), and one organisation erasing that person (the other's
 * records stay).
 */
#include <check.h>
#include <ctype.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ts.h"

/* The tables (rules, callers, mixed requests) and the fixtures. */
#include "../authz/fixtures.h"

/* --- templates ------------------------------------------------------------ */

static void append(char *out, size_t n, size_t *len, const char *s, size_t sl)
{
	ck_assert_msg(*len + sl < n, "expanded text too long");
	memcpy(out + *len, s, sl);
	*len += sl;
	out[*len] = '\0';
}

/* Fills {{org}} {{p1}} {{id}} {{u}} {{staff}} {{fperson}} {{fstaff}}. */
static void expand(const char *tpl, const struct caller *c, const struct obj *o, char *out,
                   size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (const char *p = tpl; p && *p;) {
		const char *end = p[0] == '{' && p[1] == '{' ? strstr(p, "}}") : NULL;
		if (!end) {
			append(out, n, &len, p, 1);
			p++;
			continue;
		}
		char key[32], val[64];
		snprintf(key, sizeof key, "%.*s", (int)(end - p - 2), p + 2);
		int org = o->org >= 0 ? o->org : 0;
		if (!strcmp(key, "org"))
			snprintf(val, sizeof val, "%lld", fx[org].org);
		else if (!strcmp(key, "p1"))
			snprintf(val, sizeof val, "%lld", fx[org].p1);
		else if (!strcmp(key, "id"))
			snprintf(val, sizeof val, "%lld", o->id);
		else if (!strcmp(key, "L"))
			snprintf(val, sizeof val, "%c", 'A' + org);
		else if (!strcmp(key, "u"))
			snprintf(val, sizeof val, "%d", ++uniq);
		else if (!strcmp(key, "staff"))
			snprintf(val, sizeof val, "%lld", c->staff);
		else if (!strcmp(key, "fperson"))
			snprintf(val, sizeof val, "%lld", new_person(org, "Jo", "1988-08-08"));
		else if (!strcmp(key, "fstaff"))
			snprintf(val, sizeof val, "%lld", new_staff(org, "facilitator"));
		else
			ck_abort_msg("unknown template key {{%s}}", key);
		append(out, n, &len, val, strlen(val));
		p = end + 2;
	}
}

/* The route's pattern with its {parameters} replaced by the object's. */
static void fill_path(const char *pattern, const struct obj *o, char *out, size_t n)
{
	size_t len = 0, k = 0;
	out[0] = '\0';
	for (const char *p = pattern; *p;) {
		const char *end = *p == '{' ? strchr(p, '}') : NULL;
		if (!end) {
			append(out, n, &len, p, 1);
			p++;
			continue;
		}
		ck_assert_msg(k < 3, "%s: too many parameters", pattern);
		append(out, n, &len, o->p[k], strlen(o->p[k]));
		k++;
		p = end + 1;
	}
}

/* --- failures ------------------------------------------------------------- */

static char failures[3500]; /* Check caps its message; all go to stderr */
static size_t failures_len;
static int nfail;

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "authz: %s\n", line);
	nfail++;
	if (failures_len + 305 < sizeof failures)
		failures_len += (size_t)snprintf(
		    failures + failures_len, sizeof failures - failures_len, "\n  %.300s", line);
}

/* --- the document --------------------------------------------------------- */

static unsigned access_of(const json_t *list)
{
	static const char *const names[] = {"admin", "coordinator", "facilitator", "mentor",
	                                    "commissioner"};
	unsigned mask = 0;
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		const char *s = json_string_value(v);
		int known = 0;
		for (unsigned b = 0; s && b < 5; b++)
			if (!strcmp(s, names[b])) {
				mask |= 1u << b;
				known = 1;
			}
		if (s && !strcmp(s, "public")) {
			mask |= R_PUB;
			known = 1;
		}
		if (s && !strcmp(s, "server_admin")) {
			mask |= R_SA;
			known = 1;
		}
		if (!known)
			mask |= 1u << 20; /* something this test does not know */
	}
	return mask;
}

static struct rule *find_rule(const char *method, const char *path)
{
	for (size_t i = 0; i < NRULES; i++)
		if (!strcasecmp(rules[i].method, method) && !strcmp(rules[i].path, path))
			return &rules[i];
	return NULL;
}

/* Reads the served document: marks each rule present, and fails for a
 * route without a rule or whose access differs from the rule's. */
static int load_document(int report)
{
	struct ts_response r;
	ck_assert_int_eq(ts_http(&srv, "GET", V1 "/openapi.json", NULL, NULL, 0, 10000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	json_t *doc = ts_json(&r);
	ts_response_free(&r);
	ck_assert_ptr_nonnull(doc);
	json_t *paths = json_object_get(doc, "paths");
	ck_assert_msg(json_is_object(paths), "the document has no paths");
	int n = 0;
	const char *path;
	json_t *item;
	json_object_foreach(paths, path, item)
	{
		const char *method;
		json_t *op;
		json_object_foreach(item, method, op)
		{
			n++;
			struct rule *rule = find_rule(method, path);
			char up[16];
			size_t j = 0;
			for (; method[j] && j < sizeof up - 1; j++)
				up[j] = (char)toupper((unsigned char)method[j]);
			up[j] = '\0';
			if (!rule) {
				if (report)
					bad("route %s %s has no rule in the authorisation matrix: "
					    "add one to tests/authz/tables.h",
					    up, path);
				continue;
			}
			rule->present = 1;
			if (!report)
				continue;
			unsigned got = access_of(json_object_get(op, "x-waymark-access"));
			if (got != rule->access) {
				char *a = json_dumps(json_object_get(op, "x-waymark-access"),
				                     JSON_COMPACT);
				bad("%s %s: x-waymark-access is %s, the contract says mask 0x%x "
				    "(got 0x%x)",
				    up, path, a ? a : "(none)", rule->access, got);
				free(a);
			}
			json_t *sec = json_object_get(op, "security");
			int open = json_is_array(sec) && json_array_size(sec) == 0;
			if (open != (rule->access == R_PUB))
				bad("%s %s: \"security\" says %s, the rule says %s", up, path,
				    open ? "public" : "credentials",
				    rule->access == R_PUB ? "public" : "credentials");
			char st[8];
			snprintf(st, sizeof st, "%d", rule->status);
			if (!json_object_get(json_object_get(op, "responses"), st))
				bad("%s %s: the document lists no %s response", up, path, st);
		}
	}
	json_decref(doc);
	return n;
}

/* --- one call ------------------------------------------------------------- */

static int requests, outcomes[4]; /* expected 2xx, 401, 403, 404 */

/* A reply must never carry another organisation's free text; a mentor,
 * facilitator, commissioner or server admin sees none at all. */
static void check_secrets(const struct caller *c, const char *body, const char *what)
{
	for (int o = 0; body && o < 2; o++) {
		char marker[16];
		snprintf(marker, sizeof marker, "%c-SECRET", 'A' + o);
		if (c->org == o && (c->role & (R_ADM | R_CO)))
			continue;
		const char *at = strstr(body, marker);
		if (at)
			bad("%s as %s: the reply shows org %c's record (\"%.40s\")", what, c->name,
			    'A' + o, at);
	}
}

static int has_id(const char *set, long long id)
{
	char needle[32];
	snprintf(needle, sizeof needle, ",%lld,", id);
	return strstr(set, needle) != NULL;
}

/* Walks every page of a list reply and checks each item is the caller's to
 * see; the caller's own standing object of the kind must be among them. */
static void check_list(const struct rule *r, const struct caller *c, const char *path,
                       const char *auth, json_t *first, int witness)
{
	struct obj none = {.org = -1};
	char q[2048], *set;
	expand(r->list_sql, c, &none, q, sizeof q);
	set = sql_value("SELECT ',' || coalesce(string_agg(id::text, ','), '') || ','"
	                " FROM (%s) x(id)",
	                q);
	struct obj w;
	fixture_obj(r->kind, c->org >= 0 ? c->org : 0, 0, &w);
	int want_witness = witness && in_scope(r, c, &w), saw_witness = 0;
	json_t *page = json_incref(first);
	for (int pages = 0; page && pages < 100; pages++) {
		json_t *items = json_object_get(page, "items");
		if (!json_is_array(items)) {
			bad("GET %s as %s: the reply has no \"items\" array", r->path, c->name);
			break;
		}
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			json_t *id = json_object_get(it, "id");
			if (!json_is_integer(id)) {
				bad("GET %s as %s: an item without an integer id", r->path,
				    c->name);
				continue;
			}
			long long v = json_integer_value(id);
			if (v == w.id)
				saw_witness = 1;
			if (!has_id(set, v))
				bad("GET %s as %s: lists id %lld, which is not the caller's to see "
				    "(another organisation or caseload)",
				    r->path, c->name, v);
		}
		json_t *next = json_object_get(page, "next_cursor");
		if (!next || json_is_null(next))
			break;
		char cur[32], url[512];
		if (json_is_integer(next))
			snprintf(cur, sizeof cur, "%lld", (long long)json_integer_value(next));
		else
			snprintf(cur, sizeof cur, "%s",
			         json_string_value(next) ? json_string_value(next) : "");
		snprintf(url, sizeof url, "%s&cursor=%s", path, cur);
		struct ts_response resp;
		ck_assert_int_eq(ts_http(&srv, "GET", url, auth, NULL, 0, 10000, &resp), 0);
		requests++;
		json_decref(page);
		page = NULL;
		if (resp.status != 200)
			bad("GET %s as %s: next page: %d %s", url, c->name, resp.status, resp.body);
		else
			page = ts_json(&resp);
		check_secrets(c, resp.body, url);
		ts_response_free(&resp);
	}
	json_decref(page);
	if (want_witness && !saw_witness)
		bad("GET %s as %s: %s (id %lld) is the caller's to see but is not listed", r->path,
		    c->name, w.label, w.id);
	free(set);
}

static void call(const struct rule *r, struct caller *c, struct obj *o)
{
	char path[512], query[256] = "", body[1024] = "", fp_q[1024] = "", auth[256] = "";
	if (r->kind >= K_PERSON_NEW)
		fresh_obj(r->kind, o);
	fill_path(r->path, o, path, sizeof path);
	if (r->query)
		expand(r->query, c, o, query, sizeof query);
	else if (r->list_sql)
		snprintf(query, sizeof query, "?limit=%d", r->flags & F_NOTES ? 50 : 200);
	strncat(path, query, sizeof path - strlen(path) - 1);
	if (r->body)
		expand(r->body, c, o, body, sizeof body);
	if (r->fp_sql)
		expand(r->fp_sql, c, o, fp_q, sizeof fp_q);

	char *token = c->token ? strdup(c->token) : NULL;
	if ((r->flags & F_LOGOUT) && token) {
		/* Signing out may revoke the credential used: use one of its own. */
		free(token);
		token = ts_staff_token(db, "Matrix token org", c->email, NULL, c->sa);
	}
	if (token)
		snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
	if (r->body)
		strncat(auth, "Content-Type: application/json\r\n", sizeof auth - strlen(auth) - 1);
	free(token);

	/* What the caller should get. */
	int want;
	const char *want_code = NULL;
	if (r->access == R_PUB) {
		want = r->flags & F_LOGIN ? 401 : r->status;
		want_code = r->flags & F_LOGIN ? "core.bad_credentials" : NULL;
	} else if (!c->token) {
		want = 401, want_code = "core.unauthenticated";
	} else if (!(c->role & r->access) && !(c->sa && (r->access & R_SA))) {
		want = 403, want_code = "core.forbidden";
	} else if (!r->list_sql && !in_scope(r, c, o)) {
		want = 404, want_code = r->not_found ? r->not_found : "core.not_found";
	} else {
		want = r->status;
	}

	outcomes[want == 401 ? 1 : want == 403 ? 2 : want == 404 ? 3 : 0]++;
	char *before = fp_q[0] ? sql_value("%s", fp_q) : NULL;
	struct ts_response resp;
	ck_assert_int_eq(ts_http(&srv, r->method, path, auth[0] ? auth : NULL,
	                         r->body ? body : NULL, strlen(body), 10000, &resp),
	                 0);
	requests++;
	char *code = ts_error_code(&resp);
	char what[600];
	snprintf(what, sizeof what, "%s %s on %s", r->method, r->path, o->label);
	check_secrets(c, resp.body, what);
	if (resp.status != want || (want_code && (!code || strcmp(code, want_code)))) {
		bad("%s %s as %s on %s: got %d %s, expected %d %s%s%.200s", r->method, r->path,
		    c->name, o->org >= 0 ? o->label : "-", resp.status, code ? code : "", want,
		    want_code ? want_code : "", resp.status >= 400 ? " | " : "",
		    resp.status >= 400 ? resp.body : "");
	} else if (want >= 400 && before) {
		char *after = sql_value("%s", fp_q);
		if (!after || strcmp(before, after))
			bad("%s %s as %s on %s: refused with %d but the object changed (%s -> %s)",
			    r->method, r->path, c->name, o->label, want, before,
			    after ? after : "(gone)");
		free(after);
	} else if (want < 300 && !strcmp(r->method, "GET")) {
		json_t *doc = ts_json(&resp);
		if (r->list_sql) {
			check_list(r, c, path, auth, doc, 1);
		} else if (r->flags & F_ME) {
			json_t *id = json_object_get(doc, "id");
			if (!json_is_integer(id) || json_integer_value(id) != c->staff)
				bad("GET %s as %s: the reply is not the caller (id %lld)", r->path,
				    c->name, c->staff);
		} else if (r->kind != K_NONE && json_object_get(doc, "id") &&
		           json_integer_value(json_object_get(doc, "id")) != o->id) {
			bad("GET %s as %s on %s: the reply is another object (id %lld, expected "
			    "%lld)",
			    r->path, c->name, o->label,
			    (long long)json_integer_value(json_object_get(doc, "id")), o->id);
		}
		json_decref(doc);
	}
	free(before);
	free(code);
	ts_response_free(&resp);
}

/* --- the tests ------------------------------------------------------------ */

static int starts(const char *path, const char *prefix)
{
	return !strncmp(path, prefix, strlen(prefix));
}

/* The role-level promises of the contract, on the table (which the
 * document must match, and the matrix then enforces live). */
static void check_contract(void)
{
	static const char *const no_commissioner[] = {
	    V1 "/people",   V1 "/households",       V1 "/flags",       V1 "/referrals",
	    V1 "/consents", V1 "/non-associations", V1 "/assignments", V1 "/audit"};
	static const char *const no_caseload[] = {V1 "/households",       V1 "/flags",
	                                          V1 "/non-associations", V1 "/referrals",
	                                          V1 "/consents",         V1 "/audit"};
	for (size_t i = 0; i < NRULES; i++) {
		const struct rule *r = &rules[i];
		for (size_t k = 0; k < sizeof no_commissioner / sizeof no_commissioner[0]; k++)
			if (starts(r->path, no_commissioner[k]) && (r->access & R_COM))
				bad("%s %s: commissioners must never reach people data", r->method,
				    r->path);
		int caseload_barred = strstr(r->path, "/flags") || strstr(r->path, "/consents") ||
		                      strstr(r->path, "/export") || strstr(r->path, "/erase") ||
		                      strstr(r->path, "/assignments");
		for (size_t k = 0; k < sizeof no_caseload / sizeof no_caseload[0]; k++)
			caseload_barred |= starts(r->path, no_caseload[k]);
		if (caseload_barred && (r->access & (R_FAC | R_MEN)))
			bad("%s %s: mentors and facilitators must not reach it", r->method,
			    r->path);
		int create_org =
		    !strcmp(r->method, "POST") && !strcmp(r->path, V1 "/organisations");
		if (create_org != (r->access == R_SA))
			bad("%s %s: only POST /organisations is for the server admin alone",
			    r->method, r->path);
		if (r->access != R_PUB && (r->access & R_PUB))
			bad("%s %s: public mixed with roles", r->method, r->path);
	}
}

START_TEST(every_route_has_a_rule)
{
	nfail = 0;
	failures_len = 0;
	int ops = load_document(1);
	for (size_t i = 0; i < NRULES; i++)
		if (!rules[i].present)
			bad("rule for %s %s names a route the router does not have (stale rule)",
			    rules[i].method, rules[i].path);
	check_contract();
	fprintf(stderr, "authz: %d operations in the document, %zu rules\n", ops, NRULES);
	ck_assert_msg(nfail == 0, "%d problems:%s", nfail, failures);
}
END_TEST

START_TEST(matrix)
{
	nfail = 0;
	failures_len = 0;
	load_document(0);
	pg_open();
	double t0 = ts_now();
	int routes = 0, skipped = 0;
	for (size_t i = 0; i < NRULES; i++) {
		struct rule *r = &rules[i];
		if (!r->present) {
			skipped++;
			continue;
		}
		routes++;
		for (size_t ci = 0; ci < NCALLERS; ci++) {
			struct caller *c = &callers[ci];
			/* Public routes: anonymous and one signed-in caller are enough,
			 * and signing in twice per caller would trip the slow-down. */
			if (r->access == R_PUB && ci != 0 && ci != 1)
				continue;
			if (r->kind == K_NONE || r->list_sql) {
				struct obj o = {.label = "-", .org = -1};
				if (r->list_sql)
					fixture_obj(r->kind, c->org >= 0 ? c->org : 0, 0, &o);
				call(r, c, &o);
				continue;
			}
			for (int org = 0; org < 2; org++) {
				struct obj o;
				int n = fixture_obj(r->kind, org, 0, &o);
				for (int w = 0; w < n; w++) {
					fixture_obj(r->kind, org, w, &o);
					call(r, c, &o);
				}
			}
		}
	}
	/* The audit log names fields, never what was written in them. */
	char *leak =
	    sql_value("SELECT count(*) FROM core.audit WHERE detail::text LIKE '%%SECRET%%'");
	if (!leak || strcmp(leak, "0"))
		bad("%s audit rows carry free text written through the API in their detail",
		    leak ? leak : "?");
	free(leak);
	pg_close();
	fprintf(
	    stderr,
	    "authz matrix: %d routes x %zu callers (anonymous; per organisation the 5 roles and "
	    "mentors/facilitators off the caseload; server admin) x own/other-organisation/"
	    "other-caseload objects: %d requests in "
	    "%.1f s (expected: %d success, %d 401, %d 403, %d 404), %d failures%s\n",
	    routes, NCALLERS, requests, ts_now() - t0, outcomes[0], outcomes[1], outcomes[2],
	    outcomes[3], nfail, skipped ? " (some rules have no route yet)" : "");
	ck_assert_msg(nfail == 0, "%d authorisation failures (the first; all on stderr):%s", nfail,
	              failures);
}
END_TEST

static long long fx_field(int o, const char *name)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
#define FIELD(f) {#f, offsetof(struct fixture, f)}
	    FIELD(org),        FIELD(p1),
	    FIELD(p2),         FIELD(child),
	    FIELD(hh),         FIELD(flag),
	    FIELD(na),         FIELD(consent),
	    FIELD(referral),   FIELD(assign),
	    FIELD(admin),      FIELD(facilitator),
	    FIELD(mentor),     FIELD(facilitator_other),
	    FIELD(ps),         FIELD(ps_flag),
	    FIELD(ps_hh),      FIELD(ps_na),
	    FIELD(ps_consent), FIELD(ps_referral),
	    FIELD(ps_assign),
#undef FIELD
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!strcmp(fields[i].name, name))
			return *(const long long *)((const char *)&fx[o] + fields[i].off);
	ck_abort_msg("no fixture field %s", name);
	return 0;
}

/* Fills {{a.x}} and {{b.x}}. */
static void expand_fx(const char *tpl, char *out, size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (const char *p = tpl; p && *p;) {
		const char *end = p[0] == '{' && p[1] == '{' ? strstr(p, "}}") : NULL;
		if (!end) {
			append(out, n, &len, p, 1);
			p++;
			continue;
		}
		char key[32], val[32];
		snprintf(key, sizeof key, "%.*s", (int)(end - p - 2), p + 2);
		ck_assert_msg((key[0] == 'a' || key[0] == 'b') && key[1] == '.', "bad key %s", key);
		snprintf(val, sizeof val, "%lld", fx_field(key[0] - 'a', key + 2));
		append(out, n, &len, val, strlen(val));
		p = end + 2;
	}
}

static struct caller *caller_named(const char *name)
{
	for (size_t i = 0; i < NCALLERS; i++)
		if (!strcmp(callers[i].name, name))
			return &callers[i];
	ck_abort_msg("no caller %s", name);
	return NULL;
}

static int is_not_found(int status, const char *code)
{
	return status == 404 && code && !strcmp(code, "core.not_found");
}

static int cross_ok(int expect, int status, const char *code, int twin_status,
                    const char *twin_code)
{
	switch (expect) {
	case X_TWIN:
		return status >= 400 && status == twin_status && code && twin_code &&
		       !strcmp(code, twin_code);
	case X_2XX:
		return status / 100 == 2;
	case X_LIST:
		return status == 200 || is_not_found(status, code);
	case 404:
		return is_not_found(status, code);
	default:
		return status == expect;
	}
}

static const char *expect_text(int expect)
{
	switch (expect) {
	case X_TWIN:
		return "the same refusal as for an unused id";
	case X_2XX:
		return "2xx";
	case X_LIST:
		return "200 or 404 core.not_found";
	case 404:
		return "404 core.not_found";
	default:
		return "200";
	}
}

START_TEST(mixed_objects)
{
	nfail = 0;
	failures_len = 0;
	pg_open();
	for (size_t i = 0; i < sizeof crosses / sizeof crosses[0]; i++) {
		const struct cross *x = &crosses[i];
		struct caller *c = caller_named(x->caller);
		char path[512], body[1024] = "", fp_q[1024] = "", auth[256];
		expand_fx(x->path, path, sizeof path);
		if (x->body)
			expand_fx(x->body, body, sizeof body);
		if (x->fp_sql)
			expand_fx(x->fp_sql, fp_q, sizeof fp_q);
		snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n%s", c->token,
		         x->body ? "Content-Type: application/json\r\n" : "");
		int twin_status = 0;
		char *twin_code = NULL;
		if (x->twin) {
			char tb[1024];
			struct ts_response tr;
			expand_fx(x->twin, tb, sizeof tb);
			ck_assert_int_eq(
			    ts_http(&srv, x->method, path, auth, tb, strlen(tb), 10000, &tr), 0);
			requests++;
			twin_status = tr.status;
			twin_code = ts_error_code(&tr);
			ts_response_free(&tr);
		}
		char *before = fp_q[0] ? sql_value("%s", fp_q) : NULL;
		struct ts_response resp;
		ck_assert_int_eq(ts_http(&srv, x->method, path, auth, x->body ? body : NULL,
		                         strlen(body), 10000, &resp),
		                 0);
		requests++;
		char what[700];
		snprintf(what, sizeof what, "%s %s (%s)", x->method, x->path, path);
		check_secrets(c, resp.body, what);
		char *code = ts_error_code(&resp);
		int ok = cross_ok(x->expect, resp.status, code, twin_status, twin_code);
		if (!ok)
			bad("%s as %s: got %d %s, expected %s | %.200s", what, c->name, resp.status,
			    code ? code : "", expect_text(x->expect), resp.body);
		if (before) {
			char *after = sql_value("%s", fp_q);
			if (!after || strcmp(before, after))
				bad("%s as %s: refused with %d but the object changed (%s -> %s)",
				    what, c->name, resp.status, before, after ? after : "(gone)");
			free(after);
		}
		if (x->expect == X_LIST && resp.status == 200) {
			char base[256];
			snprintf(base, sizeof base, "%.*s", (int)strcspn(x->path, "?"), x->path);
			const struct rule *r = find_rule("GET", base);
			ck_assert_msg(r && r->list_sql, "no list rule for %s", base);
			json_t *doc = ts_json(&resp);
			/* The caller's standing object need not match the filter. */
			check_list(r, c, path, auth, doc, 0);
			json_decref(doc);
		}
		if (x->must && (!resp.body || !strstr(resp.body, x->must)))
			bad("%s as %s: the reply lacks the caller's own \"%s\"", what, c->name,
			    x->must);
		if (x->expect == X_TWIN && !ok)
			bad("  (an unused id got %d %s)", twin_status, twin_code ? twin_code : "");
		free(twin_code);
		free(before);
		free(code);
		ts_response_free(&resp);
	}
	/* B's erasure of the shared person left everything A holds. */
	char *v = sql_value(
	    "SELECT (SELECT count(*) FROM core.person_org WHERE person_id = %lld AND org_id = %lld)"
	    " || '/' || (SELECT count(*) FROM core.person_org WHERE person_id = %lld)"
	    " || '/' || (SELECT given_name || coalesce(erased_at::text, '') FROM core.person"
	    "            WHERE id = %lld)"
	    " || '/' || (SELECT coalesce(note, '-') || coalesce(removed_at::text, '')"
	    "            FROM core.person_flag WHERE id = %lld)"
	    " || '/' || (SELECT coalesce(note, '-') FROM core.consent WHERE id = %lld)"
	    " || '/' || (SELECT coalesce(risk_summary, '-') FROM core.referral WHERE id = %lld)"
	    " || '/' || (SELECT coalesce(reason, '-') || coalesce(ended_at::text, '')"
	    "            FROM core.non_association WHERE id = %lld)"
	    " || '/' || (SELECT count(*) FROM core.household_member WHERE household_id = %lld)"
	    " || '/' || (SELECT coalesce(ended_at::text, 'live') FROM core.assignment"
	    "            WHERE id = %lld)",
	    fx[0].ps, fx[0].org, fx[0].ps, fx[0].ps, fx[0].ps_flag, fx[0].ps_consent,
	    fx[0].ps_referral, fx[0].ps_na, fx[0].ps_hh, fx[0].ps_assign);
	if (!v || strcmp(v, "1/1/Shared/A-SECRET flag/A-SECRET consent/A-SECRET risk/"
	                    "A-SECRET reason/1/live"))
		bad("erasure by org B changed what org A holds about the shared person: %s "
		    "(expected 1/1/Shared/A-SECRET flag/A-SECRET consent/A-SECRET risk/A-SECRET "
		    "reason/1/live)",
		    v ? v : "(null)");
	free(v);
	pg_close();
	fprintf(stderr, "authz mixed objects: %zu requests, %d failures\n",
	        sizeof crosses / sizeof crosses[0], nfail);
	ck_assert_msg(nfail == 0, "%d failures (the first; all on stderr):%s", nfail, failures);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("authz_matrix");
	TCase *tc = tcase_create("matrix");
	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_route_has_a_rule);
	tcase_add_test(tc, matrix);
	tcase_add_test(tc, mixed_objects);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
