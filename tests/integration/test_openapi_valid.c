/*
 * The OpenAPI document the running server serves is valid OpenAPI 3.1 by the
 * OpenAPI Initiative's own schema, judged by an independent validator (npm
 * @seriousme/openapi-schema-validator, pinned in package.json). A broken
 * document is shown to fail the same check, so the check itself can fail.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts.h"

static int validate(const char *text)
{
	char path[] = "/tmp/waymark-openapi-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "node %s/tests/tools/validate_openapi.mjs %s", WAYMARK_SOURCE_DIR,
	         path);
	int st = system(cmd);
	unlink(path);
	ck_assert_msg(st != -1 && WIFEXITED(st), "could not run node");
	ck_assert_msg(WEXITSTATUS(st) != 2 && WEXITSTATUS(st) != 127,
	              "validator missing: run npm ci at the repository root");
	return WEXITSTATUS(st);
}

START_TEST(served_document_is_valid_openapi_31)
{
	char *db = ts_db_create("openapi");
	struct ts_server s;
	struct ts_server_opts o = {.database_url = db};
	ck_assert_int_eq(ts_server_start(&s, &o), 0);
	struct ts_response r;
	ck_assert_int_eq(ts_http(&s, "GET", "/api/v1/openapi.json", NULL, NULL, 0, 5000, &r), 0);
	ck_assert_int_eq(r.status, 200);
	char *ct = ts_header(&r, "content-type");
	ck_assert_ptr_nonnull(ct);
	ck_assert_ptr_nonnull(strstr(ct, "application/json"));
	free(ct);
	ck_assert_int_eq(validate(r.body), 0);

	/* The same document with an operation's responses removed must fail. */
	json_t *doc = ts_json(&r);
	ck_assert_ptr_nonnull(doc);
	json_t *op =
	    json_object_get(json_object_get(json_object_get(doc, "paths"), "/healthz"), "get");
	ck_assert_ptr_nonnull(op);
	json_object_set_new(op, "responses", json_string("none"));
	char *broken = json_dumps(doc, 0);
	ck_assert_int_eq(validate(broken), 1);
	free(broken);
	json_decref(doc);
	ts_response_free(&r);
	ck_assert_int_eq(ts_server_stop(&s), 0);
	ts_db_drop(db);
	free(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("openapi_valid");
	TCase *tc = tcase_create("validator");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, served_document_is_valid_openapi_31);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
