/*
 * core_table — builds the struct wm_core every plugin receives. Most members
 * are the core's own functions; the rest are thin wrappers that add what a
 * plugin must not be trusted to do itself: prefix its log lines, keep its
 * routes under /api/v1/<name>/, and namespace its prepared statements.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "log.h"
#include "plugin_loader.h"
#include "req.h"
#include "router.h"
#include "server.h"

static void t_log(struct wm_host *host, enum wm_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, host->name, fmt, ap);
	va_end(ap);
}

static wm_status t_route_add_access(struct wm_host *host, unsigned methods, const char *pattern,
                                    wm_handler_fn handler, const struct wm_route_doc *doc,
                                    unsigned access)
{
	char prefix[64], err[256];
	snprintf(prefix, sizeof prefix, "/api/v1/%s/", host->name);
	if (!pattern || strncmp(pattern, prefix, strlen(prefix)) != 0) {
		log_msg(WM_LOG_ERROR, host->name, "route %s is not under %s",
		        pattern ? pattern : "(null)", prefix);
		return WM_ERR;
	}
	if (methods & WM_OPTIONS) {
		log_msg(WM_LOG_ERROR, host->name, "route %s: OPTIONS is answered by the core",
		        pattern);
		return WM_ERR;
	}
	if (router_add_access(host->srv->router, methods, pattern, handler, host->state, host, doc,
	                      access, err, sizeof err) != WM_OK) {
		log_msg(WM_LOG_ERROR, host->name, "cannot add route: %s", err);
		return WM_ERR;
	}
	return WM_OK;
}

/* ABI 1.0 routes: any staff role, never public. */
static wm_status t_route_add(struct wm_host *host, unsigned methods, const char *pattern,
                             wm_handler_fn handler, const struct wm_route_doc *doc)
{
	return t_route_add_access(host, methods, pattern, handler, doc, WM_ROLES_ALL);
}

/* "<plugin>.<name>": two plugins may both call a statement "get". */
static int stmt_name(const struct wm_host *host, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s.%s", host->name, name ? name : "");
	return name && *name && n > 0 && (size_t)n < len;
}

static wm_status t_db_prepare(struct wm_host *host, const char *name, const char *sql, int nparams)
{
	char full[128];
	if (host->initialised || !stmt_name(host, name, full, sizeof full) ||
	    db_pool_prepare(host->srv->pool, full, sql, nparams) != WM_OK) {
		log_msg(WM_LOG_ERROR, host->name,
		        "cannot declare statement \"%s\" (only in init, names unique)",
		        name ? name : "");
		return WM_ERR;
	}
	return WM_OK;
}

static wm_status t_db_exec_prepared(struct wm_host *host, const char *name, int nparams,
                                    const char *const *params, wm_db_fn cb, void *arg)
{
	char full[128];
	if (!stmt_name(host, name, full, sizeof full))
		return WM_ERR;
	return db_exec_prepared(host->srv->pool, full, nparams, params, cb, arg);
}

static wm_status t_db_exec(struct wm_host *host, const char *sql, int nparams,
                           const char *const *params, wm_db_fn cb, void *arg)
{
	return db_exec(host->srv->pool, sql, nparams, params, cb, arg);
}

static wm_status t_db_tx_begin(struct wm_host *host, wm_db_tx_fn cb, void *arg)
{
	return db_tx_begin(host->srv->pool, cb, arg);
}

static const char *t_req_id(struct wm_req *req)
{
	return req->id;
}

void core_table_init(struct wm_core *core)
{
	memset(core, 0, sizeof *core);
	core->size = sizeof *core;
	core->abi_major = WM_ABI_MAJOR;
	core->abi_minor = WM_ABI_MINOR;
	core->log = t_log;
	core->route_add = t_route_add;
	core->req_param = req_param;
	core->req_query = req_query;
	core->req_method = req_method;
	core->req_json = req_json;
	core->json_only = req_json_only;
	core->json_string = req_json_string;
	core->json_int = req_json_int;
	core->json_bool = req_json_bool;
	core->reply_json = req_reply_json;
	core->reply_error = req_reply_error;
	/* api_reply_db_error: plugins' SQL refusals get the same mapping as
	 * the core's own (ABI 1.3). */
	core->reply_db_error = api_reply_db_error;
	core->db_prepare = t_db_prepare;
	core->db_exec_prepared = t_db_exec_prepared;
	core->db_exec = t_db_exec;
	core->db_tx_begin = t_db_tx_begin;
	core->db_tx_exec = db_tx_exec;
	core->db_tx_end = db_tx_end;
	core->db_error = db_result_error;
	core->db_sqlstate = db_result_sqlstate;
	core->db_ntuples = db_result_ntuples;
	core->db_value = db_result_value;
	core->route_add_access = t_route_add_access;
	core->req_caller = req_caller;
	core->req_query_only = api_query_only;
	core->req_remote_addr = req_remote_addr;
	core->req_id = t_req_id;
}
