/*
 * sdnotify — tells systemd (Type=notify) when the server is ready and when it
 * is stopping, by one datagram to $NOTIFY_SOCKET; without linking libsystemd.
 * Does nothing when the variable is unset.
 */
#ifndef WM_SDNOTIFY_H
#define WM_SDNOTIFY_H

void sdnotify(const char *state);

#endif
