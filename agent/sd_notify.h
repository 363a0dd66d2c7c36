/* SPDX-License-Identifier: MIT */
/*
 * pageflexd under systemd (Type=notify): READY=1 once the BPF programs are
 * loaded and the sockets listen, STATUS= with the managed processes and
 * the memory saved, RELOADING=1 around a SIGHUP reload, STOPPING=1, and
 * WATCHDOG=1 when the unit sets WatchdogSec=. The protocol is one datagram
 * to $NOTIFY_SOCKET (sd_notify(3)); spoken directly, so the agent needs no
 * libsystemd and does nothing at all where systemd did not start it.
 */
#ifndef PAGEFLEX_SD_NOTIFY_H_
#define PAGEFLEX_SD_NOTIFY_H_

#include <stddef.h>

/* Sends state (e.g. "READY=1") if $NOTIFY_SOCKET is set. 0, or -errno. */
int pf_sd_notify(const char *state);
/* READY=1 with the first STATUS=. */
void pf_sd_ready(void);
/* From the agent's timer: STATUS= every 10 s, WATCHDOG=1 when due. */
void pf_sd_tick(void);
/* The STATUS= text now ("managing 2 processes, 14 regions; 812.0 MiB in swap"). */
void pf_sd_status_text(char *buf, size_t len);

#endif
