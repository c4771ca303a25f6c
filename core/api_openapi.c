/*
 * api_openapi — the OpenAPI 3.1 document, built from the router itself so it
 * cannot list a route that does not exist or miss one that does. Each route
 * brings its own summary and JSON schemas (struct wm_route_doc); this file
 * adds path parameters, the shared error shape and the operation ids.
 * Built once when first asked for (the router is frozen by then).
 */
#include <ctype.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "plugin_loader.h"
#include "req.h"
#include "router.h"
#include "server.h"

static const enum wm_method listed[] = {WM_GET, WM_POST, WM_PUT, WM_PATCH, WM_DELETE};

static json_t *error_schema(void)
{
	return json_pack("{s:s, s:[s], s:{s:{s:s, s:[s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}}}}}",
	                 "type", "object", "required", "error", "properties", "error", "type",
	                 "object", "required", "code", "message", "properties", "code", "type",
	                 "string", "message", "type", "string", "field", "type", "string");
}

static json_t *path_params(const char *pattern)
{
	json_t *arr = json_array();
	for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		if (!end)
			break;
		json_array_append_new(arr, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
		                                     (size_t)(end - p - 1), "in", "path",
		                                     "required", 1, "schema", "type", "string"));
	}
	return arr;
}

static json_t *schema_or_object(const char *text)
{
	json_t *s = text ? json_loads(text, 0, NULL) : NULL;
	return s ? s : json_pack("{s:s}", "type", "object");
}

static char *operation_id(enum wm_method m, const char *pattern)
{
	size_t n = strlen(pattern);
	char *id = malloc(n + 16);
	if (!id)
		return NULL;
	char *o = id;
	for (const char *s = router_method_name(m); *s; s++)
		*o++ = (char)tolower((unsigned char)*s);
	for (const char *p = pattern; *p; p++) {
		if (isalnum((unsigned char)*p))
			*o++ = *p;
		else if (*p == '/' || *p == '{' || *p == '_')
			*o++ = '_';
	}
	*o = '\0';
	return id;
}

static json_t *operation(const struct route *rt, enum wm_method m)
{
	char status[8];
	snprintf(status, sizeof status, "%d", rt->success_status ? rt->success_status : 200);
	json_t *ok = json_pack("{s:s}", "description", "Success.");
	if (rt->response_schema || (rt->success_status != 204 && m != WM_DELETE))
		json_object_set_new(ok, "content",
		                    json_pack("{s:{s:o}}", "application/json", "schema",
		                              schema_or_object(rt->response_schema)));
	char *opid = operation_id(m, rt->pattern);
	json_t *op =
	    json_pack("{s:s, s:s, s:[s], s:o, s:{s:o, s:{s:s}}}", "summary", rt->summary,
	              "operationId", opid ? opid : "op", "tags", rt->host ? rt->host->name : "core",
	              "parameters", path_params(rt->pattern), "responses", status, ok, "default",
	              "$ref", "#/components/responses/Error");
	free(opid);
	/* Who may call it: the authorisation matrix test reads this, and a
	 * client can tell a public route from one needing a token. */
	if (op && rt->access == WM_ACCESS_PUBLIC)
		json_object_set_new(op, "security", json_array());
	else if (op)
		json_object_set_new(op, "security",
		                    json_pack("[{s:[]},{s:[]}]", "bearer", "session"));
	if (op)
		json_object_set_new(op, "x-waymark-access", auth_access_json(rt->access));
	if (op && rt->request_schema)
		json_object_set_new(op, "requestBody",
		                    json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
		                              "application/json", "schema",
		                              schema_or_object(rt->request_schema)));
	return op;
}

json_t *openapi_document(const struct router *r)
{
	json_t *paths = json_object();
	for (size_t i = 0; i < router_count(r); i++) {
		const struct route *rt = router_get(r, i);
		json_t *item = json_object_get(paths, rt->pattern);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, rt->pattern, item);
		}
		for (size_t k = 0; k < sizeof listed / sizeof listed[0]; k++) {
			if (!(rt->methods & listed[k]))
				continue;
			char name[16];
			const char *mn = router_method_name(listed[k]);
			size_t j = 0;
			for (; mn[j] && j < sizeof name - 1; j++)
				name[j] = (char)tolower((unsigned char)mn[j]);
			name[j] = '\0';
			json_object_set_new(item, name, operation(rt, listed[k]));
		}
	}
	json_t *doc = json_pack(
	    "{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:{s:o}, s:{s:{s:s, s:{s:{s:{s:s}}}}}}}", "openapi",
	    "3.1.0", "info", "title", "Waymark", "version", WAYMARK_VERSION, "description",
	    "Scheduling and session management for programmes supporting people in the "
	    "justice system and their families.",
	    "paths", paths, "components", "schemas", "Error", error_schema(), "responses", "Error",
	    "description", "An error, in the one shape every route uses.", "content",
	    "application/json", "schema", "$ref", "#/components/schemas/Error");
	json_object_set_new(json_object_get(doc, "components"), "securitySchemes",
	                    json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:s}}", "bearer", "type", "http",
	                              "scheme", "bearer", "session", "type", "apiKey", "in",
	                              "cookie", "name", AUTH_COOKIE_NAME));
	return doc;
}

static char *cached; /* the document text; the router never changes after freeze */

static void openapi(struct wm_req *req, void *state)
{
	if (!cached) {
		json_t *doc = openapi_document(req->srv->router);
		cached = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(doc);
	}
	struct evbuffer *buf = cached ? evbuffer_new() : NULL;
	if (!buf) {
		req_reply_error(req, 500, "core.internal", NULL, "Cannot build the document.");
		return;
	}
	evbuffer_add_reference(buf, cached, strlen(cached), NULL, NULL);
	req_reply_buffer(req, 200, "application/json; charset=utf-8", buf);
}

wm_status api_openapi_register(struct server *srv)
{
	static const struct wm_route_doc doc = {
	    "The OpenAPI 3.1 description of every route this server has.", NULL, NULL, 200};
	char err[256];
	free(cached);
	cached = NULL;
	if (router_add_access(srv->router, WM_GET, "/api/v1/openapi.json", openapi, srv, NULL, &doc,
	                      WM_ACCESS_PUBLIC, err, sizeof err) != WM_OK) {
		log_msg(WM_LOG_ERROR, "server", "cannot add route: %s", err);
		return WM_ERR;
	}
	return WM_OK;
}
