/*
 * Router: which route a request reaches, what its parameters decode to, and
 * which routes are refused at start-up — the behaviour a client sees as 200,
 * 404 or 405 (with its Allow header) and an operator sees as a start-up
 * error naming the clashing routes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#include "ts.h"

static void h_a(struct wm_req *req, void *state)
{
}

static void h_b(struct wm_req *req, void *state)
{
}

static const struct wm_route_doc doc = {"A route.", NULL, NULL, 0};

static void add_ok(struct router *r, unsigned methods, const char *pattern, wm_handler_fn h)
{
	char err[256] = "";
	ck_assert_msg(router_add(r, methods, pattern, h, NULL, NULL, &doc, err, sizeof err) ==
	                  WM_OK,
	              "router_add %s: %s", pattern, err);
}

static wm_status add(struct router *r, unsigned methods, const char *pattern, char *err, size_t len)
{
	return router_add(r, methods, pattern, h_a, NULL, NULL, &doc, err, len);
}

static enum router_result match(const struct router *r, enum wm_method m, const char *path,
                                const struct route **rt, struct router_params *p, unsigned *allowed)
{
	return router_match(r, m, path, rt, p, allowed);
}

START_TEST(literal_beats_param_regardless_of_order)
{
	/* Added in both orders: the result must not depend on it. */
	for (int order = 0; order < 2; order++) {
		struct router *r = router_new();
		if (order == 0) {
			add_ok(r, WM_GET, "/api/v1/sessions/{id}", h_b);
			add_ok(r, WM_GET, "/api/v1/sessions/today", h_a);
		} else {
			add_ok(r, WM_GET, "/api/v1/sessions/today", h_a);
			add_ok(r, WM_GET, "/api/v1/sessions/{id}", h_b);
		}
		add_ok(r, WM_GET, "/api/v1/{kind}/today/{x}", h_b);
		add_ok(r, WM_GET, "/api/v1/sessions/{id}/{x}", h_a);
		router_freeze(r);
		const struct route *rt;
		struct router_params p;
		unsigned allowed;
		ck_assert_int_eq(match(r, WM_GET, "/api/v1/sessions/today", &rt, &p, &allowed),
		                 ROUTER_FOUND);
		ck_assert_str_eq(rt->pattern, "/api/v1/sessions/today");
		ck_assert_uint_eq(p.n, 0);
		router_params_clear(&p);
		ck_assert_int_eq(match(r, WM_GET, "/api/v1/sessions/42", &rt, &p, &allowed),
		                 ROUTER_FOUND);
		ck_assert_str_eq(rt->pattern, "/api/v1/sessions/{id}");
		ck_assert_str_eq(router_param(&p, "id"), "42");
		ck_assert_ptr_null(router_param(&p, "nope"));
		router_params_clear(&p);
		/* The leftmost literal decides: "sessions" beats {kind}. */
		ck_assert_int_eq(match(r, WM_GET, "/api/v1/sessions/today/9", &rt, &p, &allowed),
		                 ROUTER_FOUND);
		ck_assert_str_eq(rt->pattern, "/api/v1/sessions/{id}/{x}");
		ck_assert_str_eq(router_param(&p, "id"), "today");
		router_params_clear(&p);
		ck_assert_int_eq(match(r, WM_GET, "/api/v1/rooms/today/9", &rt, &p, &allowed),
		                 ROUTER_FOUND);
		ck_assert_str_eq(rt->pattern, "/api/v1/{kind}/today/{x}");
		ck_assert_str_eq(router_param(&p, "kind"), "rooms");
		ck_assert_str_eq(router_param(&p, "x"), "9");
		router_params_clear(&p);
		router_free(r);
	}
}
END_TEST

START_TEST(params_are_percent_decoded)
{
	struct router *r = router_new();
	add_ok(r, WM_GET, "/p/{name}", h_a);
	add_ok(r, WM_GET, "/", h_b);
	const struct route *rt;
	struct router_params p;
	unsigned allowed;
	ck_assert_int_eq(match(r, WM_GET, "/p/Ann%20Lee", &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_str_eq(router_param(&p, "name"), "Ann Lee");
	router_params_clear(&p);
	ck_assert_int_eq(match(r, WM_GET, "/p/Z%C3%BCrich", &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_str_eq(router_param(&p, "name"), "Z\xc3\xbcrich");
	router_params_clear(&p);
	ck_assert_int_eq(match(r, WM_GET, "/p/a+b", &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_str_eq(router_param(&p, "name"), "a+b");
	router_params_clear(&p);
	ck_assert_int_eq(match(r, WM_GET, "/", &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_str_eq(rt->pattern, "/");
	router_params_clear(&p);
	router_free(r);
}
END_TEST

START_TEST(bad_paths_are_not_found)
{
	struct router *r = router_new();
	add_ok(r, WM_GET, "/p/{name}", h_a);
	add_ok(r, WM_GET, "/p/{name}/x", h_a);
	const char *bad[] = {
	    "/p/%zz",       /* not hex */
	    "/p/%2",        /* cut short */
	    "/p/a%",        /* cut short */
	    "/p/a%00b",     /* NUL */
	    "/p/a%2Fb",     /* encoded slash */
	    "/p/a%2fb",     /* encoded slash, lower case */
	    "/p/%C0%AF",    /* overlong '/' */
	    "/p/%ED%A0%80", /* surrogate */
	    "/p/%E2%82",    /* truncated */
	    "/p/",          /* empty parameter */
	    "/p//x",        /* empty parameter */
	    "p/a",          /* not absolute */
	    "/p/a/",        /* trailing slash */
	    "/p",           /* too short */
	    "/p/a/x/y",     /* too long */
	    "",             /* empty */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const struct route *rt = (const struct route *)1;
		struct router_params p;
		unsigned allowed = 99;
		ck_assert_msg(match(r, WM_GET, bad[i], &rt, &p, &allowed) == ROUTER_NOT_FOUND,
		              "path %s should not be found", bad[i]);
		ck_assert_uint_eq(p.n, 0);
	}
	router_free(r);
}
END_TEST

START_TEST(method_not_allowed_lists_union)
{
	struct router *r = router_new();
	add_ok(r, WM_GET | WM_DELETE, "/n/{id}", h_a);
	add_ok(r, WM_PUT, "/n/{key}", h_b);
	add_ok(r, WM_PATCH, "/n/special", h_b);
	add_ok(r, WM_POST, "/other/{id}", h_b);
	const struct route *rt;
	struct router_params p;
	unsigned allowed = 0;
	ck_assert_int_eq(match(r, WM_POST, "/n/5", &rt, &p, &allowed), ROUTER_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(allowed, WM_GET | WM_HEAD | WM_DELETE | WM_PUT);
	char buf[96];
	router_methods_str(allowed | WM_OPTIONS, buf, sizeof buf);
	ck_assert_str_eq(buf, "GET, HEAD, PUT, DELETE, OPTIONS");
	/* The literal route does not take DELETE, so the parameter route does. */
	ck_assert_int_eq(match(r, WM_DELETE, "/n/special", &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_str_eq(rt->pattern, "/n/{id}");
	ck_assert_str_eq(router_param(&p, "id"), "special");
	router_params_clear(&p);
	ck_assert_int_eq(match(r, WM_PATCH, "/n/special", &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_str_eq(rt->pattern, "/n/special");
	router_params_clear(&p);
	ck_assert_int_eq(match(r, WM_POST, "/n/special", &rt, &p, &allowed),
	                 ROUTER_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(allowed, WM_GET | WM_HEAD | WM_DELETE | WM_PUT | WM_PATCH);
	ck_assert_int_eq(match(r, WM_PUT, "/n/7", &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_str_eq(router_param(&p, "key"), "7");
	router_params_clear(&p);
	ck_assert_int_eq(match(r, WM_GET, "/nothing", &rt, &p, &allowed), ROUTER_NOT_FOUND);
	router_free(r);
}
END_TEST

START_TEST(head_via_get)
{
	struct router *r = router_new();
	add_ok(r, WM_GET, "/g", h_a);
	add_ok(r, WM_POST, "/p", h_a);
	const struct route *rt;
	struct router_params p;
	unsigned allowed;
	ck_assert_int_eq(match(r, WM_HEAD, "/g", &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_str_eq(rt->pattern, "/g");
	ck_assert_int_eq(match(r, WM_HEAD, "/p", &rt, &p, &allowed), ROUTER_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(allowed, WM_POST);
	router_free(r);
}
END_TEST

START_TEST(clashes_are_refused_with_both_routes_named)
{
	struct router *r = router_new();
	char err[256] = "";
	add_ok(r, WM_GET, "/a/{id}", h_a);
	ck_assert_int_eq(add(r, WM_GET, "/a/{x}", err, sizeof err), WM_ERR);
	ck_assert_str_eq(err, "route GET /a/{x} clashes with GET /a/{id}");
	/* HEAD overlaps the implied HEAD of GET. */
	ck_assert_int_eq(add(r, WM_HEAD | WM_POST, "/a/{y}", err, sizeof err), WM_ERR);
	ck_assert_str_eq(err, "route HEAD, POST /a/{y} clashes with GET /a/{id}");
	/* Other methods on the same shape, or another literal, are fine. */
	add_ok(r, WM_POST | WM_DELETE, "/a/{x}", h_b);
	add_ok(r, WM_GET, "/a/b", h_b);
	add_ok(r, WM_GET, "/a/{id}/c", h_b);
	ck_assert_int_eq(add(r, WM_DELETE, "/a/{z}", err, sizeof err), WM_ERR);
	ck_assert_str_eq(err, "route DELETE /a/{z} clashes with POST, DELETE /a/{x}");
	ck_assert_uint_eq(router_count(r), 4);
	router_free(r);
}
END_TEST

START_TEST(bad_patterns_are_refused)
{
	struct router *r = router_new();
	char err[256];
	const char *bad[] = {
	    "",
	    "a/b",
	    "/a/",
	    "/a//b",
	    "/a/{}",
	    "/a/{Id}",
	    "/a/{1x}",
	    "/a/{x-y}",
	    "/a/{x",
	    "/a/x}",
	    "/a/b c",
	    "/a/%20",
	    "/a/{x}{y}",
	    "/a/{x}/{x}",
	    "/a/\xc3\xa9",
	    "/a/b?c",
	    "/a/#",
	    "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17",
	    "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		ck_assert_msg(add(r, WM_GET, bad[i], err, sizeof err) == WM_ERR,
		              "pattern \"%s\" should be refused", bad[i]);
		ck_assert_msg(err[0] != '\0', "pattern \"%s\": no reason given", bad[i]);
	}
	add_ok(r, WM_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", h_a);
	add_ok(r, WM_GET, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", h_a);
	add_ok(r, WM_GET, "/A-z_0.9~/{snake_case2}", h_a);
	ck_assert_int_eq(add(r, 0, "/none", err, sizeof err), WM_ERR);
	ck_assert_int_eq(add(r, 1u << 10, "/weird", err, sizeof err), WM_ERR);
	ck_assert_uint_eq(router_count(r), 3);
	router_free(r);
}
END_TEST

START_TEST(frozen_router_refuses)
{
	struct router *r = router_new();
	char err[256] = "";
	add_ok(r, WM_GET, "/a", h_a);
	ck_assert_int_eq(router_frozen(r), 0);
	router_freeze(r);
	ck_assert_int_eq(router_frozen(r), 1);
	ck_assert_int_eq(add(r, WM_GET, "/b", err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "frozen"));
	ck_assert_ptr_nonnull(strstr(err, "/b"));
	ck_assert_uint_eq(router_count(r), 1);
	router_free(r);
}
END_TEST

START_TEST(summary_required_and_docs_copied)
{
	struct router *r = router_new();
	char err[256] = "";
	struct wm_route_doc d = {NULL, NULL, NULL, 0};
	ck_assert_int_eq(router_add(r, WM_GET, "/a", h_a, NULL, NULL, &d, err, sizeof err), WM_ERR);
	ck_assert_ptr_nonnull(strstr(err, "summary"));
	d.summary = "";
	ck_assert_int_eq(router_add(r, WM_GET, "/a", h_a, NULL, NULL, &d, err, sizeof err), WM_ERR);
	ck_assert_int_eq(router_add(r, WM_GET, "/a", h_a, NULL, NULL, NULL, err, sizeof err),
	                 WM_ERR);
	char summary[] = "List things.", req[] = "{\"type\":\"object\"}", pat[] = "/a/{id}";
	int state = 7;
	d = (struct wm_route_doc){summary, req, NULL, 201};
	ck_assert_int_eq(router_add(r, WM_POST, pat, h_b, &state, NULL, &d, err, sizeof err),
	                 WM_OK);
	memset(summary, 'x', sizeof summary - 1);
	memset(req, 'x', sizeof req - 1);
	memset(pat, 'x', sizeof pat - 1);
	const struct route *rt = router_get(r, 0);
	ck_assert_str_eq(rt->summary, "List things.");
	ck_assert_str_eq(rt->request_schema, "{\"type\":\"object\"}");
	ck_assert_ptr_null(rt->response_schema);
	ck_assert_str_eq(rt->pattern, "/a/{id}");
	ck_assert_int_eq(rt->success_status, 201);
	ck_assert_ptr_eq(rt->state, &state);
	ck_assert_ptr_eq((void *)rt->handler, (void *)h_b);
	ck_assert_uint_eq(rt->methods, WM_POST);
	router_free(r);
}
END_TEST

START_TEST(index_is_insertion_order)
{
	struct router *r = router_new();
	const char *pats[] = {"/z", "/a", "/m/{id}", "/m/x", "/"};
	for (size_t i = 0; i < 5; i++)
		add_ok(r, WM_GET, pats[i], h_a);
	ck_assert_uint_eq(router_count(r), 5);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_str_eq(router_get(r, i)->pattern, pats[i]);
		ck_assert_uint_eq(router_get(r, i)->index, i);
	}
	ck_assert_ptr_null(router_get(r, 5));
	const struct route *rt;
	struct router_params p;
	unsigned allowed;
	ck_assert_int_eq(match(r, WM_GET, "/m/x", &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_uint_eq(rt->index, 3);
	router_free(r);
}
END_TEST

START_TEST(method_strings)
{
	char buf[96];
	router_methods_str(WM_OPTIONS | WM_DELETE | WM_PATCH | WM_PUT | WM_POST | WM_HEAD | WM_GET,
	                   buf, sizeof buf);
	ck_assert_str_eq(buf, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	router_methods_str(WM_POST | WM_GET, buf, sizeof buf);
	ck_assert_str_eq(buf, "GET, POST");
	router_methods_str(0, buf, sizeof buf);
	ck_assert_str_eq(buf, "");
	/* Truncation keeps a terminated string. */
	router_methods_str(WM_GET | WM_POST | WM_DELETE, buf, 8);
	ck_assert_uint_lt(strlen(buf), 8);
	const enum wm_method all[] = {WM_GET,   WM_HEAD,   WM_POST,   WM_PUT,
	                              WM_PATCH, WM_DELETE, WM_OPTIONS};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		ck_assert_int_eq(router_method_parse(router_method_name(all[i])), all[i]);
	ck_assert_str_eq(router_method_name(WM_PATCH), "PATCH");
	ck_assert_int_eq(router_method_parse("get"), 0);
	ck_assert_int_eq(router_method_parse("TRACE"), 0);
	ck_assert_int_eq(router_method_parse(""), 0);
}
END_TEST

START_TEST(long_paths_are_not_found)
{
	struct router *r = router_new();
	add_ok(r, WM_GET, "/p/{v}", h_a);
	char path[ROUTER_MAX_PATH + 2];
	const struct route *rt;
	struct router_params p;
	unsigned allowed;
	/* Exactly at the limit still matches... */
	memcpy(path, "/p/", 3);
	memset(path + 3, 'a', ROUTER_MAX_PATH - 3);
	path[ROUTER_MAX_PATH] = '\0';
	ck_assert_int_eq(match(r, WM_GET, path, &rt, &p, &allowed), ROUTER_FOUND);
	ck_assert_uint_eq(strlen(router_param(&p, "v")), ROUTER_MAX_PATH - 3);
	router_params_clear(&p);
	/* ...one byte more does not. */
	path[ROUTER_MAX_PATH] = 'a';
	path[ROUTER_MAX_PATH + 1] = '\0';
	ck_assert_int_eq(match(r, WM_GET, path, &rt, &p, &allowed), ROUTER_NOT_FOUND);
	/* Many segments are refused without overrunning anything. */
	char many[200] = "";
	for (int i = 0; i < 40; i++)
		strcat(many, "/x");
	ck_assert_int_eq(match(r, WM_GET, many, &rt, &p, &allowed), ROUTER_NOT_FOUND);
	router_free(r);
}
END_TEST

static Suite *router_suite(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("router");
	tcase_add_test(tc, literal_beats_param_regardless_of_order);
	tcase_add_test(tc, params_are_percent_decoded);
	tcase_add_test(tc, bad_paths_are_not_found);
	tcase_add_test(tc, method_not_allowed_lists_union);
	tcase_add_test(tc, head_via_get);
	tcase_add_test(tc, clashes_are_refused_with_both_routes_named);
	tcase_add_test(tc, bad_patterns_are_refused);
	tcase_add_test(tc, frozen_router_refuses);
	tcase_add_test(tc, summary_required_and_docs_copied);
	tcase_add_test(tc, index_is_insertion_order);
	tcase_add_test(tc, method_strings);
	tcase_add_test(tc, long_paths_are_not_found);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ts_main(router_suite());
}
