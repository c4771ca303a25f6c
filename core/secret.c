/*
 * secret — generation, parsing and constant-time checking of bearer secrets.
 * libsodium supplies the randomness, SHA-256, BLAKE2b and the comparison;
 * nothing here is hand-rolled cryptography.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "secret.h"

static void hash_verifier(struct secret *s)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)s->verifier, SECRET_VERIFIER_LEN);
	sodium_bin2hex(s->hash_hex, sizeof s->hash_hex, h, sizeof h);
	sodium_memzero(h, sizeof h);
}

void secret_new(struct secret *s)
{
	unsigned char sel[12], ver[32];
	randombytes_buf(sel, sizeof sel);
	randombytes_buf(ver, sizeof ver);
	sodium_bin2base64(s->selector, sizeof s->selector, sel, sizeof sel,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2base64(s->verifier, sizeof s->verifier, ver, sizeof ver,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(ver, sizeof ver);
	hash_verifier(s);
}

static int b64url(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

wm_status secret_parse(const char *text, size_t len, const char *prefix, struct secret *s)
{
	size_t pl = prefix ? strlen(prefix) : 0;
	if (!text || len != pl + SECRET_LEN || (pl && memcmp(text, prefix, pl) != 0))
		return WM_ERR;
	text += pl;
	for (size_t i = 0; i < SECRET_LEN; i++)
		if (!b64url((unsigned char)text[i]))
			return WM_ERR;
	memcpy(s->selector, text, SECRET_SELECTOR_LEN);
	s->selector[SECRET_SELECTOR_LEN] = '\0';
	memcpy(s->verifier, text + SECRET_SELECTOR_LEN, SECRET_VERIFIER_LEN);
	s->verifier[SECRET_VERIFIER_LEN] = '\0';
	hash_verifier(s);
	return WM_OK;
}

void secret_format(const struct secret *s, const char *prefix, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", prefix ? prefix : "", s->selector, s->verifier);
}

int secret_verify(const struct secret *s, const char *stored_hex)
{
	unsigned char want[crypto_hash_sha256_BYTES], have[crypto_hash_sha256_BYTES];
	size_t n = 0;
	if (!stored_hex || strlen(stored_hex) != 64 ||
	    sodium_hex2bin(want, sizeof want, stored_hex, 64, NULL, &n, NULL) != 0 ||
	    n != sizeof want ||
	    sodium_hex2bin(have, sizeof have, s->hash_hex, 64, NULL, &n, NULL) != 0)
		return 0;
	return sodium_memcmp(want, have, sizeof want) == 0;
}

void secret_derive(const struct secret *s, const char *purpose, char out_hex[65])
{
	unsigned char out[32];
	if (crypto_generichash(out, sizeof out, (const unsigned char *)purpose, strlen(purpose),
	                       (const unsigned char *)s->verifier, SECRET_VERIFIER_LEN) != 0) {
		/* Never happens with these sizes; if it did, an all-zero value
		 * matches no header, so the check fails closed. */
		sodium_memzero(out_hex, 65);
		sodium_memzero(out, sizeof out);
		return;
	}
	sodium_bin2hex(out_hex, 65, out, sizeof out);
	sodium_memzero(out, sizeof out);
}
