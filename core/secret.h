/*
 * secret — the one shape of every bearer secret the server hands out: API
 * tokens, browser sessions and (later) calendar feed links.
 *
 * A secret is a public selector (12 random bytes, 16 base64url characters)
 * that finds the database row, followed by a verifier (32 random bytes from
 * libsodium's CSPRNG, 43 base64url characters: 256 bits). Only the SHA-256
 * of the verifier is stored, and it is compared in constant time in C, so
 * neither a database dump nor the timing of a lookup reveals a usable
 * secret. API tokens carry a "wm_" prefix so secret scanners can find them.
 */
#ifndef WM_SECRET_H
#define WM_SECRET_H

#include <stddef.h>
#include <waymark/types.h>

#define SECRET_SELECTOR_LEN 16
#define SECRET_VERIFIER_LEN 43
#define SECRET_LEN          (SECRET_SELECTOR_LEN + SECRET_VERIFIER_LEN)
#define SECRET_TOKEN_PREFIX "wm_"

struct secret {
	char selector[SECRET_SELECTOR_LEN + 1];
	char verifier[SECRET_VERIFIER_LEN + 1];
	char hash_hex[65]; /* SHA-256 of the verifier, lower-case hex: what is stored */
};

/* A fresh random secret. */
void secret_new(struct secret *s);

/* Parses selector+verifier text (exactly SECRET_LEN characters of the
 * base64url alphabet, after an optional `prefix`) and computes the hash.
 * WM_ERR for anything else; never logs the text. */
wm_status secret_parse(const char *text, size_t len, const char *prefix,
                       struct secret *s) WM_MUST_CHECK;

/* The full text to give the user: prefix + selector + verifier. */
void secret_format(const struct secret *s, const char *prefix, char *buf, size_t len);

/* 1 when the verifier's hash equals `stored_hex` (64 hex characters),
 * compared in constant time; 0 otherwise, including for malformed input. */
int secret_verify(const struct secret *s, const char *stored_hex);

/* A value derived from the verifier for `purpose` (keyed BLAKE2b), as 64 hex
 * characters: the CSRF token of a browser session, for instance. The server
 * can recompute it from the cookie, so it is never stored. */
void secret_derive(const struct secret *s, const char *purpose, char out_hex[65]);

#endif
