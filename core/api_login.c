/* api_login — placeholder until this resource's routes land (issue 3). */
#include "api.h"
#include "server.h"

wm_status api_login_register(struct server *srv)
{
	return WM_OK;
}
