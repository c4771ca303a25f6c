/* api_subject — placeholder until this resource's routes land (issue 3). */
#include "api.h"
#include "server.h"

wm_status api_subject_register(struct server *srv)
{
	return WM_OK;
}
