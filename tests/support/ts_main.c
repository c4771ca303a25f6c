/*
 * ts_main — runs one Check suite and turns its result into the process exit
 * status CTest reads; every test executable's main() is this one call.
 */
#include <check.h>
#include <stdlib.h>

#include "ts.h"

int ts_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
