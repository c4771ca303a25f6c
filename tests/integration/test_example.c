/*
 * The example plugin end to end, over HTTP against the real server and
 * database: a note posted is the note read back (also in example.notes),
 * lists page by id with a next_cursor until it is null, the plugin's own
 * config section bounds the page size, and every id that names no note —
 * unknown, non-numeric, zero, negative, huge — is the same 404.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

static struct ts_server srv;
static char *db;

static void start_config(const char *config)
{
	db = ts_db_create("example");
	struct ts_server_opts o = {.database_url = db, .config_json = config};
	ck_assert_int_eq(ts_server_start(&srv, &o), 0);
	ts_server_grant(&srv, db);
}

static void setup(void)
{
	start_config(NULL);
}

static void teardown(void)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
}

/* GET path, expecting `status`; returns the parsed body (caller decrefs). */
static json_t *get_json(const char *path, int status)
{
	struct ts_response r;
	ck_assert_int_eq(ts_http(&srv, "GET", path, NULL, NULL, 0, 5000, &r), 0);
	ck_assert_msg(r.status == status, "GET %s: %d, expected %d: %s", path, r.status, status,
	              r.body);
	json_t *doc = ts_json(&r);
	ck_assert_msg(doc != NULL, "GET %s: body is not JSON", path);
	ts_response_free(&r);
	return doc;
}

/* POSTs a note with this text and returns the created note. */
static json_t *post_note(const char *text)
{
	json_t *req = json_pack("{s:s}", "body", text);
	char *body = json_dumps(req, JSON_COMPACT);
	struct ts_response r;
	ck_assert_int_eq(ts_http(&srv, "POST", "/api/v1/example/notes",
	                         "Content-Type: application/json\r\n", body, strlen(body), 5000,
	                         &r),
	                 0);
	ck_assert_msg(r.status == 201, "POST: %d %s", r.status, r.body);
	json_t *note = ts_json(&r);
	ck_assert_ptr_nonnull(note);
	ts_response_free(&r);
	free(body);
	json_decref(req);
	return note;
}

static long note_id(const json_t *note)
{
	json_t *id = json_object_get(note, "id");
	ck_assert_msg(json_is_integer(id), "note without an integer id");
	return (long)json_integer_value(id);
}

START_TEST(post_then_get_round_trip)
{
	json_t *made = post_note("Bring the signed consent form on Tuesday");
	long id = note_id(made);
	ck_assert_int_gt(id, 0);
	ck_assert_str_eq(json_string_value(json_object_get(made, "body")),
	                 "Bring the signed consent form on Tuesday");
	const char *at = json_string_value(json_object_get(made, "created_at"));
	ck_assert_ptr_nonnull(at);
	regex_t re;
	ck_assert_int_eq(regcomp(&re,
	                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
	                         "(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$",
	                         REG_EXTENDED | REG_NOSUB),
	                 0);
	ck_assert_msg(regexec(&re, at, 0, NULL, 0) == 0, "created_at \"%s\" is not RFC 3339", at);
	regfree(&re);

	char path[64];
	snprintf(path, sizeof path, "/api/v1/example/notes/%ld", id);
	json_t *got = get_json(path, 200);
	ck_assert_msg(json_equal(made, got), "GET returned a different note than POST created");
	json_decref(got);
	json_decref(made);

	/* 500 characters is the limit, counted as characters, not bytes. */
	char accents[1001] = "";
	for (int i = 0; i < 500; i++)
		strcat(accents, "\xc3\xa9");
	made = post_note(accents);
	snprintf(path, sizeof path, "/api/v1/example/notes/%ld", note_id(made));
	got = get_json(path, 200);
	ck_assert_str_eq(json_string_value(json_object_get(got, "body")), accents);
	json_decref(got);
	json_decref(made);
}
END_TEST

START_TEST(notes_are_stored_in_the_example_schema)
{
	json_t *made = post_note("stored where the plugin says");
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT body FROM example.notes WHERE id = %ld", note_id(made));
	char *body = ts_db_value(db, sql);
	ck_assert_str_eq(body ? body : "(no row)", "stored where the plugin says");
	free(body);
	char *n = ts_db_value(db, "SELECT count(*) FROM information_schema.tables "
	                          "WHERE table_schema = 'example' AND table_name = 'notes'");
	ck_assert_str_eq(n, "1");
	free(n);
	n = ts_db_value(db, "SELECT count(*) FROM core.schema_ledger WHERE owner = 'example'");
	ck_assert_str_eq(n, "2");
	free(n);
	json_decref(made);
}
END_TEST

/* Walks the list with page size `limit`; returns how many notes it saw and
 * checks ids rise strictly and `next` is the last id of a full page. */
static int walk(int limit, long *ids, int max)
{
	long after = 0;
	int seen = 0;
	for (int page = 0; page < 100; page++) {
		char path[96];
		if (after)
			snprintf(path, sizeof path, "/api/v1/example/notes?cursor=%ld&limit=%d",
			         after, limit);
		else
			snprintf(path, sizeof path, "/api/v1/example/notes?limit=%d", limit);
		json_t *doc = get_json(path, 200);
		json_t *notes = json_object_get(doc, "items");
		json_t *next = json_object_get(doc, "next_cursor");
		ck_assert_msg(json_is_array(notes), "no notes array");
		ck_assert_int_le(json_array_size(notes), (size_t)limit);
		size_t i;
		json_t *note;
		json_array_foreach(notes, i, note)
		{
			long id = note_id(note);
			ck_assert_msg(seen == 0 || id > ids[seen - 1], "ids not increasing");
			ck_assert_int_lt(seen, max);
			ids[seen++] = id;
		}
		if (json_is_null(next)) {
			json_decref(doc);
			return seen;
		}
		ck_assert_msg(json_is_string(next), "next_cursor is neither a cursor nor null");
		ck_assert_int_eq(json_array_size(notes), (size_t)limit);
		ck_assert_int_eq(atol(json_string_value(next)), ids[seen - 1]);
		after = atol(json_string_value(next));
		json_decref(doc);
	}
	ck_abort_msg("the list never ended");
	return -1;
}

START_TEST(list_pages_with_next)
{
	long made[5], ids[16];
	for (int i = 0; i < 5; i++) {
		char text[32];
		snprintf(text, sizeof text, "note %d", i + 1);
		json_t *n = post_note(text);
		made[i] = note_id(n);
		json_decref(n);
	}
	ck_assert_int_eq(walk(2, ids, 16), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(ids[i], made[i]);
	/* A page that ends exactly at the last note says there is no more. */
	ck_assert_int_eq(walk(5, ids, 16), 5);
	ck_assert_int_eq(walk(1, ids, 16), 5);

	/* No parameters: everything fits in the default page. */
	json_t *doc = get_json("/api/v1/example/notes", 200);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 5);
	ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
	json_decref(doc);
	/* After the last note: an empty page. */
	char path[96];
	snprintf(path, sizeof path, "/api/v1/example/notes?cursor=%ld", made[4]);
	doc = get_json(path, 200);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
	ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
	json_decref(doc);
}
END_TEST

static void assert_bad_query(const char *path, const char *field)
{
	json_t *doc = get_json(path, 400);
	json_t *err = json_object_get(doc, "error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "example.bad_query");
	ck_assert_str_eq(json_string_value(json_object_get(err, "field")), field);
	json_decref(doc);
}

START_TEST(list_refuses_bad_parameters)
{
	assert_bad_query("/api/v1/example/notes?limit=0", "limit");
	assert_bad_query("/api/v1/example/notes?limit=abc", "limit");
	assert_bad_query("/api/v1/example/notes?limit=51", "limit");
	assert_bad_query("/api/v1/example/notes?cursor=-1", "cursor");
	assert_bad_query("/api/v1/example/notes?cursor=1x", "cursor");
	/* Unknown, repeated and unparsable parameters are refused by the core,
	 * not ignored: a typo must not silently return an unfiltered page. */
	static const struct {
		const char *path, *field;
	} refused[] = {
	    {"/api/v1/example/notes?limt=5", "limt"},
	    {"/api/v1/example/notes?limit=5&limit=abc", "limit"},
	    {"/api/v1/example/notes?limit=abc&x", NULL},
	    {"/api/v1/example/notes/1?x=1", "x"},
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		json_t *doc = get_json(refused[i].path, 400);
		json_t *err = json_object_get(doc, "error");
		ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "core.bad_query");
		if (refused[i].field)
			ck_assert_str_eq(json_string_value(json_object_get(err, "field")),
			                 refused[i].field);
		json_decref(doc);
	}
}
END_TEST

static void assert_not_found(const char *path)
{
	json_t *doc = get_json(path, 404);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "error"), "code")),
	                 "example.not_found");
	json_decref(doc);
}

START_TEST(unknown_and_malformed_ids_are_404)
{
	json_t *made = post_note("the only note");
	char path[64];
	snprintf(path, sizeof path, "/api/v1/example/notes/%ld", note_id(made) + 1);
	assert_not_found(path);
	assert_not_found("/api/v1/example/notes/abc");
	assert_not_found("/api/v1/example/notes/0");
	assert_not_found("/api/v1/example/notes/-1");
	assert_not_found("/api/v1/example/notes/1.5");
	assert_not_found("/api/v1/example/notes/99999999999999999999999");
	json_decref(made);
}
END_TEST

/* A note is its author's alone: another staff member of the same
 * organisation gets the same 404 as for a note that does not exist and
 * does not see it listed; without credentials every route is 401. */
START_TEST(notes_are_private_to_their_author)
{
	json_t *made = post_note("mine alone");
	char path[64], auth[128];
	snprintf(path, sizeof path, "/api/v1/example/notes/%ld", note_id(made));
	char *other = ts_staff_token(db, "Test organisation", "colleague@example.org", "mentor", 0);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", other);
	struct ts_response r;
	ck_assert_int_eq(ts_http(&srv, "GET", path, auth, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 404);
	ts_response_free(&r);
	ck_assert_int_eq(ts_http(&srv, "GET", "/api/v1/example/notes", auth, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	json_t *doc = ts_json(&r);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
	json_decref(doc);
	ts_response_free(&r);
	/* The author still reads it. */
	json_decref(get_json(path, 200));
	struct ts_server anon = srv;
	anon.token[0] = '\0';
	ck_assert_int_eq(ts_http(&anon, "GET", path, NULL, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 401);
	char *code = ts_error_code(&r);
	ck_assert_str_eq(code, "core.unauthenticated");
	free(code);
	ts_response_free(&r);
	free(other);
	json_decref(made);
}
END_TEST

/* The plugin's config section reaches it: max_list bounds the page. */
START_TEST(plugin_config_section_bounds_the_page)
{
	ck_assert_int_eq(ts_server_stop(&srv), 0);
	ts_db_drop(db);
	free(db);
	start_config("{\"plugins\":{\"load\":[\"example\"],\"example\":{\"max_list\":3}}}");
	for (int i = 0; i < 4; i++)
		json_decref(post_note("paged by config"));
	json_t *doc = get_json("/api/v1/example/notes", 200);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 3);
	ck_assert(json_is_string(json_object_get(doc, "next_cursor")));
	json_decref(doc);
	assert_bad_query("/api/v1/example/notes?limit=4", "limit");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("example");
	TCase *tc = tcase_create("notes");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, post_then_get_round_trip);
	tcase_add_test(tc, notes_are_stored_in_the_example_schema);
	tcase_add_test(tc, list_pages_with_next);
	tcase_add_test(tc, list_refuses_bad_parameters);
	tcase_add_test(tc, unknown_and_malformed_ids_are_404);
	tcase_add_test(tc, notes_are_private_to_their_author);
	tcase_add_test(tc, plugin_config_section_bounds_the_page);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
