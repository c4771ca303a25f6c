/*
 * login_throttle — the password-check gate, the replies and the body
 * handling that sign-in and password changes share (login_throttle.h).
 * Everything here runs on the loop thread.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "jsonv.h"
#include "login_throttle.h"
#include "req.h"
#include "server.h"

#define ACCOUNT_BYTES 16

struct gate_slot {
	int used;
	unsigned char account[ACCOUNT_BYTES];
	char peer[48];
};

static struct gate_slot slots[LOGIN_GATE_SLOTS];
static unsigned char gate_key[crypto_generichash_KEYBYTES];
static int gate_keyed;

/* A keyed hash of kind + lower-cased `account`: a fixed-size name that
 * does not keep the email in memory. */
static void account_id(char kind, const char *account, unsigned char out[ACCOUNT_BYTES])
{
	crypto_generichash_state st;
	unsigned char buf[64];
	size_t n = 0;
	if (!gate_keyed) {
		randombytes_buf(gate_key, sizeof gate_key);
		gate_keyed = 1;
	}
	crypto_generichash_init(&st, gate_key, sizeof gate_key, ACCOUNT_BYTES);
	buf[n++] = (unsigned char)kind;
	for (const char *p = account; *p; p++) {
		unsigned char c = (unsigned char)*p;
		buf[n++] = c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
		if (n == sizeof buf) {
			crypto_generichash_update(&st, buf, n);
			n = 0;
		}
	}
	crypto_generichash_update(&st, buf, n);
	crypto_generichash_final(&st, out, ACCOUNT_BYTES);
	sodium_memzero(buf, sizeof buf);
	sodium_memzero(&st, sizeof st);
}

int login_gate_enter(struct wm_req *req, char kind, const char *account)
{
	unsigned char id[ACCOUNT_BYTES];
	const char *peer = req_remote_addr(req);
	int free_slot = -1, same_peer = 0, same_account = 0;
	account_id(kind, account, id);
	for (int i = 0; i < LOGIN_GATE_SLOTS; i++) {
		if (!slots[i].used) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		same_account |= sodium_memcmp(slots[i].account, id, sizeof id) == 0;
		same_peer += !strcmp(slots[i].peer, peer);
	}
	if (same_account || same_peer >= LOGIN_GATE_PEER_MAX) {
		login_reply_slow_down(req, 1);
		return -1;
	}
	if (free_slot < 0) {
		login_reply_busy(req);
		return -1;
	}
	slots[free_slot].used = 1;
	memcpy(slots[free_slot].account, id, sizeof id);
	snprintf(slots[free_slot].peer, sizeof slots[free_slot].peer, "%s", peer);
	return free_slot;
}

void login_gate_leave(int *slot)
{
	if (*slot >= 0 && *slot < LOGIN_GATE_SLOTS)
		memset(&slots[*slot], 0, sizeof slots[*slot]);
	*slot = -1;
}

void login_reply_slow_down(struct wm_req *req, long long seconds)
{
	char s[24];
	snprintf(s, sizeof s, "%lld", seconds < 1 ? 1 : seconds);
	req_add_header(req, "Retry-After", s);
	/* One text for every refusal, so it says nothing about the password. */
	req_reply_error(req, 429, "core.slow_down", NULL,
	                "Too many attempts; wait as long as Retry-After says, then try again.");
}

int login_reply_if_locked(struct wm_req *req, const json_t *reply)
{
	json_t *retry = json_object_get(reply, "retry_after");
	if (!json_is_integer(retry))
		return 0;
	login_reply_slow_down(req, (long long)json_integer_value(retry));
	return 1;
}

void login_reply_busy(struct wm_req *req)
{
	req_add_header(req, "Retry-After", "1");
	req_reply_error(req, 503, "core.busy", NULL, "The server is busy; try again.");
}

wm_status login_secret_json(struct wm_req *req, json_t **out)
{
	struct jsonv_error err;
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
	size_t len = evbuffer_get_length(in);
	unsigned char *data = len ? evbuffer_pullup(in, -1) : NULL;
	const char *ct =
	    evhttp_find_header(evhttp_request_get_input_headers(req->ev), "Content-Type");
	json_t *body = NULL;
	wm_status st = jsonv_parse_body(ct, data ? data : (const unsigned char *)"", len,
	                                (size_t)req->srv->cfg.http_max_json_body, &body, &err);
	if (data)
		sodium_memzero(data, len);
	if (st != WM_OK) {
		req_reply_jsonv(req, &err);
		return WM_ERR;
	}
	json_decref(req->body);
	req->body = body;
	*out = body;
	return WM_OK;
}

void login_wipe_string(json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);
	if (json_is_string(v))
		sodium_memzero((char *)json_string_value(v), json_string_length(v));
}

int identity_email_ok(const char *s)
{
	size_t n = strlen(s);
	const char *at = strchr(s, '@');
	if (n < 3 || n > 254 || !at || at == s || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}
