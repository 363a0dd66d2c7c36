#!/usr/bin/env python3
"""rss_run.py CONTROL_SOCKET PFCTL -- CMD...: runs CMD (under the shim, as
set in the environment), samples its VmRSS every 20 ms and its regions'
refault counters (pageflexctl regions PID --json) every 200 ms, and prints
one line: avg_rss_mib max_rss_mib majflt refaults swapins runtime_s, then the
workload's own output. An empty CONTROL_SOCKET: no agent queries. majflt comes from wait4 (exact: swap-ins are major
faults); refaults/swapins are the agent's last snapshot (may miss the last
200 ms). Used by bench/live/phases.sh."""
import json
import os
import subprocess
import sys
import time

sock, pfctl = sys.argv[1], sys.argv[2]
cmd = sys.argv[sys.argv.index("--") + 1:]
t0 = time.monotonic()
trace = open(os.environ["RSS_SAMPLES"], "w") if os.environ.get("RSS_SAMPLES") else None
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
samples, last_q, ref, maj = [], 0.0, 0, 0
while True:
    pid, status, ru = os.wait4(p.pid, os.WNOHANG)
    if pid:
        break
    try:
        with open(f"/proc/{p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    samples.append(int(line.split()[1]) / 1024.0)
                    if trace:
                        trace.write(f"{time.monotonic() - t0:.2f} {samples[-1]:.1f}\n")
    except OSError:
        pass
    now = time.monotonic()
    if sock and now - last_q > 0.2:
        last_q = now
        q = subprocess.run([pfctl, "--socket", sock, "regions", str(p.pid), "--json"],
                           capture_output=True, text=True)
        if q.returncode == 0:
            try:
                rs = json.loads(q.stdout)["regions"]
                ref = sum(r["refaults"] for r in rs)
                maj = sum(r["swapin_major"] for r in rs)
            except (ValueError, KeyError):
                pass
    time.sleep(0.02)
rt = time.monotonic() - t0
out = p.stdout.read().decode(errors="replace")
avg = sum(samples) / len(samples) if samples else 0.0
print(f"{avg:.1f} {max(samples, default=0):.1f} {ru.ru_majflt} {ref} {maj} {rt:.2f}")
sys.stdout.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
