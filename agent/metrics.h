/* SPDX-License-Identifier: MIT */
/*
 * pageflexd's Prometheus metrics: what they are (metrics.c) and the two
 * ways the agent serves them besides `pageflexctl metrics` (metrics_serve.c):
 * a file for node_exporter's textfile collector, rewritten atomically, and
 * an HTTP endpoint (GET /metrics), both opt-in.
 */
#ifndef PAGEFLEX_METRICS_H_
#define PAGEFLEX_METRICS_H_

#include <stdio.h>

/* Every metric, in the text exposition format. */
void pf_metrics_write(FILE *f);

/* --metrics-file: writes path now (so a bad path fails at start) and then
 * every PF_METRICS_FILE_MS. 0, or -1 with a message in err. */
#define PF_METRICS_FILE_MS 10000
int pf_metrics_file_open(const char *path, char *err, size_t errlen);
/* --metrics-listen ADDR:PORT (IPv6 as [ADDR]:PORT; port 0: any free one):
 * listens in the event loop. 0, or -1 with a message in err. */
int pf_metrics_listen(const char *addr, char *err, size_t errlen);
/* The address it listens on ("127.0.0.1:9477"), or "" if it does not. */
const char *pf_metrics_listen_address(void);
/* From the agent's timer: rewrites the file when due, drops stale clients. */
void pf_metrics_tick(void);
void pf_metrics_close(void);

#endif
