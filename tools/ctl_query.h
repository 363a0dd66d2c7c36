/* SPDX-License-Identifier: MIT */
/*
 * pageflexctl's one request function to the agent's control socket (defined
 * in pageflexctl.c), shared with the subcommands kept in files of their own
 * (ctl_top.c), so that there is one way to talk to the agent.
 */
#ifndef PAGEFLEX_CTL_QUERY_H
#define PAGEFLEX_CTL_QUERY_H

#include <stdbool.h>

/* query(): one command on the control socket. */
enum { Q_OK, Q_NO_AGENT, Q_DENIED, Q_SEND_FAILED, Q_FAILED };

/*
 * Connects to path, sends cmd (with its newline) and reads the whole reply
 * into *reply (malloc'd, NUL-terminated). timeout_ms > 0 bounds each send
 * and read; 0 means none. Q_NO_AGENT, Q_DENIED and Q_SEND_FAILED leave
 * errno set; Q_FAILED means a connection without a reply.
 */
int query(const char *path, const char *cmd, long timeout_ms, char **reply);
/* Whether path fits a unix socket address; if not, one line on stderr. */
bool socket_path_ok(const char *path);
/* One line on stderr saying why query() returned rc (not Q_OK). */
void no_agent(const char *path, int rc);

#endif
