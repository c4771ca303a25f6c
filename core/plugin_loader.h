/*
 * plugin_loader — opens plugin shared objects and checks their descriptors
 * before any of their code (other than the entry function) runs.
 *
 * Checks, each refusal naming the plugin and the mismatch:
 *   magic; major equal to the core's; minor not newer than the core's;
 *   struct size not smaller than this major's descriptor; sizes of pointer,
 *   long, time_t; jansson major; name present, [a-z][a-z0-9_]{0,30} and equal
 *   to the configured name; init and register_routes present; reserved
 *   slots NULL; migrations sorted 1..n; names unique across plugins.
 */
#ifndef WM_PLUGIN_LOADER_H
#define WM_PLUGIN_LOADER_H

#include <stddef.h>
#include <waymark/plugin.h>

struct server;

/* Defined here because the core's service functions take it; plugins only
 * ever see the opaque pointer. */
struct wm_host {
	const struct wm_plugin *desc;
	const char *name;   /* desc->name */
	void *dl;           /* dlopen handle, NULL for built-in */
	void *state;        /* what init stored */
	json_t *config;     /* filled section, owned */
	struct server *srv; /* back pointer for services */
	int initialised;
};

/* Checks a descriptor (also used on fixtures in tests). `expect_name` may be
 * NULL. Writes e.g. `plugin "sport": ABI 2.0, core 1.0` into err. */
wm_status plugin_check(const struct wm_plugin *desc, const char *label, const char *expect_name,
                       char *err, size_t errlen) WM_MUST_CHECK;

/* dlopen(RTLD_NOW|RTLD_LOCAL) `path`, find wm_plugin_entry, call it, check.
 * On success host->desc, host->name and host->dl are set. */
wm_status plugin_open(const char *path, const char *expect_name, struct wm_host *host, char *err,
                      size_t errlen) WM_MUST_CHECK;
void plugin_close(struct wm_host *host);

/* The path for plugin `name` in `dir`: "<dir>/waymark_<name>.so". */
char *plugin_path(const char *dir, const char *name);

/* Refuses two hosts with the same name. */
wm_status plugin_check_unique(struct wm_host *const *hosts, size_t n, char *err,
                              size_t errlen) WM_MUST_CHECK;

#endif
