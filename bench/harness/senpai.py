# SPDX-License-Identifier: MIT
"""A Senpai-like controller, as a baseline: Meta's published algorithm
(TMO, ASPLOS'22; the senpai tool) that sizes a cgroup's memory limit from
memory pressure. Every `interval` seconds it reads the stall time of the
period (PSI "some"), and moves the limit:

  - below the pressure target: probe down, by a share of the limit that
    grows with how far below the target the period was (squared), at most
    max_probe of the limit;
  - above it: back off up, the same way with coeff_backoff, at most
    max_backoff of the limit;

never below min_mib nor above what the cgroup uses plus room to grow. It
starts once the workload has settled (its usage grew less than 2% over an
interval), from that usage, as Senpai does on a running service.
This machine's cgroups are v1, which has no per-cgroup pressure: the
machine's /proc/pressure/memory is read instead (the benchmark machine
runs nothing else; DAMON's reclaim stalls would show there too). Runs as a
thread beside the workload; stop() returns its counters."""

import threading
import time


def psi_some_total_us():
    """The machine's total memory stall ("some"), µs; None without PSI."""
    try:
        with open("/proc/pressure/memory") as f:
            for line in f:
                if line.startswith("some "):
                    for field in line.split():
                        if field.startswith("total="):
                            return int(field[6:])
    except OSError:
        return None
    return None


class Senpai(threading.Thread):
    # The published defaults, scaled to this benchmark's short runs.
    DEFAULTS = dict(interval=2.0, pressure_us=10000, max_probe=0.01, max_backoff=1.0,
                    coeff_probe=10.0, coeff_backoff=20.0, min_mib=16)

    def __init__(self, cgroup, **conf):
        super().__init__(daemon=True)
        self.cg = cgroup
        self.conf = dict(self.DEFAULTS, **conf)
        self._halt = threading.Event()
        self.probes = self.backoffs = 0
        self.limit = None
        self.min_limit_mib = None
        self.started_mib = None

    def usage(self):
        return int(self.cg.read("memory.usage_in_bytes") or 0)

    def set_limit(self, b):
        b = int(b) // 4096 * 4096
        try:
            self.cg._write("memory.limit_in_bytes", str(b))
        except OSError:  # v1 refuses a limit it cannot reclaim down to: keep the last
            return
        self.limit = b
        mib = b / (1 << 20)
        if self.min_limit_mib is None or mib < self.min_limit_mib:
            self.min_limit_mib = mib

    def step(self, stall_us):
        c = self.conf
        target = c["pressure_us"] * c["interval"] / 6.0  # senpai's target is per 6 s
        if stall_us < target:
            err = (target - stall_us) / target
            adj = min(err * err * c["coeff_probe"] * c["max_probe"], c["max_probe"])
            new = self.limit * (1 - adj)
            self.probes += 1
        else:
            err = (stall_us - target) / target
            adj = min(err * err * c["coeff_backoff"] * c["max_backoff"], c["max_backoff"])
            new = self.limit * (1 + adj)
            self.backoffs += 1
        floor = c["min_mib"] << 20
        # never far above what the group holds: room to grow, no more
        ceil = max(self.usage() * 1.25, floor)
        self.set_limit(min(max(new, floor), max(ceil, self.limit)))

    def run(self):
        prev = 0
        while not self._halt.wait(self.conf["interval"]):
            u = self.usage()
            if u > (self.conf["min_mib"] << 20) and u < prev * 1.02:
                break
            prev = u
        else:
            return
        last = psi_some_total_us()
        if last is None:
            return
        self.started_mib = self.usage() / (1 << 20)
        self.set_limit(max(self.usage(), self.conf["min_mib"] << 20))
        while not self._halt.wait(self.conf["interval"]):
            now = psi_some_total_us()
            if now is None:
                return
            self.step(now - last)
            last = now

    def stop(self):
        self._halt.set()
        self.join(timeout=10)
        return {"senpai_probes": self.probes, "senpai_backoffs": self.backoffs,
                "senpai_min_limit_mib": self.min_limit_mib,
                "senpai_start_mib": self.started_mib}
