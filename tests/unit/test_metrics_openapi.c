/*
 * Metrics text and the OpenAPI document, both built from a real router: the
 * labels are route templates (never raw paths), the histogram is cumulative,
 * and the document lists exactly the router's operations with their
 * parameters, bodies and the shared error shape.
 */
#include <check.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "router.h"
#include "server.h"

#include "ts.h"

static void nop(struct wm_req *req, void *state)
{
}

static struct router *sample_router(void)
{
	struct router *r = router_new();
	char err[256];
	const struct wm_route_doc list = {"List notes.", NULL, "{\"type\":\"array\"}", 200};
	const struct wm_route_doc create = {"Create a note.",
	                                    "{\"type\":\"object\",\"required\":[\"body\"]}",
	                                    "{\"type\":\"object\"}", 201};
	const struct wm_route_doc one = {"One note.", NULL, "{\"type\":\"object\"}", 200};
	ck_assert_int_eq(
	    router_add(r, WM_GET, "/api/v1/x/notes", nop, NULL, NULL, &list, err, sizeof err),
	    WM_OK);
	ck_assert_int_eq(
	    router_add(r, WM_POST, "/api/v1/x/notes", nop, NULL, NULL, &create, err, sizeof err),
	    WM_OK);
	ck_assert_int_eq(router_add(r, WM_GET | WM_DELETE, "/api/v1/x/notes/{id}", nop, NULL, NULL,
	                            &one, err, sizeof err),
	                 WM_OK);
	router_freeze(r);
	return r;
}

static char *render(const struct router *r)
{
	struct evbuffer *b = evbuffer_new();
	ck_assert_int_eq(metrics_render(b, r, NULL), WM_OK);
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

START_TEST(metrics_count_by_template)
{
	metrics_reset();
	struct router *r = sample_router();
	metrics_request(2, WM_GET, 200, 0.003);
	metrics_request(2, WM_GET, 200, 0.2);
	metrics_request(2, WM_GET, 404, 0.001);
	metrics_request((size_t)-1, WM_GET, 404, 0.0001);
	char *s = render(r);
	ck_assert_ptr_nonnull(strstr(s, "waymark_http_requests_total{route=\"/api/v1/x/notes/"
	                                "{id}\",method=\"GET\",status=\"200\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(s, "waymark_http_requests_total{route=\"/api/v1/x/notes/"
	                                "{id}\",method=\"GET\",status=\"404\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(s, "route=\"unmatched\",method=\"GET\",status=\"404\"} 1"));
	/* Cumulative buckets: 0.003 is <= 0.005; 0.2 only from 0.25 up. */
	ck_assert_ptr_nonnull(strstr(s, "duration_seconds_bucket{route=\"/api/v1/x/notes/{id}\","
	                                "le=\"0.005\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(s, "duration_seconds_bucket{route=\"/api/v1/x/notes/{id}\","
	                                "le=\"0.1\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(s, "duration_seconds_bucket{route=\"/api/v1/x/notes/{id}\","
	                                "le=\"0.25\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(s, "duration_seconds_bucket{route=\"/api/v1/x/notes/{id}\","
	                                "le=\"+Inf\"} 3\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, "duration_seconds_count{route=\"/api/v1/x/notes/{id}\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(s, "# TYPE waymark_db_pool_in_use gauge\n"));
	ck_assert_ptr_nonnull(strstr(s, "waymark_db_errors_total 0\n"));
	/* Every non-comment line is "name{labels} value" or "name value". */
	for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#')
			continue;
		ck_assert_msg(strncmp(line, "waymark_", 8) == 0, "bad line: %s", line);
		ck_assert_msg(strrchr(line, ' ') != NULL, "no value: %s", line);
	}
	free(s);
	router_free(r);
	metrics_reset();
}
END_TEST

START_TEST(openapi_mirrors_router)
{
	struct router *r = sample_router();
	json_t *doc = openapi_document(r);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	json_t *paths = json_object_get(doc, "paths");
	ck_assert_int_eq(json_object_size(paths), 2);
	json_t *notes = json_object_get(paths, "/api/v1/x/notes");
	json_t *one = json_object_get(paths, "/api/v1/x/notes/{id}");
	ck_assert_int_eq(json_object_size(notes), 2); /* get, post */
	ck_assert_int_eq(json_object_size(one), 2);   /* get, delete */
	ck_assert_ptr_null(json_object_get(one, "head"));
	json_t *post = json_object_get(notes, "post");
	ck_assert_str_eq(json_string_value(json_object_get(post, "summary")), "Create a note.");
	ck_assert_ptr_nonnull(json_object_get(json_object_get(post, "responses"), "201"));
	json_t *req_schema = json_object_get(
	    json_object_get(
	        json_object_get(json_object_get(json_object_get(post, "requestBody"), "content"),
	                        "application/json"),
	        "schema"),
	    "required");
	ck_assert_str_eq(json_string_value(json_array_get(req_schema, 0)), "body");
	json_t *params = json_object_get(json_object_get(one, "get"), "parameters");
	ck_assert_int_eq(json_array_size(params), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(params, 0), "name")),
	                 "id");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(params, 0), "in")),
	                 "path");
	/* Every operation points its errors at the one shared shape. */
	ck_assert_str_eq(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(json_object_get(one, "delete"), "responses"),
	                        "default"),
	        "$ref")),
	    "#/components/responses/Error");
	ck_assert_ptr_nonnull(json_object_get(
	    json_object_get(json_object_get(doc, "components"), "schemas"), "Error"));
	/* Operation ids are unique. */
	ck_assert_str_ne(
	    json_string_value(json_object_get(json_object_get(one, "get"), "operationId")),
	    json_string_value(json_object_get(json_object_get(one, "delete"), "operationId")));
	json_decref(doc);
	router_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics_openapi");
	TCase *tc = tcase_create("render");
	tcase_add_test(tc, metrics_count_by_template);
	tcase_add_test(tc, openapi_mirrors_router);
	suite_add_tcase(s, tc);
	return ts_main(s);
}
