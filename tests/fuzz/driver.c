/*
 * Standalone fuzz driver: replays every regular file of a corpus directory
 * through LLVMFuzzerTestOneInput, so the committed corpus runs as an ordinary
 * CTest under any compiler (and under the sanitizers with WAYMARK_SANITIZE).
 * Only the standalone build links this file; a libFuzzer build brings its own
 * main(), which is why nothing here may be needed by a target.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "fuzz: cannot open %s\n", path);
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		len += fread(buf + len, 1, cap - len, f);
		if (len < cap)
			break;
		uint8_t *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int bad = ferror(f) || !buf;
	fclose(f);
	if (bad) {
		fprintf(stderr, "fuzz: cannot read %s\n", path);
		free(buf);
		return -1;
	}
	/* An exact-size copy, so an overread past the input is caught by ASan. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (!d) {
		fprintf(stderr, "fuzz: cannot open corpus directory %s\n", argv[1]);
		return 1;
	}
	size_t n = 0;
	int failed = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (run_file(path) != 0)
			failed = 1;
		n++;
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "fuzz: no inputs in %s\n", argv[1]);
		return 1;
	}
	printf("fuzz: %zu inputs, 0 crashes\n", n);
	return failed;
}
