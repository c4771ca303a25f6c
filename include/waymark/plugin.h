/*
 * waymark/plugin.h — how a programme type plugs into waymarkd.
 *
 * A plugin is a shared object with exactly one exported symbol:
 *
 *     WM_PLUGIN_EXPORT const struct wm_plugin *wm_plugin_entry(void);
 *
 * It returns a pointer to a static descriptor. The loader opens the object
 * with dlopen(RTLD_NOW | RTLD_LOCAL), calls wm_plugin_entry() — which must do
 * nothing but return the pointer — and checks the ABI block before it calls
 * anything else. Then, for each plugin in the configured order:
 *
 *   1. its migrations are applied (schema named after the plugin);
 *   2. init(core, host, config, &state);
 *   3. register_routes(state);
 * then the router is frozen and the server starts serving. On shutdown,
 * after the last request is answered (or the drain time ran out) and the
 * database pool has closed — so every database callback a plugin was owed
 * has run — shutdown(state) runs in reverse load order.
 *
 * Write a descriptor with the macro so new members start as zero:
 *
 *     static const struct wm_plugin desc = {
 *             .abi = WM_PLUGIN_ABI,
 *             .name = "example",
 *             ...
 *     };
 *
 * plugins/example/ is a complete, commented plugin to copy from.
 */
#ifndef WAYMARK_PLUGIN_H
#define WAYMARK_PLUGIN_H

#include <jansson.h>
#include <time.h>
#include <waymark/core.h>
#include <waymark/types.h>

/* Major changes break plugins (members moved, meanings changed); the loader
 * refuses any other major. Minor changes only append: the loader refuses a
 * plugin whose minor is newer than the core's, because it may call members
 * this core lacks. */
#define WM_ABI_MAJOR 1
#define WM_ABI_MINOR 3
#define WM_ABI_MAGIC 0x574d4b50u /* "WMKP": catches a stray symbol */

/* The first member of every descriptor, checked before any plugin code runs
 * (other than wm_plugin_entry itself). Filled by WM_PLUGIN_ABI. */
struct wm_abi {
	uint32_t magic;
	uint32_t struct_size; /* sizeof(struct wm_plugin) the plugin was built with */
	uint16_t major, minor;
	uint8_t sizeof_ptr, sizeof_long, sizeof_time_t, reserved0;
	uint32_t jansson_version; /* JANSSON_VERSION_HEX at build time */
};

#define WM_PLUGIN_ABI                                                                              \
	{                                                                                          \
		.magic = WM_ABI_MAGIC, .struct_size = sizeof(struct wm_plugin),                    \
		.major = WM_ABI_MAJOR, .minor = WM_ABI_MINOR, .sizeof_ptr = sizeof(void *),        \
		.sizeof_long = sizeof(long), .sizeof_time_t = sizeof(time_t), .reserved0 = 0,      \
		.jansson_version = JANSSON_VERSION_HEX,                                            \
	}

/* One numbered SQL migration, embedded in the .so at build time (see
 * cmake/embed_migrations.cmake). Applied once, in version order, in its own
 * transaction, with search_path set to the plugin's schema. A released
 * migration is never edited: the core refuses to start if its checksum
 * changes. */
struct wm_migration {
	int version;      /* 1, 2, 3 ... from the NNNN_ prefix of the file name */
	const char *name; /* the file name without its prefix and .sql */
	const char *sql;
};

/* Configuration keys: one table, type-checked by the core before init.
 * A plugin's section is "plugins.<name>" in the config file; a key not in
 * the table, or of the wrong type, stops start-up naming the key. */
enum wm_config_type { WM_CFG_STRING, WM_CFG_INT, WM_CFG_BOOL, WM_CFG_STRING_LIST };

struct wm_config_key {
	const char *name; /* "greeting" — no dots for plugin keys */
	enum wm_config_type type;
	const char *def;    /* default, as JSON text ("5", "true", "\"hi\"", "[]") */
	long long min, max; /* bounds for WM_CFG_INT (and string length) */
	const char *help;
};

#define WM_PLUGIN_RESERVED 3

/* A refusal from a hook, which the core sends as the one error shape
 * {"error":{"code","message","field"}}. The plugin fills it and returns
 * WM_ERR. */
struct wm_hook_error {
	int status;        /* 400 or 422; anything else is sent as 422 */
	char code[64];     /* namespaced by the plugin: "group_course.not_eligible" */
	char field[64];    /* the request field concerned, or "" */
	char message[256]; /* one sentence for the user; never another person's name */
};

/* What a calendar_render hook writes: NUL-terminated UTF-8, truncated by the
 * plugin to fit. The core sanitises both (controls, invalid UTF-8) and
 * escapes them for iCalendar; an empty summary means "use the default". */
struct wm_calendar_text {
	char summary[200];
	char description[1000];
};

struct wm_plugin {
	struct wm_abi abi; /* must be first; WM_PLUGIN_ABI */

	/* Unique, [a-z][a-z0-9_]{0,30}. It names the plugin's schema, its route
	 * prefix /api/v1/<name>/, its config section and its log lines. */
	const char *name;
	const char *version;     /* the plugin's own version, free text */
	const char *description; /* one line for `waymarkd plugins` and logs */

	/* Embedded migrations, sorted by version; may be NULL/0. Read by the
	 * core before init. Owned by the plugin (static data). */
	const struct wm_migration *migrations;
	size_t n_migrations;

	/* The plugin's configuration table, terminated by a {NULL} entry, or
	 * NULL for none. Static data owned by the plugin. */
	const struct wm_config_key *config_keys;

	/* Required. Called once after the plugin's migrations, on the loop
	 * thread before it runs. `core` and `host` stay valid until shutdown
	 * returns; keep them. `config` is the plugin's section with every key
	 * of config_keys present (defaults filled in), borrowed for the call:
	 * copy what you keep. Store the plugin's state in *state. Return WM_ERR
	 * (after logging why) to stop the server from starting. */
	wm_status (*init)(const struct wm_core *core, struct wm_host *host, const json_t *config,
	                  void **state) WM_MUST_CHECK;

	/* Required. Called once after init; add routes with core->route_add. */
	wm_status (*register_routes)(void *state) WM_MUST_CHECK;

	/* Optional. Called once at shutdown, after the last request and after
	 * the pool closed (no callback will come later). Must not start
	 * database work. Frees `state`. */
	void (*shutdown)(void *state);

	/* --- ABI 1.2: hooks into the shared scheduling flows ------------------
	 *
	 * Each is optional (NULL: the plugin has no opinion, the core's default
	 * applies). Each is called on the loop thread, synchronously, for a
	 * programme whose type is this plugin; it must not block and gets no
	 * database: the core assembles the facts as JSON (borrowed for the call)
	 * and stores what the hook returns (a json_t * the core then owns).
	 * The JSON shapes are documented in include/waymark/hooks.md. */

	/* A programme of this type is created or its settings change: refuse
	 * settings the plugin cannot run with. */
	wm_status (*programme_validate)(void *state, const json_t *settings,
	                                struct wm_hook_error *err);
	/* Someone is about to be booked onto a session or enrolled in a cohort
	 * of this type: veto (eligibility, prerequisites, programme rules). */
	wm_status (*booking_check)(void *state, const json_t *request, struct wm_hook_error *err);
	/* Attendance changed for an enrolment: return an array of alerts to
	 * raise (e.g. two unacceptable absences in a row), or NULL for none. */
	json_t *(*attendance_rules)(void *state, const json_t *facts);
	/* Attendance or enrolment changed: decide the enrolment's completion
	 * {"result", "rule_version", "reason"}; NULL keeps "in_progress". */
	json_t *(*completion_evaluate)(void *state, const json_t *facts);

	/* --- ABI 1.3: calendar feeds ---------------------------------------
	 *
	 * Optional. How one event of this programme type is titled in a
	 * calendar feed. `event` (borrowed, see hooks.md) carries only what the
	 * feed's audience may see: the core redacts before the call, so a
	 * plugin cannot show a family what the family may not know. Called on
	 * the loop thread, once per event per feed, so it must be quick. Fill
	 * `out` (zeroed by the core) and return WM_OK, or WM_ERR to fall back
	 * to the core's default text. Never called for busy-only feeds. */
	wm_status (*calendar_render)(void *state, const json_t *event,
	                             struct wm_calendar_text *out);

	/* Must be NULL. Later minors give these slots meanings; a plugin built
	 * with an old header leaves them NULL and keeps working. */
	void *reserved[WM_PLUGIN_RESERVED];
};

#define WM_PLUGIN_EXPORT       __attribute__((visibility("default")))
#define WM_PLUGIN_ENTRY_SYMBOL "wm_plugin_entry"

typedef const struct wm_plugin *(*wm_plugin_entry_fn)(void);

#endif
