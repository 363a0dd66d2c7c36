#!/usr/bin/env python3
"""Prints one line per region of `pageflexctl regions PID --json` (stdin):
tag first_touch refaults swapin_major swapcache_hits prefetched_pages
paged_out_pages policy prefetch threshold. Used by bench/live/*.sh."""
import json
import sys

j = json.load(sys.stdin)
for r in j["regions"]:
    print(r["tag"] or "-", r["first_touch"], r["refaults"], r["swapin_major"],
          r["swapcache_hits"], r["prefetched"] // 4096, r["paged_out"] // 4096,
          r["policy"], r["prefetch"], r["threshold"])
