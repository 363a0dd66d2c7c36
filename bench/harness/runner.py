# SPDX-License-Identifier: MIT
"""Runs one measured process and samples its memory: the mechanics under the
benchmark harness. A run may be placed in a cgroup v1 memory cgroup of its own
(uniquely named, removed afterwards), is sampled every 100 ms from
/proc/PID/status and /proc/PID/stat (RSS, swap, major faults) and reaped with
wait4 for its exact rusage."""

import ctypes
import os
import resource
import signal
import subprocess
import threading
import time

CG_ROOT = "/sys/fs/cgroup/memory"
PAGE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class CGroup:
    """A cgroup v1 memory cgroup of our own: pf-bench-<pid>-<n>."""

    _n = 0

    def __init__(self, limit_bytes=None):
        CGroup._n += 1
        self.path = f"{CG_ROOT}/pf-bench-{os.getpid()}-{CGroup._n}"
        os.mkdir(self.path)
        if limit_bytes:
            self._write("memory.limit_in_bytes", str(limit_bytes))

    def _write(self, name, val):
        with open(f"{self.path}/{name}", "w") as f:
            f.write(val)

    def read(self, name):
        try:
            with open(f"{self.path}/{name}") as f:
                return f.read()
        except OSError:
            return ""

    def stat(self):
        out = {}
        for line in self.read("memory.stat").splitlines():
            k, _, v = line.partition(" ")
            if v.isdigit():
                out[k] = int(v)
        return out

    def oom_kills(self):
        """Processes of this cgroup the kernel's OOM killer has killed."""
        for line in self.read("memory.oom_control").splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill" and v.isdigit():
                return int(v)
        return 0

    def attach_self(self):
        """For preexec_fn: moves the calling (child) process in."""
        self._write("cgroup.procs", str(os.getpid()))

    def pids(self):
        return [int(p) for p in self.read("cgroup.procs").split()]

    def remove(self):
        for _ in range(50):
            left = self.pids()
            if not left:
                break
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        try:
            os.rmdir(self.path)
        except OSError as e:
            print(f"pfbench: could not remove {self.path}: {e}")


def cgroup_v1_available():
    return os.path.isfile(f"{CG_ROOT}/memory.limit_in_bytes")


def proc_status(pid):
    """VmRSS, VmSwap in bytes, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            txt = f.read()
    except OSError:
        return None
    out = {}
    for line in txt.splitlines():
        if line.startswith(("VmRSS:", "VmSwap:")):
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0]) * 1024
    return out


def proc_stat(pid):
    """(majflt, utime+stime seconds) or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            txt = f.read()
    except OSError:
        return None
    fields = txt[txt.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): majflt is field 12, utime 14, stime 15
    return int(fields[9]), (int(fields[11]) + int(fields[12])) / CLK_TCK


class Sampler(threading.Thread):
    """Samples one pid's RSS/swap/major faults every `period` seconds."""

    def __init__(self, pid, period=0.1):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.rss, self.swap, self.t, self.majs = [], [], [], []
        self.majflt = 0
        self.cpu_s = 0.0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.period)

    def sample(self):
        st = proc_status(self.pid)
        ps = proc_stat(self.pid)
        if st is None or ps is None:
            return
        self.rss.append(st.get("VmRSS", 0))
        self.swap.append(st.get("VmSwap", 0))
        self.t.append(time.monotonic())
        self.majflt, self.cpu_s = ps
        self.majs.append(self.majflt)

    def timeline(self, t0, step=1.0):
        """One sample per `step` seconds: [seconds since t0, RSS MiB, swap
        MiB, major faults so far], for the time-series plots."""
        out, next_t, mib = [], None, 1 << 20
        for t, rss, swap, maj in zip(self.t, self.rss, self.swap, self.majs):
            if next_t is None or t >= next_t:
                out.append([round(t - t0, 2), round(rss / mib, 1), round(swap / mib, 1), maj])
                next_t = t + step
        return out

    def stop(self):
        self.sample()
        self._halt.set()
        self.join()

    def summary(self, since=None, until=None):
        """Averages and peaks; since (time.monotonic()): of the samples from
        then on only (a steady state after its warm-up), and with until
        also the major faults (refaults) between the two."""
        mib = 1 << 20
        if since is not None:
            keep = [i for i, t in enumerate(self.t) if t >= since]
            rss = [self.rss[i] for i in keep]
            swap = [self.swap[i] for i in keep]
            out = {
                "rss_avg_mib": sum(rss) / len(rss) / mib if rss else 0.0,
                "rss_peak_mib": max(rss) / mib if rss else 0.0,
                "swap_peak_mib": max(swap) / mib if swap else 0.0,
                "swap_avg_mib": sum(swap) / len(swap) / mib if swap else 0.0,
                "majflt": self.majflt,
            }
            win = [i for i in keep if until is None or self.t[i] <= until]
            if until is not None and len(win) >= 2:
                out["swapins_window"] = self.majs[win[-1]] - self.majs[win[0]]
                out["window_s"] = round(self.t[win[-1]] - self.t[win[0]], 1)
            return out
        return {
            "rss_avg_mib": sum(self.rss) / len(self.rss) / mib if self.rss else 0.0,
            "rss_peak_mib": max(self.rss) / mib if self.rss else 0.0,
            "swap_peak_mib": max(self.swap) / mib if self.swap else 0.0,
            "majflt": self.majflt,
        }


def thp_off():
    """For preexec_fn: no transparent huge pages for the calling (child)
    process, whatever it asks with MADV_HUGEPAGE (PR_SET_THP_DISABLE, kept
    across execve)."""
    if ctypes.CDLL(None, use_errno=True).prctl(41, 1, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_THP_DISABLE)")


def spawn(argv, env=None, cgroup=None, stdout=subprocess.PIPE, stdin=None, thp=True):
    def pre():
        if cgroup:
            cgroup.attach_self()
        if not thp:
            thp_off()
    return subprocess.Popen(argv, env=env, preexec_fn=pre, stdout=stdout,
                            stderr=subprocess.PIPE, stdin=stdin, text=True)


def run_measured(argv, env=None, cgroup=None, timeout=1800, stdin_data=None):
    """Runs argv to completion under sampling. Returns a dict with rc, stdout,
    stderr, wall_s, and the sampled + rusage metrics."""
    ru0 = rusage_children()
    rd0 = swap_reads()
    t0 = time.monotonic()
    p = spawn(argv, env=env, cgroup=cgroup,
              stdin=subprocess.PIPE if stdin_data is not None else None)
    s = Sampler(p.pid)
    s.start()
    try:
        out, err = p.communicate(input=stdin_data, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += f"\npfbench: killed after {timeout} s"
    wall = time.monotonic() - t0
    s.stop()
    res = {"rc": p.returncode, "stdout": out, "stderr": err, "wall_s": wall}
    res.update(s.summary())
    # exact count from the kernel's rusage of the reaped child
    ru1 = rusage_children()
    res["majflt"] = max(res["majflt"], ru1.ru_majflt - ru0.ru_majflt)
    # CPU time of the workload itself: what the machine's other load moves least
    res["cpu_s"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    # pages read from swap by anyone (faults and prefetches): the machine is quiet
    res["swap_reads"] = swap_reads() - rd0
    return res


def swap_reads():
    """Pages read from swap since boot, machine-wide (/proc/vmstat pswpin)."""
    with open("/proc/vmstat") as f:
        for line in f:
            if line.startswith("pswpin "):
                return int(line.split()[1])
    return 0


def reap_rusage(pid):
    """wait4 for a child we started with spawn(): (status, rusage)."""
    _, status, ru = os.wait4(pid, 0)
    return status, ru


def rusage_children():
    return resource.getrusage(resource.RUSAGE_CHILDREN)
