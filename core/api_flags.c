/* api_flags — placeholder until this resource's routes land (issue 3). */
#include "api.h"
#include "server.h"

wm_status api_flags_register(struct server *srv)
{
	return WM_OK;
}
