/*
 * example — the plugin every real plugin starts from: a tiny notes API.
 *
 *   POST /api/v1/example/notes          {"body": "..."}  -> 201 note
 *   GET  /api/v1/example/notes/{id}                      -> 200 note | 404
 *   GET  /api/v1/example/notes?cursor=C&limit=N  -> 200 {"items":[...],"next_cursor":C|null}
 *
 * Every note belongs to the staff member who wrote it: the core tells us who
 * is calling (req_caller, ABI 1.1) and every query is filtered by that id,
 * so another caller's note is simply not found. That is the scoping rule
 * every plugin follows: the route's roles are checked by the core, the
 * objects by our own SQL.
 *
 * Read it top to bottom: descriptor pieces first (migrations, config
 * table), then init, the routes, the handlers with their database callbacks,
 * shutdown, and last the descriptor and the one exported function. Every
 * comment says why the code is as it is; README.md beside this file says
 * how to copy it.
 *
 * A plugin includes <waymark/plugin.h> and nothing from core/: everything
 * it may call arrives in struct wm_core at init. It links nothing of the
 * core, is built with -fvisibility=hidden, and exports one symbol,
 * wm_plugin_entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <waymark/plugin.h>

/* --- migrations -------------------------------------------------------- */

/* The build turns migrations/NNNN_name.sql into a C file defining these two
 * (cmake/embed_migrations.cmake). They are ordinary (hidden) globals of this
 * .so, so the descriptor can point at them. */
extern const struct wm_migration example_migrations[];
extern const size_t example_migrations_n;

/* --- configuration ---------------------------------------------------- */

/* The table the core checks the "plugins.example" config section against
 * before init: an unknown key, a wrong type or an out-of-range value stops
 * start-up with a message naming the key, so init never sees bad config. */
static const struct wm_config_key config_keys[] = {
    {"max_list", WM_CFG_INT, "50", 1, 200,
     "most notes one page of GET /api/v1/example/notes returns (the cap on ?limit=)"},
    {NULL},
};

/* --- state ------------------------------------------------------------ */

/* Everything the plugin keeps between calls. init allocates it, every
 * handler receives it as `state`, shutdown frees it. Keeping it in one
 * struct rather than in globals makes ownership obvious and lets a future
 * core load a plugin twice. */
struct example {
	const struct wm_core *core; /* valid until shutdown returns */
	struct wm_host *host;       /* identifies us in every core call */
	int max_list;               /* copied: config is only borrowed in init */
};

/* Ids are bigint, but clients are often JavaScript, whose numbers are exact
 * only up to 2^53; no id above that is ever handed out, so none is valid. */
#define MAX_ID   (1ULL << 53)
#define BODY_MAX 500

/* created_at as RFC 3339 in UTC with milliseconds, formatted by PostgreSQL
 * so the text does not depend on the connection's DateStyle or TimeZone. */
#define NOTE_COLUMNS                                                                               \
	"id, body, to_char(created_at AT TIME ZONE 'UTC', "                                        \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The schema name is spelt out: migrations run with search_path=example,
 * requests do not. Parameters are always $n, never pasted into the text. */
static const char sql_insert[] = "INSERT INTO example.notes (body, author_staff_id) "
                                 "VALUES ($1, $2::bigint) RETURNING " NOTE_COLUMNS;
static const char sql_get[] = "SELECT " NOTE_COLUMNS " FROM example.notes "
                              "WHERE id = $1::bigint AND author_staff_id = $2::bigint";
/* Keyset pagination: "after the last id you saw" stays fast and stable
 * while rows are added, where OFFSET would rescan and shift. */
static const char sql_list[] = "SELECT " NOTE_COLUMNS " FROM example.notes "
                               "WHERE id > $1::bigint AND author_staff_id = $3::bigint "
                               "ORDER BY id LIMIT $2::int";

/* --- init ------------------------------------------------------------- */

static wm_status example_init(const struct wm_core *core, struct wm_host *host,
                              const json_t *config, void **state)
{
	struct example *ex = calloc(1, sizeof *ex);
	if (!ex) {
		core->log(host, WM_LOG_ERROR, "out of memory");
		goto fail;
	}
	ex->core = core;
	ex->host = host;
	/* The core filled in the default and checked the bounds already. */
	ex->max_list = (int)json_integer_value(json_object_get(config, "max_list"));

	/* Statements are declared once here; every pooled connection prepares
	 * them when it connects, so a request never pays for parsing. The
	 * names are ours alone: the core prefixes them with "example.". */
	if (core->db_prepare(host, "insert_note", sql_insert, 2) != WM_OK ||
	    core->db_prepare(host, "get_note", sql_get, 2) != WM_OK ||
	    core->db_prepare(host, "list_notes", sql_list, 3) != WM_OK)
		goto fail; /* the core has logged which one */

	*state = ex;
	return WM_OK;
fail:
	/* When init fails, shutdown is not called: free what we made. */
	free(ex);
	return WM_ERR;
}

/* --- helpers ---------------------------------------------------------- */

/* Digits only, at most 16 of them, value <= max. strtoull alone would also
 * accept "+5", " 5", "5x" and "-1" (as a huge number). */
static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	if (!s || !*s || strlen(s) > 16 || strspn(s, "0123456789") != strlen(s))
		return -1;
	unsigned long long v = strtoull(s, NULL, 10); /* 16 digits cannot overflow */
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* The caller's staff id as text, for a query parameter. Every route here
 * needs a caller (none is public), so the core has authenticated one. */
static void caller_id(struct example *ex, struct wm_req *req, char buf[24])
{
	const struct wm_caller *c = ex->core->req_caller(req);
	snprintf(buf, 24, "%lld", c ? (long long)c->staff_id : 0LL);
}

/* One result row as the note object every route returns. */
static json_t *note_json(const struct wm_core *core, const struct wm_db_result *res, int row)
{
	return json_pack("{s:I, s:s, s:s}", "id",
	                 (json_int_t)strtoll(core->db_value(res, row, 0), NULL, 10), "body",
	                 core->db_value(res, row, 1), "created_at", core->db_value(res, row, 2));
}

/* What a request needs to remember while its query runs. Allocated by the
 * handler, freed by the callback: the callback is called exactly once,
 * whatever happens, so that is the one place to free it. */
struct call {
	struct example *ex;
	struct wm_req *req; /* alive until we reply */
	int limit;          /* list only: the page size asked for */
};

/* Starts a prepared statement for `req`. db_exec_prepared fails only on bad
 * arguments (a programming error); then the callback will never come, so
 * the reply and the free happen here instead. */
static void run(struct example *ex, struct wm_req *req, const char *stmt, int nparams,
                const char *const *params, wm_db_fn cb, int limit)
{
	struct call *c = malloc(sizeof *c);
	if (!c) {
		ex->core->reply_error(req, 500, "example.internal", NULL, "Out of memory.");
		return;
	}
	*c = (struct call){ex, req, limit};
	if (ex->core->db_exec_prepared(ex->host, stmt, nparams, params, cb, c) != WM_OK) {
		free(c);
		ex->core->reply_error(req, 500, "example.internal", NULL,
		                      "The query could not be started.");
	}
}

/* --- POST /api/v1/example/notes ---------------------------------------- */

static void created(void *arg, const struct wm_db_result *res)
{
	struct call *c = arg;
	const struct wm_core *core = c->ex->core;
	/* A database failure becomes the standard 503/500 reply, so clients
	 * see the same shape (and Retry-After) from every plugin. */
	if (core->db_error(res) != WM_DB_OK)
		core->reply_db_error(c->req, res);
	else
		core->reply_json(c->req, 201, note_json(core, res, 0)); /* stolen */
	free(c);
}

static void create_note(struct wm_req *req, void *state)
{
	struct example *ex = state;
	static const char *const allowed[] = {"body", NULL};
	json_t *obj;
	const char *body;
	/* Each validator sends the 400 (or 413/415) naming the field itself;
	 * on WM_ERR the request has its reply and we only return. */
	if (ex->core->req_json(req, &obj) != WM_OK ||
	    ex->core->json_only(req, obj, allowed) != WM_OK ||
	    ex->core->json_string(req, obj, "body", BODY_MAX, 1, &body) != WM_OK)
		return;
	/* `body` is borrowed from the request's JSON; db_exec_prepared copies
	 * parameters before it returns, so nothing here needs to outlive us. */
	char who[24];
	caller_id(ex, req, who);
	const char *params[] = {body, who};
	run(ex, req, "insert_note", 2, params, created, 0);
}

/* --- GET /api/v1/example/notes/{id} ------------------------------------- */

static void got(void *arg, const struct wm_db_result *res)
{
	struct call *c = arg;
	const struct wm_core *core = c->ex->core;
	if (core->db_error(res) != WM_DB_OK)
		core->reply_db_error(c->req, res);
	else if (core->db_ntuples(res) == 0)
		core->reply_error(c->req, 404, "example.not_found", NULL, "No such note.");
	else
		core->reply_json(c->req, 200, note_json(core, res, 0));
	free(c);
}

static void get_note(struct wm_req *req, void *state)
{
	struct example *ex = state;
	static const char *const none[] = {NULL};
	if (ex->core->req_query_only(req, none) != WM_OK)
		return;
	const char *id = ex->core->req_param(req, "id");
	unsigned long long v;
	/* A malformed id gets the same 404 as a missing one: a different
	 * answer would tell a prober which ids exist. */
	if (parse_uint(id, MAX_ID, &v) != 0 || v == 0) {
		ex->core->reply_error(req, 404, "example.not_found", NULL, "No such note.");
		return;
	}
	char who[24];
	caller_id(ex, req, who);
	const char *params[] = {id, who};
	run(ex, req, "get_note", 2, params, got, 0);
}

/* --- GET /api/v1/example/notes?cursor=C&limit=N ----------------------- */

static void listed(void *arg, const struct wm_db_result *res)
{
	struct call *c = arg;
	const struct wm_core *core = c->ex->core;
	if (core->db_error(res) != WM_DB_OK) {
		core->reply_db_error(c->req, res);
		goto out;
	}
	/* We asked for one row more than the page: if it came, there is a
	 * next page and it starts after this page's last id. That saves the
	 * client a final request that would return nothing. */
	int n = core->db_ntuples(res);
	int shown = n > c->limit ? c->limit : n;
	json_t *notes = json_array();
	for (int i = 0; i < shown; i++)
		json_array_append_new(notes, note_json(core, res, i));
	/* The same list shape as every core route: the cursor is opaque to
	 * clients (here, the last id shown, as text). */
	json_t *next = n > c->limit ? json_string(core->db_value(res, shown - 1, 0)) : json_null();
	core->reply_json(c->req, 200, json_pack("{s:o, s:o}", "items", notes, "next_cursor", next));
out:
	free(c);
}

static void list_notes(struct wm_req *req, void *state)
{
	struct example *ex = state;
	static const char *const known[] = {"cursor", "limit", NULL};
	/* An unknown or repeated parameter is refused, not ignored: a client
	 * with a typo ("?limt=5") learns at once instead of getting page 1. */
	if (ex->core->req_query_only(req, known) != WM_OK)
		return;
	const char *after = ex->core->req_query(req, "cursor");
	const char *limit = ex->core->req_query(req, "limit");
	unsigned long long a = 0, l = (unsigned long long)ex->max_list;
	if (after && parse_uint(after, MAX_ID, &a) != 0) {
		ex->core->reply_error(req, 400, "example.bad_query", "cursor",
		                      "cursor must be a next_cursor value from a previous page.");
		return;
	}
	if (limit && (parse_uint(limit, (unsigned long long)ex->max_list, &l) != 0 || l == 0)) {
		ex->core->reply_error(req, 400, "example.bad_query", "limit",
		                      "limit must be an integer from 1 to %d.", ex->max_list);
		return;
	}
	char abuf[24], lbuf[24];
	snprintf(abuf, sizeof abuf, "%llu", a);
	snprintf(lbuf, sizeof lbuf, "%llu", l + 1); /* one extra: see listed() */
	char who[24];
	caller_id(ex, req, who);
	const char *params[] = {abuf, lbuf, who};
	run(ex, req, "list_notes", 3, params, listed, (int)l);
}

/* --- routes ----------------------------------------------------------- */

/* JSON Schema texts for the OpenAPI document. They describe exactly what
 * the handlers accept and send; the core copies them at route_add. */
#define NOTE_SCHEMA                                                                                \
	"{\"type\":\"object\",\"required\":[\"id\",\"body\",\"created_at\"],"                      \
	"\"additionalProperties\":false,\"properties\":{"                                          \
	"\"id\":{\"type\":\"integer\",\"minimum\":1},"                                             \
	"\"body\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":500},"                        \
	"\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"}}}"

static wm_status example_routes(void *state)
{
	struct example *ex = state;
	static const struct wm_route_doc create_doc = {
	    .summary = "Adds a note",
	    .request_schema = "{\"type\":\"object\",\"required\":[\"body\"],"
	                      "\"additionalProperties\":false,\"properties\":{"
	                      "\"body\":{\"type\":\"string\",\"minLength\":1,"
	                      "\"maxLength\":500}}}",
	    .response_schema = NOTE_SCHEMA,
	    .success_status = 201,
	};
	static const struct wm_route_doc get_doc = {
	    .summary = "Returns one note (404 example.not_found if there is none)",
	    .response_schema = NOTE_SCHEMA,
	    .success_status = 200,
	};
	static const struct wm_route_doc list_doc = {
	    .summary = "Lists the caller's notes by id: ?cursor=<next_cursor>&limit=<page size>",
	    .response_schema = "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],"
	                       "\"additionalProperties\":false,\"properties\":{"
	                       "\"items\":{\"type\":\"array\",\"items\":" NOTE_SCHEMA "},"
	                       "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
	    .success_status = 200,
	};
	/* Routes must lie under /api/v1/example/; the core refuses others.
	 * The state pointer reaches handlers as their second argument. The
	 * last argument says who may call: any staff role here (each sees only
	 * their own notes); WM_ACCESS_PUBLIC would skip authentication. */
	const unsigned who = WM_ROLES_ALL;
	if (ex->core->route_add_access(ex->host, WM_POST, "/api/v1/example/notes", create_note,
	                               &create_doc, who) != WM_OK ||
	    ex->core->route_add_access(ex->host, WM_GET, "/api/v1/example/notes", list_notes,
	                               &list_doc, who) != WM_OK ||
	    ex->core->route_add_access(ex->host, WM_GET, "/api/v1/example/notes/{id}", get_note,
	                               &get_doc, who) != WM_OK)
		return WM_ERR;
	return WM_OK;
}

/* --- shutdown --------------------------------------------------------- */

/* Runs after the pool has closed, so no callback can still arrive holding a
 * pointer into `state`; freeing it is safe. No database work here. */
static void example_shutdown(void *state)
{
	free(state);
}

/* --- descriptor ------------------------------------------------------- */

/* Not const, for one reason: example_migrations_n is defined in another
 * translation unit, so it is not a constant expression and cannot appear in
 * this initializer. wm_plugin_entry copies it in before returning. Every
 * other member is fixed here, and WM_PLUGIN_ABI must come first. Members
 * not named (the reserved slots) start as zero, as the loader requires. */
static struct wm_plugin descriptor = {
    .abi = WM_PLUGIN_ABI,
    .name = "example",
    .version = "1.0.0",
    .description = "A notes API: the template for writing plugins",
    .migrations = example_migrations,
    .config_keys = config_keys,
    .init = example_init,
    .register_routes = example_routes,
    .shutdown = example_shutdown,
};

/* The only exported symbol (WM_PLUGIN_EXPORT; everything else is hidden by
 * the build). The loader calls it before checking anything, so it must do
 * no more than hand back the descriptor: the one store below writes the
 * same value every time and touches nothing else. */
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void)
{
	descriptor.n_migrations = example_migrations_n;
	return &descriptor;
}
