/*
 * Programmes, venues, rooms and closures over HTTP against the real server
 * and database, with the standard plugins and the fixture_hooks plugin
 * loaded (a programme type whose programme_validate hook refuses
 * {"refuse": true}).
 *
 * Organisation A's coordinators manage them; B's coordinator gets 404 for
 * every one of A's objects; commissioners get 403 everywhere but the
 * programme reads; facilitators see a programme once they are on its staff.
 * A programme's type must be a loaded plugin and its zone an IANA zone; the
 * plugin vetoes settings it cannot run with. Closures cancel (skip) or mark
 * (flag) the sessions not yet started on their local dates — sessions are
 * made directly in SQL here, their routes are another suite's. Bad input is
 * refused naming the field and changes nothing; every change is audited.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

#define HOOKS_PLUGIN WAYMARK_TEST_PLUGIN_DIR "/waymark_fixture_hooks.so"

static struct ts_server srv;
static char *db;
static char *coord_a, *admin_a, *coord_b, *fac_a, *men_a, *comm_a, *comm_b;
static long long org_a, org_b, fac_a_id, men_a_id, coord_b_id;

static void setup(void)
{
	db = ts_db_create("programmes");
	struct ts_server_opts o = {
	    .database_url = db,
	    .config_json = "{\"plugins\":{\"load\":[\"example\",\"" HOOKS_PLUGIN "\"]}}"};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	coord_a = ts_staff_token(db, "Org A", "coord.a@example.org", "coordinator", 0);
	admin_a = ts_staff_token(db, "Org A", "admin.a@example.org", "admin", 0);
	fac_a = ts_staff_token(db, "Org A", "fac.a@example.org", "facilitator", 0);
	men_a = ts_staff_token(db, "Org A", "men.a@example.org", "mentor", 0);
	comm_a = ts_staff_token(db, "Org A", "comm.a@example.org", "commissioner", 0);
	coord_b = ts_staff_token(db, "Org B", "coord.b@example.org", "coordinator", 0);
	comm_b = ts_staff_token(db, "Org B", "comm.b@example.org", "commissioner", 0);
	org_a = ts_org_id(db, "Org A");
	org_b = ts_org_id(db, "Org B");
	fac_a_id = ts_staff_id(db, "fac.a@example.org");
	men_a_id = ts_staff_id(db, "men.a@example.org");
	coord_b_id = ts_staff_id(db, "coord.b@example.org");
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	free(coord_a);
	free(admin_a);
	free(fac_a);
	free(men_a);
	free(comm_a);
	free(coord_b);
	free(comm_b);
}

/* printf into one of a few rotating buffers: for paths, bodies and SQL. */
static const char *f(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *f(const char *fmt, ...)
{
	static char bufs[8][2048];
	static int next;
	char *b = bufs[next++ % 8];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof bufs[0], fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof bufs[0]);
	return b;
}

static long long num(const char *sql)
{
	char *v = ts_db_value(db, sql);
	ck_assert_msg(v != NULL, "no value from %s", sql);
	long long n = atoll(v);
	free(v);
	return n;
}

static char *text(const char *sql)
{
	char *v = ts_db_value(db, sql);
	return v ? v : strdup("(null)");
}

static void exec(const char *sql)
{
	ck_assert_msg(ts_db_exec(db, sql) == 0, "SQL failed: %s", sql);
}

/* Sends a request as the holder of `token`; checks the status and returns
 * the JSON body (NULL when there is none; caller decrefs). */
static json_t *call(const char *token, const char *method, const char *path, const char *body,
                    int status)
{
	char headers[256];
	struct ts_response r;
	snprintf(headers, sizeof headers,
	         "Authorization: Bearer %s\r\nContent-Type: application/json\r\n", token);
	ck_assert_int_eq(
	    ts_http(&srv, method, path, headers, body, body ? strlen(body) : 0, 5000, &r), 0);
	ck_assert_msg(r.status == status, "%s %s: %d, expected %d: %s", method, path, r.status,
	              status, r.body);
	json_t *doc = r.body_len ? ts_json(&r) : NULL;
	ts_response_free(&r);
	return doc;
}

/* Expects an error with this status, code and field (NULL: no field). */
static void refused(const char *token, const char *method, const char *path, const char *body,
                    int status, const char *code, const char *field)
{
	json_t *doc = call(token, method, path, body, status);
	ck_assert_msg(doc != NULL, "%s %s: no error body", method, path);
	json_t *err = json_object_get(doc, "error");
	const char *got = json_string_value(json_object_get(err, "code"));
	ck_assert_msg(got && !strcmp(got, code), "%s %s: code %s, expected %s", method, path,
	              got ? got : "(none)", code);
	const char *fl = json_string_value(json_object_get(err, "field"));
	if (field)
		ck_assert_msg(fl && !strcmp(fl, field), "%s %s: field %s, expected %s", method,
		              path, fl ? fl : "(none)", field);
	else
		ck_assert_msg(!fl, "%s %s: unexpected field %s", method, path, fl);
	json_decref(doc);
}

static long long id_of(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return (long long)json_integer_value(v);
}

static const char *str_of(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	ck_assert_msg(s != NULL, "%s is not a string", key);
	return s;
}

static long long audits(const char *action)
{
	return num(f("SELECT count(*) FROM core.audit WHERE action = '%s'", action));
}

static long long make_programme(const char *token, long long org, const char *type,
                                const char *name, const char *extra)
{
	json_t *p = call(token, "POST", "/api/v1/programmes",
	                 f("{\"organisation_id\":%lld,\"type\":\"%s\",\"name\":\"%s\"%s}", org,
	                   type, name, extra ? extra : ""),
	                 201);
	long long id = id_of(p, "id");
	ck_assert_str_eq(str_of(p, "name"), name);
	json_decref(p);
	return id;
}

static long long make_venue(const char *token, long long org, const char *name)
{
	json_t *v = call(token, "POST", "/api/v1/venues",
	                 f("{\"organisation_id\":%lld,\"name\":\"%s\","
	                   "\"location_kind\":\"community_venue\"}",
	                   org, name),
	                 201);
	long long id = id_of(v, "id");
	json_decref(v);
	return id;
}

static long long make_room(const char *token, long long venue, const char *name)
{
	json_t *r = call(token, "POST", f("/api/v1/venues/%lld/rooms", venue),
	                 f("{\"name\":\"%s\"}", name), 201);
	long long id = id_of(r, "id");
	json_decref(r);
	return id;
}

/* A scheduled session of programme `p` made in SQL (the sessions routes
 * are another suite's): starts at `start` (timestamptz text), 2 hours. */
static long long make_session(long long p, const char *start, long long venue, long long room)
{
	return num(f("INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at,"
	             " location_kind, venue_id, room_id)"
	             " SELECT id, org_id, 'Session', '%s'::timestamptz,"
	             " '%s'::timestamptz + interval '2 hours', 'community_venue', %s, %s"
	             " FROM core.programme WHERE id = %lld RETURNING id",
	             start, start, venue ? f("%lld", venue) : "NULL",
	             room ? f("%lld", room) : "NULL", p));
}

static int has_item(const json_t *list, long long id)
{
	json_t *items = json_object_get(list, "items");
	for (size_t i = 0; i < json_array_size(items); i++)
		if (id_of(json_array_get(items, i), "id") == id)
			return 1;
	return 0;
}

/* --- programmes ----------------------------------------------------------- */

START_TEST(programme_round_trip)
{
	long long creates = audits("programme.create"), updates = audits("programme.update");
	json_t *p = call(coord_a, "POST", "/api/v1/programmes",
	                 f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"Family "
	                   "days\",\"description\":\"Visits with children.\"}",
	                   org_a),
	                 201);
	long long id = id_of(p, "id");
	ck_assert_int_eq(id_of(p, "organisation_id"), org_a);
	ck_assert_str_eq(str_of(p, "type"), "example");
	ck_assert_str_eq(str_of(p, "time_zone"), "Europe/London");
	ck_assert_str_eq(str_of(p, "access"), "manage");
	ck_assert(json_is_object(json_object_get(p, "settings")));
	ck_assert(json_is_false(json_object_get(p, "public_listing")));
	ck_assert(json_is_false(json_object_get(p, "archived")));
	ck_assert_int_eq(id_of(p, "version"), 1);
	json_decref(p);
	ck_assert_int_eq(audits("programme.create"), creates + 1);

	char path[128];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld", id);
	p = call(admin_a, "GET", path, NULL, 200);
	ck_assert_str_eq(str_of(p, "description"), "Visits with children.");
	json_decref(p);

	p = call(coord_a, "PATCH", path,
	         "{\"name\":\"Family days 2030\",\"description\":null,\"time_zone\":"
	         "\"Europe/Dublin\",\"settings\":{\"k\":1},\"public_listing\":true,\"version\":1}",
	         200);
	ck_assert_str_eq(str_of(p, "name"), "Family days 2030");
	ck_assert(json_is_null(json_object_get(p, "description")));
	ck_assert_str_eq(str_of(p, "time_zone"), "Europe/Dublin");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "settings"), "k")),
	                 1);
	ck_assert(json_is_true(json_object_get(p, "public_listing")));
	ck_assert_int_eq(id_of(p, "version"), 2);
	json_decref(p);
	ck_assert_int_eq(audits("programme.update"), updates + 1);
	/* The audit names the fields, not what was written. */
	char *d = text(f("SELECT detail::text FROM core.audit WHERE action = 'programme.update'"
	                 " AND object_id = %lld",
	                 id));
	ck_assert_ptr_nonnull(strstr(d, "\"name\""));
	ck_assert_ptr_null(strstr(d, "2030"));
	free(d);

	/* A stale version changes nothing. */
	refused(coord_a, "PATCH", path, "{\"name\":\"Lost update\",\"version\":1}", 409,
	        "core.stale", "version");
	ck_assert_int_eq(num(f("SELECT count(*) FROM core.programme WHERE name = 'Lost update'")),
	                 0);

	/* Lists filter by organisation and type. */
	json_t *l =
	    call(coord_a, "GET", f("/api/v1/programmes?organisation_id=%lld", org_a), NULL, 200);
	ck_assert(has_item(l, id));
	json_decref(l);
	l = call(coord_a, "GET", "/api/v1/programmes?type=fixture_hooks", NULL, 200);
	ck_assert(!has_item(l, id));
	json_decref(l);
	l = call(coord_a, "GET", "/api/v1/programmes?type=example&limit=200", NULL, 200);
	ck_assert(has_item(l, id));
	json_decref(l);

	/* Archived: gone from the list and from staff who run it, still
	 * there for its managers, and restorable. */
	json_decref(call(coord_a, "PATCH", path, "{\"archived\":true}", 200));
	l = call(coord_a, "GET", "/api/v1/programmes", NULL, 200);
	ck_assert(!has_item(l, id));
	json_decref(l);
	l = call(coord_a, "GET", "/api/v1/programmes?archived=true", NULL, 200);
	ck_assert(has_item(l, id));
	json_decref(l);
	l = call(comm_a, "GET", "/api/v1/programmes?archived=true", NULL, 200);
	ck_assert(!has_item(l, id));
	json_decref(l);
	refused(comm_a, "GET", path, NULL, 404, "core.not_found", NULL);
	refused(coord_a, "POST", f("%s/staff", path),
	        f("{\"staff_id\":%lld,\"role\":\"facilitator\"}", fac_a_id), 409, "core.archived",
	        NULL);
	p = call(coord_a, "PATCH", path, "{\"archived\":false}", 200);
	ck_assert(json_is_false(json_object_get(p, "archived")));
	json_decref(p);
	json_decref(call(comm_a, "GET", path, NULL, 200));
}
END_TEST

START_TEST(programme_types_zones_and_plugin_veto)
{
	long long before = num("SELECT count(*) FROM core.programme");
	refused(coord_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"nosuch\",\"name\":\"X\"}", org_a), 422,
	        "core.unknown_type", "type");
	refused(coord_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"fixture_sleep\",\"name\":\"X\"}", org_a),
	        422, "core.unknown_type", "type");
	refused(coord_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"X\","
	          "\"time_zone\":\"Mars/Olympus_Mons\"}",
	          org_a),
	        400, "core.bad_time_zone", "time_zone");
	refused(coord_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"X\","
	          "\"time_zone\":\"Europe/London; DROP\"}",
	          org_a),
	        400, "core.bad_time_zone", "time_zone");
	/* The plugin's veto is its own error, sent as it gave it. */
	refused(coord_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"fixture_hooks\",\"name\":\"X\","
	          "\"settings\":{\"refuse\":true}}",
	          org_a),
	        422, "fixture_hooks.bad_settings", "settings.refuse");
	refused(coord_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"X\","
	          "\"settings\":[1]}",
	          org_a),
	        400, "core.wrong_type", "settings");
	ck_assert_int_eq(num("SELECT count(*) FROM core.programme"), before);

	long long id = make_programme(coord_a, org_a, "fixture_hooks", "Hooked",
	                              ",\"time_zone\":\"America/New_York\","
	                              "\"settings\":{\"refuse\":false,\"n\":2}");
	char path[128];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld", id);
	/* New settings are judged again; a refusal changes nothing. */
	refused(coord_a, "PATCH", path, "{\"settings\":{\"refuse\":true},\"name\":\"Renamed\"}",
	        422, "fixture_hooks.bad_settings", "settings.refuse");
	refused(coord_a, "PATCH", path, "{\"time_zone\":\"Nowhere/Land\"}", 400,
	        "core.bad_time_zone", "time_zone");
	char *row = text(f("SELECT name || ' ' || time_zone || ' ' || settings::text || ' ' ||"
	                   " version FROM core.programme WHERE id = %lld",
	                   id));
	ck_assert_str_eq(row, "Hooked America/New_York {\"n\": 2, \"refuse\": false} 1");
	free(row);
	/* Out of scope: 404 before the plugin is asked. */
	refused(coord_b, "PATCH", path, "{\"settings\":{\"refuse\":true}}", 404, "core.not_found",
	        NULL);
	json_t *p = call(coord_a, "PATCH", path, "{\"settings\":{\"n\":3}}", 200);
	ck_assert_int_eq(id_of(json_object_get(p, "settings"), "n"), 3);
	json_decref(p);
}
END_TEST

START_TEST(programme_staff)
{
	long long id = make_programme(coord_a, org_a, "example", "Staffed", NULL);
	char path[128];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld", id);
	char staff[128];
	snprintf(staff, sizeof staff, "/api/v1/programmes/%lld/staff", id);
	long long adds = audits("programme.add_staff"), removes = audits("programme.remove_staff");

	/* Not on its staff: a facilitator does not see it. */
	refused(fac_a, "GET", path, NULL, 404, "core.not_found", NULL);
	refused(fac_a, "GET", staff, NULL, 404, "core.not_found", NULL);
	json_t *l = call(fac_a, "GET", "/api/v1/programmes", NULL, 200);
	ck_assert(!has_item(l, id));
	json_decref(l);

	json_t *s = call(coord_a, "POST", staff,
	                 f("{\"staff_id\":%lld,\"role\":\"facilitator\"}", fac_a_id), 201);
	ck_assert_int_eq(id_of(s, "staff_id"), fac_a_id);
	ck_assert_str_eq(str_of(s, "role"), "facilitator");
	ck_assert_str_eq(str_of(s, "display_name"), "fac.a@example.org");
	json_decref(s);
	json_decref(call(coord_a, "POST", staff,
	                 f("{\"staff_id\":%lld,\"role\":\"lead\"}", fac_a_id), 201));
	ck_assert_int_eq(audits("programme.add_staff"), adds + 2);

	/* On its staff: they run it. */
	json_t *p = call(fac_a, "GET", path, NULL, 200);
	ck_assert_str_eq(str_of(p, "access"), "run");
	json_decref(p);
	l = call(fac_a, "GET", staff, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 2);
	json_decref(l);
	l = call(fac_a, "GET", "/api/v1/programmes", NULL, 200);
	ck_assert(has_item(l, id));
	json_decref(l);
	refused(fac_a, "POST", staff, f("{\"staff_id\":%lld,\"role\":\"mentor\"}", men_a_id), 403,
	        "core.forbidden", NULL);
	refused(men_a, "GET", staff, NULL, 404, "core.not_found", NULL);

	/* Only members of the organisation; a stranger is refused as an
	 * unknown id is; no role twice; roles from the list. */
	long long n = num("SELECT count(*) FROM core.programme_staff");
	refused(coord_a, "POST", staff, f("{\"staff_id\":%lld,\"role\":\"mentor\"}", coord_b_id),
	        422, "core.not_member", "staff_id");
	refused(coord_a, "POST", staff, "{\"staff_id\":987654321,\"role\":\"mentor\"}", 422,
	        "core.not_member", "staff_id");
	refused(coord_a, "POST", staff, f("{\"staff_id\":%lld,\"role\":\"facilitator\"}", fac_a_id),
	        409, "core.conflict", "staff_id");
	refused(coord_a, "POST", staff, f("{\"staff_id\":%lld,\"role\":\"boss\"}", men_a_id), 400,
	        "core.bad_enum", "role");
	refused(coord_a, "POST", staff, f("{\"staff_id\":%lld}", men_a_id), 400,
	        "core.missing_field", "role");
	ck_assert_int_eq(num("SELECT count(*) FROM core.programme_staff"), n);

	/* Removal. */
	refused(coord_a, "DELETE", f("%s/%lld/boss", staff, fac_a_id), NULL, 404, "core.not_found",
	        NULL);
	refused(coord_b, "DELETE", f("%s/%lld/lead", staff, fac_a_id), NULL, 404, "core.not_found",
	        NULL);
	ck_assert_ptr_null(call(coord_a, "DELETE", f("%s/%lld/lead", staff, fac_a_id), NULL, 204));
	refused(coord_a, "DELETE", f("%s/%lld/lead", staff, fac_a_id), NULL, 404, "core.not_found",
	        NULL);
	ck_assert_ptr_null(
	    call(admin_a, "DELETE", f("%s/%lld/facilitator", staff, fac_a_id), NULL, 204));
	ck_assert_int_eq(audits("programme.remove_staff"), removes + 2);
	refused(fac_a, "GET", path, NULL, 404, "core.not_found", NULL);
}
END_TEST

START_TEST(programme_scope)
{
	long long id = make_programme(coord_a, org_a, "example", "Scoped", NULL);
	long long other = make_programme(coord_b, org_b, "example", "B's own", NULL);
	char path[128];
	snprintf(path, sizeof path, "/api/v1/programmes/%lld", id);
	long long progs = num("SELECT count(*) FROM core.programme");

	/* Another organisation: nothing is there. */
	refused(coord_b, "GET", path, NULL, 404, "core.not_found", NULL);
	refused(coord_b, "PATCH", path, "{\"name\":\"Taken\"}", 404, "core.not_found", NULL);
	refused(coord_b, "GET", f("%s/staff", path), NULL, 404, "core.not_found", NULL);
	refused(coord_b, "POST", f("%s/staff", path),
	        f("{\"staff_id\":%lld,\"role\":\"guest\"}", coord_b_id), 404, "core.not_found",
	        NULL);
	refused(coord_b, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"Sneaky\"}", org_a),
	        404, "core.not_found", "organisation_id");
	refused(comm_b, "GET", path, NULL, 404, "core.not_found", NULL);
	json_t *l =
	    call(coord_b, "GET", f("/api/v1/programmes?organisation_id=%lld", org_a), NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 0);
	json_decref(l);
	ck_assert_int_eq(num("SELECT count(*) FROM core.programme"), progs);
	ck_assert_int_eq(num(f("SELECT count(*) FROM core.programme WHERE name = 'Taken'")), 0);

	/* Commissioners see programmes exist (the reads), nothing else. */
	json_t *p = call(comm_a, "GET", path, NULL, 200);
	ck_assert_str_eq(str_of(p, "access"), "report");
	json_decref(p);
	l = call(comm_a, "GET", "/api/v1/programmes", NULL, 200);
	ck_assert(has_item(l, id));
	ck_assert(!has_item(l, other));
	json_decref(l);
	refused(comm_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"No\"}", org_a), 403,
	        "core.forbidden", NULL);
	refused(comm_a, "PATCH", path, "{\"name\":\"No\"}", 403, "core.forbidden", NULL);
	refused(comm_a, "GET", f("%s/staff", path), NULL, 403, "core.forbidden", NULL);
	refused(comm_a, "GET", "/api/v1/venues", NULL, 403, "core.forbidden", NULL);
	refused(comm_a, "GET", "/api/v1/closures", NULL, 403, "core.forbidden", NULL);
	refused(comm_a, "POST", "/api/v1/closures",
	        f("{\"organisation_id\":%lld,\"starts_on\":\"2030-01-01\",\"ends_on\":"
	          "\"2030-01-01\",\"reason\":\"No\"}",
	          org_a),
	        403, "core.forbidden", NULL);
	/* Mentors and facilitators do not manage. */
	refused(men_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"No\"}", org_a), 403,
	        "core.forbidden", NULL);
	refused(fac_a, "PATCH", path, "{\"name\":\"No\"}", 403, "core.forbidden", NULL);
	ck_assert_int_eq(num("SELECT count(*) FROM core.programme"), progs);
}
END_TEST

/* --- venues and rooms ------------------------------------------------------ */

START_TEST(venues_and_rooms)
{
	long long creates = audits("venue.create"), archives = audits("room.archive");
	refused(
	    coord_a, "POST", "/api/v1/venues",
	    f("{\"organisation_id\":%lld,\"name\":\"HMP Somewhere\",\"location_kind\":\"prison\"}",
	      org_a),
	    422, "core.establishment_required", "establishment");
	json_t *v = call(coord_a, "POST", "/api/v1/venues",
	                 f("{\"organisation_id\":%lld,\"name\":\"HMP Somewhere visits hall\","
	                   "\"location_kind\":\"prison\",\"establishment\":\"HMP Somewhere\","
	                   "\"public_name\":\"Visitors' Centre\"}",
	                   org_a),
	                 201);
	long long venue = id_of(v, "id");
	ck_assert_str_eq(str_of(v, "establishment"), "HMP Somewhere");
	ck_assert_int_eq(json_array_size(json_object_get(v, "rooms")), 0);
	json_decref(v);
	ck_assert_int_eq(audits("venue.create"), creates + 1);
	char path[128];
	snprintf(path, sizeof path, "/api/v1/venues/%lld", venue);

	long long room = make_room(coord_a, venue, "Chapel");
	json_t *r =
	    call(coord_a, "POST", f("%s/rooms", path), "{\"name\":\"Gym\",\"capacity\":30}", 201);
	long long gym = id_of(r, "id");
	ck_assert_int_eq(id_of(r, "capacity"), 30);
	json_decref(r);
	refused(coord_a, "POST", f("%s/rooms", path), "{\"name\":\"Gym\"}", 409, "core.conflict",
	        "name");
	refused(coord_a, "POST", f("%s/rooms", path), "{\"name\":\"Tiny\",\"capacity\":0}", 400,
	        "core.out_of_range", "capacity");

	/* The organisation's facilitators and mentors read venues. */
	v = call(fac_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(v, "rooms")), 2);
	json_decref(v);
	json_t *l = call(men_a, "GET", "/api/v1/venues", NULL, 200);
	ck_assert(has_item(l, venue));
	json_decref(l);
	refused(fac_a, "PATCH", path, "{\"name\":\"No\"}", 403, "core.forbidden", NULL);
	refused(fac_a, "POST", f("%s/rooms", path), "{\"name\":\"No\"}", 403, "core.forbidden",
	        NULL);
	refused(fac_a, "DELETE", f("/api/v1/rooms/%lld", room), NULL, 403, "core.forbidden", NULL);
	/* Another organisation's coordinator: nothing is there. */
	refused(coord_b, "GET", path, NULL, 404, "core.not_found", NULL);
	refused(coord_b, "PATCH", path, "{\"name\":\"Taken\"}", 404, "core.not_found", NULL);
	refused(coord_b, "POST", f("%s/rooms", path), "{\"name\":\"Theirs\"}", 404,
	        "core.not_found", NULL);
	refused(coord_b, "DELETE", f("/api/v1/rooms/%lld", room), NULL, 404, "core.not_found",
	        NULL);
	l = call(coord_b, "GET", "/api/v1/venues", NULL, 200);
	ck_assert(!has_item(l, venue));
	json_decref(l);

	/* PATCH: null clears; a prison keeps its establishment. */
	v = call(coord_a, "PATCH", path, "{\"name\":\"Visits hall\",\"public_name\":null}", 200);
	ck_assert_str_eq(str_of(v, "name"), "Visits hall");
	ck_assert(json_is_null(json_object_get(v, "public_name")));
	json_decref(v);
	refused(coord_a, "PATCH", path, "{\"establishment\":null}", 422,
	        "core.establishment_required", "establishment");
	v = call(coord_a, "PATCH", path,
	         "{\"location_kind\":\"community_venue\",\"establishment\":null}", 200);
	ck_assert_str_eq(str_of(v, "location_kind"), "community_venue");
	json_decref(v);

	/* Rooms and venues in use by sessions to come are not archived. */
	long long p = make_programme(coord_a, org_a, "example", "Roomy", NULL);
	long long s = make_session(p, "2031-05-06T10:00:00Z", venue, gym);
	refused(coord_a, "DELETE", f("/api/v1/rooms/%lld", gym), NULL, 409, "core.in_use", NULL);
	refused(coord_a, "PATCH", path, "{\"archived\":true}", 409, "core.in_use", "archived");
	exec(f("UPDATE core.session SET status = 'cancelled' WHERE id = %lld", s));
	ck_assert_ptr_null(call(coord_a, "DELETE", f("/api/v1/rooms/%lld", gym), NULL, 204));
	refused(coord_a, "DELETE", f("/api/v1/rooms/%lld", gym), NULL, 404, "core.not_found", NULL);
	v = call(coord_a, "GET", path, NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(v, "rooms")), 1);
	json_decref(v);
	ck_assert_int_eq(audits("room.archive"), archives + 1);
	v = call(coord_a, "PATCH", path, "{\"archived\":true}", 200);
	ck_assert(json_is_true(json_object_get(v, "archived")));
	json_decref(v);
	refused(coord_a, "POST", f("%s/rooms", path), "{\"name\":\"Late\"}", 409, "core.archived",
	        NULL);
	l = call(coord_a, "GET", "/api/v1/venues?archived=true", NULL, 200);
	ck_assert(has_item(l, venue));
	json_decref(l);
}
END_TEST

/* --- closures -------------------------------------------------------------- */

static const char *session_state(long long s)
{
	char *v = text(f("SELECT status || '/' || coalesce(cancel_reason, '-') || '/' || sequence"
	                 " || '/' || coalesce(closure_id::text, '-') FROM core.session"
	                 " WHERE id = %lld",
	                 s));
	const char *out = f("%s", v);
	free(v);
	return out;
}

START_TEST(closures_skip_and_flag)
{
	long long london = make_programme(coord_a, org_a, "example", "London days", NULL);
	long long ny = make_programme(coord_a, org_a, "example", "New York days",
	                              ",\"time_zone\":\"America/New_York\"");
	long long theirs = make_programme(coord_b, org_b, "example", "B days", NULL);
	long long v1 = make_venue(coord_a, org_a, "Hall one"),
	          v2 = make_venue(coord_a, org_a, "Hall two");
	long long vb = make_venue(coord_b, org_b, "B hall");

	/* Christmas 2030 (London is on GMT then; New York on UTC-5). */
	long long xmas = make_session(london, "2030-12-25T10:00:00Z", v1, 0);
	long long eve_late = make_session(london, "2030-12-24T23:30:00Z", v1, 0); /* 24th local */
	long long ny_late = make_session(ny, "2030-12-26T02:00:00Z", v2, 0);      /* 25th in NY */
	long long boxing = make_session(london, "2030-12-26T10:00:00Z", v2, 0);
	long long boxing_v1 = make_session(london, "2030-12-26T14:00:00Z", v1, 0);
	long long other_org = make_session(theirs, "2030-12-25T10:00:00Z", vb, 0);
	long long already = make_session(london, "2030-12-25T15:00:00Z", v1, 0);
	exec(f("UPDATE core.session SET status = 'cancelled', cancel_reason = 'earlier'"
	       " WHERE id = %lld",
	       already));
	/* A cohort session with an expected participant and its facilitator,
	 * and a booked session with a booking. */
	long long person = num(f("WITH p AS (INSERT INTO core.person (given_name, family_name)"
	                         " VALUES ('Cal', 'Closure') RETURNING id),"
	                         " o AS (INSERT INTO core.person_org (person_id, org_id)"
	                         " SELECT id, %lld FROM p) SELECT id FROM p",
	                         org_a));
	long long cohort = num(f("INSERT INTO core.cohort (programme_id, name, starts_on)"
	                         " VALUES (%lld, 'Winter', '2030-12-01') RETURNING id",
	                         london));
	exec(f("INSERT INTO core.enrolment (cohort_id, person_id, joined_on)"
	       " VALUES (%lld, %lld, '2030-12-01')",
	       cohort, person));
	long long grouped = make_session(london, "2030-12-25T18:00:00Z", 0, 0);
	exec(f("UPDATE core.session SET cohort_id = %lld WHERE id = %lld", cohort, grouped));
	exec(f("SELECT core.seat_sync_cohort(%lld)", cohort));
	ck_assert_int_eq(
	    num(f("SELECT count(*) FROM core.seat WHERE session_id = %lld AND active", grouped)),
	    1);
	exec(f("INSERT INTO core.session_staff (session_id, staff_id, role, during)"
	       " SELECT id, %lld, 'facilitator', during FROM core.session WHERE id = %lld",
	       fac_a_id, grouped));
	long long dropin = make_session(london, "2030-12-25T12:00:00Z", 0, 0);
	exec(f("UPDATE core.session SET booking_mode = 'booked', capacity = 5, booked = 1"
	       " WHERE id = %lld",
	       dropin));
	long long booking = num(f("INSERT INTO core.booking (session_id, person_id, status)"
	                          " VALUES (%lld, %lld, 'booked') RETURNING id",
	                          dropin, person));
	/* The bookings side (0012) hands bookings of a cancelled session back;
	 * if it is not in this tree yet, stand in for it with its contract. */
	if (num("SELECT count(*) FROM (SELECT to_regprocedure("
	        "'core.booking_session_cancelled(bigint)') p) x WHERE p IS NOT NULL") == 0)
		exec("CREATE FUNCTION core.booking_session_cancelled(p bigint) RETURNS integer"
		     " LANGUAGE sql AS $$ UPDATE core.booking SET status = 'cancelled',"
		     " cancel_reason = 'session cancelled' WHERE session_id = p"
		     " AND status = 'booked' RETURNING 1 $$");

	long long closures = num("SELECT count(*) FROM core.closure");
	long long created = audits("closure.create"), deleted = audits("closure.delete");
	/* Skip, organisation-wide, on the 25th. */
	json_t *c = call(coord_a, "POST", "/api/v1/closures",
	                 f("{\"organisation_id\":%lld,\"starts_on\":\"2030-12-25\",\"ends_on\":"
	                   "\"2030-12-25\",\"reason\":\"Christmas Day\"}",
	                   org_a),
	                 201);
	long long skip = id_of(c, "id");
	ck_assert_str_eq(str_of(c, "effect"), "skip");
	ck_assert(json_is_null(json_object_get(c, "venue_id")));
	ck_assert_int_eq(id_of(c, "skipped"), 4); /* xmas, ny_late, grouped, dropin */
	ck_assert_int_eq(id_of(c, "flagged"), 0);
	json_decref(c);
	ck_assert_str_eq(session_state(xmas), "cancelled/Christmas Day/1/-");
	ck_assert_str_eq(session_state(ny_late), "cancelled/Christmas Day/1/-");
	ck_assert_str_eq(session_state(grouped), "cancelled/Christmas Day/1/-");
	ck_assert_str_eq(session_state(dropin), "cancelled/Christmas Day/1/-");
	ck_assert_str_eq(session_state(eve_late), "scheduled/-/0/-");
	ck_assert_str_eq(session_state(boxing), "scheduled/-/0/-");
	ck_assert_str_eq(session_state(other_org), "scheduled/-/0/-");
	ck_assert_str_eq(session_state(already), "cancelled/earlier/0/-");
	/* Seats, staff and bookings are freed. */
	ck_assert_int_eq(
	    num(f("SELECT count(*) FROM core.seat WHERE session_id = %lld AND active", grouped)),
	    0);
	ck_assert_int_eq(num(f("SELECT count(*) FROM core.session_staff WHERE session_id = %lld"
	                       " AND active",
	                       grouped)),
	                 0);
	char *b = text(f("SELECT status FROM core.booking WHERE id = %lld", booking));
	ck_assert_str_eq(b, "cancelled");
	free(b);
	ck_assert_int_eq(audits("closure.create"), created + 1);
	ck_assert_int_eq(num(f("SELECT count(*) FROM core.audit WHERE action = 'session.cancel'"
	                       " AND detail->>'closure_id' = '%lld'",
	                       skip)),
	                 4);

	/* Flag, one venue, the 26th. */
	c = call(admin_a, "POST", "/api/v1/closures",
	         f("{\"organisation_id\":%lld,\"venue_id\":%lld,\"starts_on\":\"2030-12-26\","
	           "\"ends_on\":\"2030-12-27\",\"reason\":\"Boiler repair\",\"effect\":\"flag\"}",
	           org_a, v2),
	         201);
	long long flag = id_of(c, "id");
	ck_assert_int_eq(id_of(c, "skipped"), 0);
	ck_assert_int_eq(id_of(c, "flagged"), 1);
	json_decref(c);
	ck_assert_str_eq(session_state(boxing), f("scheduled/-/0/%lld", flag));
	ck_assert_str_eq(session_state(boxing_v1), "scheduled/-/0/-");
	/* A second flag over the same day, organisation-wide. */
	c = call(coord_a, "POST", "/api/v1/closures",
	         f("{\"organisation_id\":%lld,\"starts_on\":\"2030-12-26\",\"ends_on\":"
	           "\"2030-12-26\",\"reason\":\"Staff training\",\"effect\":\"flag\"}",
	           org_a),
	         201);
	long long flag2 = id_of(c, "id");
	ck_assert_int_eq(id_of(c, "flagged"), 2);
	json_decref(c);
	ck_assert_str_eq(session_state(boxing_v1), f("scheduled/-/0/%lld", flag2));

	/* Lists, by date range; members read them; others see none. */
	json_t *l = call(fac_a, "GET", "/api/v1/closures?from=2030-12-01&to=2030-12-31", NULL, 200);
	ck_assert(has_item(l, skip) && has_item(l, flag) && has_item(l, flag2));
	json_decref(l);
	l = call(coord_a, "GET", "/api/v1/closures?from=2030-12-26&to=2031-01-31", NULL, 200);
	ck_assert(!has_item(l, skip) && has_item(l, flag));
	json_decref(l);
	l = call(coord_b, "GET", "/api/v1/closures", NULL, 200);
	ck_assert(!has_item(l, skip) && !has_item(l, flag));
	json_decref(l);
	refused(coord_b, "DELETE", f("/api/v1/closures/%lld", flag), NULL, 404, "core.not_found",
	        NULL);
	refused(fac_a, "DELETE", f("/api/v1/closures/%lld", flag), NULL, 403, "core.forbidden",
	        NULL);
	ck_assert_int_eq(num("SELECT count(*) FROM core.closure"), closures + 3);

	/* Removing the second flag: the session takes the first again where
	 * it still falls, or is unflagged. Removing the skip: its sessions
	 * stay cancelled. */
	ck_assert_ptr_null(call(coord_a, "DELETE", f("/api/v1/closures/%lld", flag2), NULL, 204));
	ck_assert_str_eq(session_state(boxing), f("scheduled/-/0/%lld", flag));
	ck_assert_str_eq(session_state(boxing_v1), "scheduled/-/0/-");
	ck_assert_ptr_null(call(coord_a, "DELETE", f("/api/v1/closures/%lld", flag), NULL, 204));
	ck_assert_str_eq(session_state(boxing), "scheduled/-/0/-");
	ck_assert_ptr_null(call(coord_a, "DELETE", f("/api/v1/closures/%lld", skip), NULL, 204));
	ck_assert_str_eq(session_state(xmas), "cancelled/Christmas Day/1/-");
	refused(coord_a, "DELETE", f("/api/v1/closures/%lld", skip), NULL, 404, "core.not_found",
	        NULL);
	ck_assert_int_eq(audits("closure.delete"), deleted + 3);
	ck_assert_int_eq(num("SELECT count(*) FROM core.closure"), closures);

	/* Sessions already started are left alone. */
	long long past = make_session(london, "2020-06-01T10:00:00Z", 0, 0);
	c = call(coord_a, "POST", "/api/v1/closures",
	         f("{\"organisation_id\":%lld,\"starts_on\":\"2020-06-01\",\"ends_on\":"
	           "\"2020-06-01\",\"reason\":\"Too late\"}",
	           org_a),
	         201);
	ck_assert_int_eq(id_of(c, "skipped"), 0);
	json_decref(c);
	ck_assert_str_eq(session_state(past), "scheduled/-/0/-");
	/* S2 lays out new series instances with this. */
	ck_assert_int_eq(num(f("SELECT count(*) FROM core.closure_match(%lld, NULL,"
	                       " '2020-06-01T10:00:00Z', 'Europe/London') c WHERE c.id IS NOT NULL",
	                       org_a)),
	                 1);
}
END_TEST

/* --- refusals -------------------------------------------------------------- */

static void counts(long long out[5])
{
	out[0] = num("SELECT count(*) FROM core.programme");
	out[1] = num("SELECT count(*) FROM core.venue");
	out[2] = num("SELECT count(*) FROM core.room");
	out[3] = num("SELECT count(*) FROM core.closure");
	out[4] = num("SELECT count(*) FROM core.audit");
}

START_TEST(bad_input_changes_nothing)
{
	long long venue = make_venue(coord_a, org_a, "Bad input hall");
	long long vb = make_venue(coord_b, org_b, "Bad input B hall");
	long long p = make_programme(coord_a, org_a, "example", "Bad input", NULL);
	long long before[5], after[5];
	char longname[256];
	memset(longname, 'x', 201);
	longname[201] = '\0';
	counts(before);

	refused(
	    coord_a, "POST", "/api/v1/programmes",
	    f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"%s\"}", org_a, longname),
	    400, "core.too_long", "name");
	refused(coord_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"example\"}", org_a), 400,
	        "core.missing_field", "name");
	refused(
	    coord_a, "POST", "/api/v1/programmes",
	    f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"N\",\"colour\":1}", org_a),
	    400, "core.unknown_field", "colour");
	refused(coord_a, "POST", "/api/v1/programmes",
	        f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"N\","
	          "\"public_listing\":\"yes\"}",
	          org_a),
	        400, "core.wrong_type", "public_listing");
	refused(coord_a, "PATCH", f("/api/v1/programmes/%lld", p), f("{\"name\":\"%s\"}", longname),
	        400, "core.too_long", "name");
	refused(coord_a, "PATCH", f("/api/v1/programmes/%lld", p), "{}", 400, "core.missing_field",
	        NULL);
	refused(coord_a, "PATCH", f("/api/v1/programmes/%lld", p), "{\"type\":\"fixture_hooks\"}",
	        400, "core.unknown_field", "type");
	refused(coord_a, "POST", "/api/v1/venues",
	        f("{\"organisation_id\":%lld,\"name\":\"V\",\"location_kind\":\"castle\"}", org_a),
	        400, "core.bad_enum", "location_kind");
	refused(coord_a, "POST", "/api/v1/venues",
	        f("{\"organisation_id\":%lld,\"name\":\"%s\",\"location_kind\":\"home\"}", org_a,
	          longname),
	        400, "core.too_long", "name");
	refused(coord_a, "PATCH", f("/api/v1/venues/%lld", venue), "{\"location_kind\":\"moon\"}",
	        400, "core.bad_enum", "location_kind");
	refused(coord_a, "POST", f("/api/v1/venues/%lld/rooms", venue),
	        f("{\"name\":\"%s\"}", longname), 400, "core.too_long", "name");

	const char *cl = "/api/v1/closures";
	refused(coord_a, "POST", cl,
	        f("{\"organisation_id\":%lld,\"starts_on\":\"2030-03-02\",\"ends_on\":"
	          "\"2030-03-01\",\"reason\":\"Backwards\"}",
	          org_a),
	        422, "core.bad_range", "ends_on");
	refused(coord_a, "POST", cl,
	        f("{\"organisation_id\":%lld,\"starts_on\":\"2030-01-01\",\"ends_on\":"
	          "\"2031-06-01\",\"reason\":\"Too long\"}",
	          org_a),
	        422, "core.bad_range", "ends_on");
	refused(coord_a, "POST", cl,
	        f("{\"organisation_id\":%lld,\"starts_on\":\"2030-02-30\",\"ends_on\":"
	          "\"2030-03-01\",\"reason\":\"No such day\"}",
	          org_a),
	        400, "core.bad_date", "starts_on");
	refused(coord_a, "POST", cl,
	        f("{\"organisation_id\":%lld,\"starts_on\":\"2030-03-01\",\"ends_on\":"
	          "\"2030-03-01\",\"reason\":\"Maybe\",\"effect\":\"maybe\"}",
	          org_a),
	        400, "core.bad_enum", "effect");
	refused(coord_a, "POST", cl,
	        f("{\"organisation_id\":%lld,\"starts_on\":\"2030-03-01\",\"ends_on\":"
	          "\"2030-03-01\",\"reason\":\"%s\"}",
	          org_a, longname),
	        400, "core.too_long", "reason");
	refused(coord_a, "POST", cl,
	        f("{\"organisation_id\":%lld,\"starts_on\":\"2030-03-01\",\"ends_on\":"
	          "\"2030-03-01\"}",
	          org_a),
	        400, "core.missing_field", "reason");
	/* Another organisation's venue is as good as none. */
	refused(coord_a, "POST", cl,
	        f("{\"organisation_id\":%lld,\"venue_id\":%lld,\"starts_on\":\"2030-03-01\","
	          "\"ends_on\":\"2030-03-01\",\"reason\":\"Theirs\"}",
	          org_a, vb),
	        404, "core.not_found", "venue_id");
	refused(coord_a, "POST", cl,
	        f("{\"organisation_id\":%lld,\"starts_on\":\"2030-03-01\",\"ends_on\":"
	          "\"2030-03-01\",\"reason\":\"Theirs\"}",
	          org_b),
	        404, "core.not_found", "organisation_id");
	counts(after);
	for (int i = 0; i < 5; i++)
		ck_assert_msg(before[i] == after[i], "count %d changed: %lld -> %lld", i, before[i],
		              after[i]);
}
END_TEST

START_TEST(stray_query_parameters_are_refused)
{
	long long p = make_programme(coord_a, org_a, "example", "Query", NULL);
	long long venue = make_venue(coord_a, org_a, "Query hall");
	long long audit = num("SELECT count(*) FROM core.audit");
	refused(coord_a, "GET", f("/api/v1/programmes/%lld?verbose=1", p), NULL, 400,
	        "core.bad_query", "verbose");
	refused(coord_a, "PATCH", f("/api/v1/programmes/%lld?x=1", p), "{\"name\":\"Q2\"}", 400,
	        "core.bad_query", "x");
	refused(coord_a, "GET", f("/api/v1/programmes/%lld/staff?limit=5", p), NULL, 400,
	        "core.bad_query", "limit");
	refused(coord_a, "POST", "/api/v1/programmes?dry_run=1",
	        f("{\"organisation_id\":%lld,\"type\":\"example\",\"name\":\"Q3\"}", org_a), 400,
	        "core.bad_query", "dry_run");
	refused(coord_a, "GET", "/api/v1/programmes?kind=example", NULL, 400, "core.bad_query",
	        "kind");
	refused(coord_a, "GET", "/api/v1/programmes?archived=maybe", NULL, 400, "core.bad_query",
	        "archived");
	refused(coord_a, "GET", "/api/v1/programmes?organisation_id=0", NULL, 400, "core.bad_query",
	        "organisation_id");
	refused(coord_a, "GET", f("/api/v1/venues/%lld?rooms=1", venue), NULL, 400,
	        "core.bad_query", "rooms");
	refused(coord_a, "GET", "/api/v1/venues?org=1", NULL, 400, "core.bad_query", "org");
	refused(coord_a, "DELETE", "/api/v1/rooms/1?force=true", NULL, 400, "core.bad_query",
	        "force");
	refused(coord_a, "GET", "/api/v1/closures?since=2030-01-01", NULL, 400, "core.bad_query",
	        "since");
	refused(coord_a, "GET", "/api/v1/closures?from=2030-13-01", NULL, 400, "core.bad_query",
	        "from");
	refused(coord_a, "GET", "/api/v1/closures?from=2030-01-01&to=2031-03-01", NULL, 400,
	        "core.bad_range", "to");
	refused(coord_a, "GET", "/api/v1/closures?from=2030-02-01&to=2030-01-01", NULL, 400,
	        "core.bad_range", "to");
	refused(coord_a, "DELETE", "/api/v1/closures/1?force=true", NULL, 400, "core.bad_query",
	        "force");
	ck_assert_int_eq(num("SELECT count(*) FROM core.audit"), audit);
	ck_assert_int_eq(num("SELECT count(*) FROM core.programme WHERE name LIKE 'Q_'"), 0);
	/* The same routes without them answer. */
	json_decref(call(coord_a, "GET", f("/api/v1/programmes/%lld", p), NULL, 200));
	json_decref(
	    call(coord_a, "GET", "/api/v1/closures?from=2030-01-01&to=2031-02-05", NULL, 200));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("programmes");
	TCase *tc = tcase_create("programmes");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, programme_round_trip);
	tcase_add_test(tc, programme_types_zones_and_plugin_veto);
	tcase_add_test(tc, programme_staff);
	tcase_add_test(tc, programme_scope);
	tcase_add_test(tc, venues_and_rooms);
	tcase_add_test(tc, closures_skip_and_flag);
	tcase_add_test(tc, bad_input_changes_nothing);
	tcase_add_test(tc, stray_query_parameters_are_refused);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
