/*
 * plugin_loader — opens a plugin's shared object and decides whether this
 * core may use it, before any plugin code other than wm_plugin_entry runs.
 *
 * Every refusal is one line for the operator, beginning `plugin "<label>": `
 * and naming the exact mismatch, because the only fix is a rebuild and the
 * operator has to know which plugin and against what. The checks run in a
 * fixed order: the ABI block first (it is the only part of the descriptor
 * whose layout every version agrees on), the struct size next (only then is
 * it safe to read members past the ABI block), then the members themselves.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_loader.h"

#define NAME_MAX_LEN 31

/* Writes `plugin "<label>": <message>` into err. */
static void refuse(char *err, size_t errlen, const char *label, const char *fmt, ...)
    WM_PRINTF(4, 5);

static void refuse(char *err, size_t errlen, const char *label, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	int n = snprintf(err, errlen, "plugin \"%s\": ", label ? label : "?");
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* [a-z][a-z0-9_]{0,30}: the name becomes a schema, a URL segment, a config
 * key and a statement prefix, so it has to be safe in all four unquoted. */
static int name_valid(const char *name)
{
	if (name[0] < 'a' || name[0] > 'z')
		return 0;
	size_t i = 1;
	for (; name[i]; i++) {
		char c = name[i];
		if (i >= NAME_MAX_LEN ||
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* The first bytes of a name the plugin gave us, made printable: it may be
 * anything, and it is about to go into a log line. */
static void printable(const char *in, char *out, size_t outlen)
{
	size_t i = 0;
	for (; in[i] && i + 4 < outlen && i < 40; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f && in[i] != '"') ? in[i] : '?';
	if (in[i] && i + 4 < outlen) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

static wm_status check_abi(const struct wm_abi *abi, const char *label, char *err, size_t errlen)
{
	if (abi->magic != WM_ABI_MAGIC) {
		refuse(err, errlen, label, "not a Waymark plugin (bad magic 0x%08" PRIx32 ")",
		       abi->magic);
		return WM_ERR;
	}
	if (abi->major != WM_ABI_MAJOR) {
		refuse(err, errlen, label, "ABI %u.%u, core %u.%u", abi->major, abi->minor,
		       WM_ABI_MAJOR, WM_ABI_MINOR);
		return WM_ERR;
	}
	if (abi->minor > WM_ABI_MINOR) {
		refuse(err, errlen, label, "ABI %u.%u, core %u.%u (plugin needs a newer core)",
		       abi->major, abi->minor, WM_ABI_MAJOR, WM_ABI_MINOR);
		return WM_ERR;
	}
	if (abi->struct_size < sizeof(struct wm_plugin)) {
		refuse(err, errlen, label,
		       "descriptor is %" PRIu32 " bytes, core %u.%u expects at least %zu",
		       abi->struct_size, WM_ABI_MAJOR, WM_ABI_MINOR, sizeof(struct wm_plugin));
		return WM_ERR;
	}
	const struct {
		const char *what;
		unsigned plugin, core;
	} sizes[] = {
	    {"sizeof(void *)", abi->sizeof_ptr, sizeof(void *)},
	    {"sizeof(long)", abi->sizeof_long, sizeof(long)},
	    {"sizeof(time_t)", abi->sizeof_time_t, sizeof(time_t)},
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		if (sizes[i].plugin != sizes[i].core) {
			refuse(err, errlen, label, "built with %s = %u, core has %u", sizes[i].what,
			       sizes[i].plugin, sizes[i].core);
			return WM_ERR;
		}
	}
	/* json_t layouts and ownership rules may change with jansson's major;
	 * within one major its ABI is stable, so only the major must match. */
	if ((abi->jansson_version >> 16) != ((uint32_t)JANSSON_VERSION_HEX >> 16)) {
		uint32_t p = abi->jansson_version, c = JANSSON_VERSION_HEX;
		refuse(err, errlen, label,
		       "built with jansson %" PRIu32 ".%" PRIu32 ".%" PRIu32
		       ", core uses jansson %" PRIu32 ".%" PRIu32 ".%" PRIu32
		       " (major versions differ)",
		       p >> 16, (p >> 8) & 0xff, p & 0xff, c >> 16, (c >> 8) & 0xff, c & 0xff);
		return WM_ERR;
	}
	return WM_OK;
}

static wm_status check_migrations(const struct wm_plugin *d, const char *label, char *err,
                                  size_t errlen)
{
	if (d->n_migrations == 0)
		return WM_OK;
	if (!d->migrations) {
		refuse(err, errlen, label, "n_migrations is %zu but migrations is NULL",
		       d->n_migrations);
		return WM_ERR;
	}
	for (size_t i = 0; i < d->n_migrations; i++) {
		const struct wm_migration *m = &d->migrations[i];
		if (m->version < 0 || (size_t)m->version != i + 1) {
			refuse(err, errlen, label,
			       "migration %zu has version %d (versions must be 1..%zu in order)",
			       i + 1, m->version, d->n_migrations);
			return WM_ERR;
		}
		if (!m->name || !m->sql) {
			refuse(err, errlen, label, "migration %d has no %s", m->version,
			       m->name ? "SQL" : "name");
			return WM_ERR;
		}
	}
	return WM_OK;
}

wm_status plugin_check(const struct wm_plugin *desc, const char *label, const char *expect_name,
                       char *err, size_t errlen)
{
	if (!desc) {
		refuse(err, errlen, label, "wm_plugin_entry returned NULL");
		return WM_ERR;
	}
	if (check_abi(&desc->abi, label, err, errlen) != WM_OK)
		return WM_ERR;
	char shown[48];
	if (!desc->name) {
		refuse(err, errlen, label, "descriptor has no name");
		return WM_ERR;
	}
	if (!name_valid(desc->name)) {
		printable(desc->name, shown, sizeof shown);
		refuse(err, errlen, label, "name \"%s\" does not match [a-z][a-z0-9_]{0,30}",
		       shown);
		return WM_ERR;
	}
	if (expect_name && strcmp(desc->name, expect_name) != 0) {
		refuse(err, errlen, label, "descriptor says \"%s\", configured as \"%s\"",
		       desc->name, expect_name);
		return WM_ERR;
	}
	if (!desc->init || !desc->register_routes) {
		refuse(err, errlen, label, "required callback %s is NULL",
		       !desc->init ? "init" : "register_routes");
		return WM_ERR;
	}
	for (size_t i = 0; i < WM_PLUGIN_RESERVED; i++) {
		if (desc->reserved[i]) {
			refuse(err, errlen, label,
			       "reserved slot %zu is not NULL (built against a newer header?)", i);
			return WM_ERR;
		}
	}
	return check_migrations(desc, label, err, errlen);
}

wm_status plugin_open(const char *path, const char *expect_name, struct wm_host *host, char *err,
                      size_t errlen)
{
	const char *label = expect_name ? expect_name : path;
	void *dl = NULL;
	dlerror();
	/* RTLD_NOW: an unresolved symbol is a refusal at start-up, not a crash
	 * on the first request. RTLD_LOCAL: two plugins' hidden helpers, or
	 * their copies of a library, never bind to each other. */
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *why = dlerror();
		/* dlerror() already names the file and the reason. */
		refuse(err, errlen, label, "cannot load: %s", why ? why : path);
		goto fail;
	}
	dlerror();
	void *sym = dlsym(dl, WM_PLUGIN_ENTRY_SYMBOL);
	if (!sym) {
		refuse(err, errlen, label, "no " WM_PLUGIN_ENTRY_SYMBOL " symbol in %s", path);
		goto fail;
	}
	/* ISO C has no object-to-function pointer conversion; POSIX guarantees
	 * this one works, and the copy keeps the compiler quiet about it. */
	wm_plugin_entry_fn entry;
	memcpy(&entry, &sym, sizeof entry);
	const struct wm_plugin *desc = entry();
	if (plugin_check(desc, label, expect_name, err, errlen) != WM_OK)
		goto fail;
	host->desc = desc;
	host->name = desc->name;
	host->dl = dl;
	return WM_OK;
fail:
	if (dl)
		dlclose(dl);
	memset(host, 0, sizeof *host);
	return WM_ERR;
}

void plugin_close(struct wm_host *host)
{
	if (!host)
		return;
	if (host->dl)
		dlclose(host->dl);
	/* desc and name pointed into the object that is now gone. */
	host->dl = NULL;
	host->desc = NULL;
	host->name = NULL;
}

char *plugin_path(const char *dir, const char *name)
{
	char *path = NULL;
	if (asprintf(&path, "%s/waymark_%s.so", dir, name) < 0)
		return NULL;
	return path;
}

wm_status plugin_check_unique(struct wm_host *const *hosts, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			if (hosts[i]->name && hosts[j]->name &&
			    strcmp(hosts[i]->name, hosts[j]->name) == 0) {
				snprintf(err, errlen, "two plugins are named \"%s\"",
				         hosts[i]->name);
				return WM_ERR;
			}
		}
	}
	return WM_OK;
}
