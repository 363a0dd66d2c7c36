# SPDX-License-Identifier: MIT
"""The configurations a workload runs under, and the swap tiers.

  none        the kernel alone, no memory limit (the reference run)
  cgroup      the kernel under a cgroup v1 memory limit (swaps to the tier)
  cgroup-P    the same at P% of the workload's expected RSS alone (a sweep:
              the kernel's own saved-vs-slowdown curve)
  senpai      a limit moved by a Senpai-like pressure controller (senpai.py)
  uffd        the userfaultfd pager (libpf-uffd.so) with the same budget,
              evicting to lz4 memory (zram tier) or an O_DIRECT file (disk)
  pageflexd-* the PageFlex agent + shim: slots that run as soon as
              <build>/bin/pageflexd and <build>/lib/libpageflex.so exist

Each config answers available(ctx) -> (bool, reason) and prepares a run:
prepare(ctx, wl, tier) -> Prepared(env, cgroup, finish) where finish()
stops helpers and returns extra metrics (agent CPU, pager counters)."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import runner
import senpai

MIB = 1 << 20


class Prepared:
    def __init__(self, env, cgroup, finish=None):
        self.env, self.cgroup = env, cgroup
        self._finish = finish

    def finish(self):
        extra = self._finish() if self._finish else {}
        if self.cgroup:
            cg = self.cgroup
            extra.setdefault("cg_peak_mib", int(cg.read("memory.max_usage_in_bytes") or 0) / MIB)
            extra["oom_kills"] = cg.oom_kills()
            cg.remove()
        return extra


class Config:
    name = ""
    tiered = True  # runs once per swap tier
    quick = True   # part of --quick
    note = ""

    def available(self, ctx):
        return True, ""


class NoAgent(Config):
    name = "none"
    tiered = False
    note = "kernel alone, no memory limit (reference)"

    def prepare(self, ctx, wl, tier):
        return Prepared(dict(os.environ), runner.CGroup())


JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


class Preload(Config):
    """No agent, no limit, one library preloaded: splits the delegation
    overhead into the allocator (the shim makes jemalloc the process's), the
    shim itself, and the agent."""

    tiered = False
    quick = False

    def __init__(self, name, note, lib):
        self.name, self.note, self.lib = name, note, lib

    def path(self, ctx):
        return self.lib if os.path.isabs(self.lib) else os.path.join(ctx.libdir, self.lib)

    def available(self, ctx):
        return os.path.isfile(self.path(ctx)), f"{self.path(ctx)} not found"

    def prepare(self, ctx, wl, tier):
        # PAGEFLEX_SOCKET: nobody listens there, so the shim runs agent-less
        env = dict(os.environ, LD_PRELOAD=self.path(ctx),
                   PAGEFLEX_SOCKET=os.path.join(ctx.tmpdir, "no-agent.sock"))
        return Prepared(env, runner.CGroup())


class CgroupLimit(Config):
    name = "cgroup"
    note = "kernel reclaim under a cgroup v1 memory limit"

    def available(self, ctx):
        return runner.cgroup_v1_available(), "no cgroup v1 memory controller"

    def prepare(self, ctx, wl, tier):
        return Prepared(dict(os.environ), runner.CGroup(ctx.limit_mib(wl) * MIB))


class SenpaiLimit(Config):
    name = "senpai"
    quick = False
    note = "kernel reclaim under a cgroup limit that a Senpai-like controller moves by memory pressure (senpai.py)"

    def available(self, ctx):
        return (runner.cgroup_v1_available() and senpai.psi_some_total_us() is not None,
                "no cgroup v1 memory controller or no /proc/pressure/memory")

    def prepare(self, ctx, wl, tier):
        cg = runner.CGroup()
        ctl = senpai.Senpai(cg)
        ctl.start()
        return Prepared(dict(os.environ), cg, ctl.stop)


class CgroupFraction(Config):
    """A static limit at a share of what the workload uses alone (its
    expected_rss_mib): a sweep of these is the kernel's own saved-vs-slowdown
    curve."""

    quick = False

    def __init__(self, pct):
        self.pct = pct
        self.name = f"cgroup-{pct}"
        self.note = f"kernel reclaim under a static limit of {pct}% of the workload's RSS alone"

    def available(self, ctx):
        return runner.cgroup_v1_available(), "no cgroup v1 memory controller"

    def prepare(self, ctx, wl, tier):
        rss = wl.expected_rss_mib(ctx) if hasattr(wl, "expected_rss_mib") else None
        if not rss:
            raise RuntimeError(f"{wl.name} has no expected RSS: no fractional limit")
        return Prepared(dict(os.environ), runner.CGroup(int(rss * self.pct / 100) * MIB))


class Uffd(Config):
    name = "uffd"
    note = "userfaultfd pager: spinning handler, FIFO-2C reclaim, stride prefetch"

    def lib(self, ctx):
        return os.path.join(ctx.libdir, "libpf-uffd.so")

    def available(self, ctx):
        return os.path.isfile(self.lib(ctx)), f"{self.lib(ctx)} not built"

    def prepare(self, ctx, wl, tier):
        fd, stats = tempfile.mkstemp(prefix="uffd-stats.", dir=ctx.tmpdir)
        os.close(fd)
        env = dict(os.environ, LD_PRELOAD=self.lib(ctx), PF_UFFD_STATS=stats,
                   PF_UFFD_BUDGET_MB=str(ctx.limit_mib(wl)),
                   PF_UFFD_STORE="file" if tier == "disk" else "lz4",
                   PF_UFFD_DIR=ctx.store_dir)

        def finish():
            try:
                with open(stats) as f:
                    txt = f.read().split()
            finally:
                os.unlink(stats)
            kv = dict(t.split("=", 1) for t in txt if "=" in t)
            if not kv:
                return {"note": "pager wrote no counters"}
            out = {"swapins_uffd": int(kv["swapins"]),
                   "offloaded_mib": float(kv["offloaded_mib_peak"]),
                   "store_mib": float(kv["store_mib_peak"]),
                   "managed_mib": float(kv["managed_mib_peak"]),
                   "prefetched": int(kv["prefetched"]),
                   "agent_cpu_s": None}
            return out

        # in an unlimited cgroup only to measure it the same way
        return Prepared(env, runner.CGroup(), finish)


# pageflexd slots: (name, agent arguments, part of --quick, note, options).
# The arguments per config are the one place to change when the agent's CLI
# settles; PF_BENCH_AGENT_ARGS_<NAME> (NAME upper-cased, '-' as '_') overrides
# them without editing. Options: under_limit (always run under the cgroup
# limit: the kernel reclaims, the agent prefetches), kernel_ra (False: the
# kernel's own swap readahead is off for the run, so the agent's prefetch
# policy is the only one).
RULES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rules")


def rules(name):
    return ["-c", os.path.join(RULES_DIR, name + ".yaml")]


AGENT_CONFIGS = [
    ("pageflexd-kernel", ["-p", "*=kernel"], True, "agent + shim, kernel policy: delegation overhead", {}),
    ("pageflexd-cold-age", rules("cold-age"), False, "agent, cold-age reclaim (idle >= 5 s)", {}),
    ("pageflexd-lru", rules("lru"), False, "agent, LRU reclaim, promotion-rate threshold", {}),
    ("pageflexd-lfu", rules("lfu"), False, "agent, LFU reclaim, promotion-rate threshold", {}),
    ("pageflexd-hyperbolic", rules("hyperbolic"), False,
     "agent, Hyperbolic reclaim, promotion-rate threshold", {}),
    ("pageflexd-readahead", rules("prefetch-readahead"), False,
     "kernel reclaim under the limit, agent readahead prefetch (kernel's off)",
     {"under_limit": True, "kernel_ra": False}),
    ("pageflexd-leap", rules("prefetch-leap"), False,
     "kernel reclaim under the limit, agent Leap prefetch (kernel's off)",
     {"under_limit": True, "kernel_ra": False}),
    ("pageflexd-rules", rules("rules"), False, "agent, per-region and per-phase rules", {}),
    ("pageflexd-objective", ["--objective", "promotion=0.2"], False,
     "agent, objective: refaults <= 0.2%/min of the working set (one cold age per process)", {}),
    # the same controller at looser promotion SLOs: its saved-vs-slowdown curve
    ("pageflexd-objective-1", ["--objective", "promotion=1"], False,
     "agent, objective: refaults <= 1%/min of the working set", {}),
    ("pageflexd-objective-5", ["--objective", "promotion=5"], False,
     "agent, objective: refaults <= 5%/min of the working set", {}),
]


class SwapReadahead:
    """The kernel's swap readahead (vm.page-cluster, VMA-based readahead):
    turned off for a run and put back as it was afterwards."""

    FILES = ("/proc/sys/vm/page-cluster", "/sys/kernel/mm/swap/vma_ra_enabled")
    OFF = ("0", "false")

    def __init__(self):
        self.saved = None

    def off(self):
        self.saved = [open(f).read().strip() for f in self.FILES]
        for f, v in zip(self.FILES, self.OFF):
            with open(f, "w") as fh:
                fh.write(v)

    def restore(self):
        if self.saved:
            for f, v in zip(self.FILES, self.saved):
                with open(f, "w") as fh:
                    fh.write(v)
            self.saved = None


class KernelNoReadahead(Config):
    name = "cgroup-nora"
    quick = False
    note = "kernel reclaim under the limit, swap readahead off (no prefetch at all)"

    def available(self, ctx):
        return runner.cgroup_v1_available(), "no cgroup v1 memory controller"

    def prepare(self, ctx, wl, tier):
        ra = SwapReadahead()
        ra.off()
        return Prepared(dict(os.environ), runner.CGroup(ctx.limit_mib(wl) * MIB),
                        lambda: ra.restore() or {})


_known = {}


def known_policies(agent):
    """The reclaim policies pageflexd accepts, from its own error message
    for an unknown one (None if it does not say)."""
    if agent not in _known:
        try:
            r = subprocess.run([agent, "-s", "/nonexistent/pfbench/agent.sock", "-p",
                                "*=pfbench-probe"], capture_output=True, text=True, timeout=10)
            txt = r.stdout + r.stderr
        except (OSError, subprocess.TimeoutExpired):
            txt = ""
        m = re.search(r"known: ([^)]*)\)", txt)
        _known[agent] = [x.strip() for x in m.group(1).split(",")] if m else None
    return _known[agent]


class AgentNotReady(RuntimeError):
    """pageflexd exited before it answered, or did not answer in time."""


def print_agent_log(path):
    """The agent's log, once: all of a short one, the last 40 lines of a long
    one (a BPF verifier log is thousands of lines), whose whole text is then
    kept in a file that outlives the run's temp dir."""
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    print(flush=True)  # pfbench may be in the middle of its "[n/N] ..." line
    if len(lines) <= 60:
        print(f"--- pageflexd log ({path}):", flush=True)
    else:
        fd, keep = tempfile.mkstemp(prefix="pageflexd-log.", dir="/tmp")
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"--- pageflexd log: the last 40 of {len(lines)} lines (all of it: {keep}):",
              flush=True)
        lines = lines[-40:]
    print("\n".join(lines + ["---"]), flush=True)


def start_agent(ctx, argv, ctl, log, timeout=30):
    """Starts pageflexd (argv, which must make ctl its control socket) with its
    output in log, and waits until it is ready: `pageflexctl wait` (the same
    wait as scripts/lib/agent.sh). Returns the Popen. If it exits first or
    does not answer in time it is stopped, its log printed once, and
    AgentNotReady raised with one line saying why."""
    with open(log, "w") as logf:
        agent = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT)
    w = subprocess.run([os.path.join(ctx.bindir, "pageflexctl"), "-s", ctl, "wait", "--pid",
                        str(agent.pid), "--timeout", str(timeout)],
                       capture_output=True, text=True)
    if w.returncode == 0:
        return agent
    why = (w.stderr.strip().splitlines() or ["pageflexctl wait failed"])[-1]
    why = why.removeprefix("pageflexctl: ")
    if agent.poll() is None:  # no answer in time: stop it, so its log is complete
        agent.terminate()
        try:
            agent.wait(timeout=2)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
        why += " (stopped it)"
    else:
        why = f"it exited with status {agent.returncode} before answering on {ctl}"
    print_agent_log(log)
    raise AgentNotReady(f"pageflexd did not become ready: {why}")


def agent_probe(ctx):
    """Before a matrix with agent configs: does pageflexd start at all? None
    if it does (it is stopped again), else the one-line reason (its log has
    been printed): a broken agent fails the bench once, up front, instead of
    once per run."""
    d = tempfile.mkdtemp(prefix="agent-probe.", dir=ctx.tmpdir)
    ctl = f"{d}/control.sock"
    try:
        agent = start_agent(ctx, [os.path.join(ctx.bindir, "pageflexd"), "-s", f"{d}/agent.sock",
                                  "--control", ctl, "-q", "-p", "*=kernel"], ctl, f"{d}/agent.log")
    except AgentNotReady as e:
        return str(e)
    agent.terminate()
    agent.wait()
    return None


class Agent(Config):
    def __init__(self, name, args, quick, note, opts):
        self.name, self.args, self.quick, self.note = name, args, quick, note
        self.under_limit = opts.get("under_limit", False)
        self.kernel_ra = opts.get("kernel_ra", True)
        # the kernel policy never pages anything out: the tier cannot matter
        self.tiered = name != "pageflexd-kernel"

    def argv_extra(self):
        env = os.environ.get("PF_BENCH_AGENT_ARGS_" + self.name.upper().replace("-", "_"))
        if env is not None:
            return shlex.split(env)
        return self.args

    def available(self, ctx):
        agent = os.path.join(ctx.bindir, "pageflexd")
        shim = os.path.join(ctx.libdir, "libpageflex.so")
        if not os.access(agent, os.X_OK):
            return False, f"{agent} not built yet"
        if not os.path.isfile(shim):
            return False, f"{shim} not built yet"
        extra = self.argv_extra()
        if "-c" in extra and not os.path.isfile(extra[extra.index("-c") + 1]):
            return False, f"no rules file {extra[extra.index('-c') + 1]}"
        if len(extra) == 2 and extra[0] == "-p":
            known = known_policies(agent)
            pol = extra[1].split("=", 1)[-1]
            if known is not None and pol not in known:
                return False, (f"pageflexd binds reclaim policies {', '.join(known)}; "
                               f"no '{pol}' yet")
        return True, ""

    def prepare(self, ctx, wl, tier):
        d = tempfile.mkdtemp(prefix="agent.", dir=ctx.tmpdir)
        sock, ctl, log = f"{d}/agent.sock", f"{d}/control.sock", f"{d}/agent.log"
        argv = [os.path.join(ctx.bindir, "pageflexd"), "-s", sock, "--control", ctl,
                "-q"] + self.argv_extra()
        agent = start_agent(ctx, argv, ctl, log)
        env = dict(os.environ, LD_PRELOAD=os.path.join(ctx.libdir, "libpageflex.so"),
                   PAGEFLEX_SOCKET=sock)

        ra = SwapReadahead()
        if not self.kernel_ra:
            ra.off()
        watch = FrontierWatch(ctx, ctl)

        def finish():
            ra.restore()
            watch.stop()
            st = runner.proc_stat(agent.pid)
            stats = agent_stats(ctx, ctl)
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
            out = {"agent_cpu_s": st[1] if st else None}
            ag = stats.get("agent", {})
            if "prefetch_pages" in ag:
                out["prefetched"] = ag["prefetch_pages"]
            # faults on pages of a Leap window: prefetches that were used
            if "leap_bpf" in ag:
                out["prefetch_hits"] = ag["leap_bpf"].get("window_hits")
            if watch.last:
                out["frontier"] = watch.last
            return out

        limit = (ctx.limit_mib(wl) * MIB if tier != "-" and
                 (ctx.agent_under_limit or self.under_limit) else None)
        return Prepared(env, runner.CGroup(limit), finish)


def agent_stats(ctx, ctl):
    """The agent's `pageflexctl stats --json`, {} if it cannot be read."""
    try:
        r = subprocess.run([os.path.join(ctx.bindir, "pageflexctl"), "-s", ctl, "stats",
                            "--json"], capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout) if r.returncode == 0 else {}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}


class FrontierWatch:
    """The objective frontier of the managed program, read every 15 s while
    it runs (the workload stops its server before the config's finish, and
    a stopped program's objectives are gone); last: the latest one."""

    def __init__(self, ctx, ctl):
        self.last = None
        self.done = threading.Event()
        self.th = threading.Thread(target=self._loop, args=(ctx, ctl), daemon=True)
        self.th.start()

    def _loop(self, ctx, ctl):
        t0, seen = time.monotonic(), set()
        while not self.done.wait(15):
            stats = agent_stats(ctx, ctl)
            self.last = objective_frontier(stats) or self.last
            # Passes over the data the controller saw (objective.h, sweeps).
            for p in stats.get("processes", []):
                for o in p.get("objectives", []):
                    key = (p.get("pid"), o.get("sweeps"), o.get("sweep_floor_ms"))
                    if o.get("sweeps") and key not in seen:
                        seen.add(key)
                        print(f"    [{time.monotonic() - t0:.0f} s] pid {key[0]}: "
                              f"{o['sweeps']} passes over its data, longest "
                              f"{o['sweep_ms'] / 1e3:.0f} s: age held >= "
                              f"{o['sweep_floor_ms'] / 1e3:.0f} s (age "
                              f"{o['age_ms'] / 1e3:.0f} s)", flush=True)

    def stop(self):
        self.done.set()
        self.th.join()


def objective_frontier(stats):
    """What each cold age would keep out, from the process whose objective
    keeps the most idle (`stats --json`, objectives[].frontier): "AGE_MS:
    IDLE_MIB:PPM" entries joined by ';' (PPM empty while not predicted yet),
    or None."""
    best, most = None, -1
    for p in stats.get("processes", []):
        for o in p.get("objectives", []):
            fr = o.get("frontier") or []
            if fr and fr[0]["idle_bytes"] > most:
                best, most = fr, fr[0]["idle_bytes"]
    if not best:
        return None
    return ";".join(f"{e['age_ms']}:{e['idle_bytes'] / MIB:.0f}:"
                    f"{'' if e['promotion_ppm'] is None else e['promotion_ppm']}" for e in best)


def all_configs():
    return ([NoAgent(),
             Preload("jemalloc", "no agent, LD_PRELOAD of Debian's libjemalloc.so.2 alone",
                     JEMALLOC),
             Preload("shim", "no agent, LD_PRELOAD=libpageflex.so (nobody listening)",
                     "libpageflex.so"),
             CgroupLimit(), KernelNoReadahead(), Uffd(), SenpaiLimit()]
            + [CgroupFraction(p) for p in (90, 75, 60, 45, 30)]
            + [Agent(*a) for a in AGENT_CONFIGS])


# ---- swap tiers ----

class Tiers:
    """zram: scripts/swap-setup.sh (PageFlex's shared zram swap, priority 100).
    disk: a swap file of the harness's own (own state dir, so its teardown
    never touches the shared swap), raised above zram only while the disk
    runs go, and removed at the end."""

    def __init__(self, src, disk_size="4G"):
        self.setup = os.path.join(src, "scripts", "swap-setup.sh")
        self.state = f"/run/pageflex-bench-{os.getpid()}"
        self.file = f"/var/lib/pageflex/bench-swap-{os.getpid()}"
        self.disk_size = disk_size
        self.disk_on = False

    def zram(self):
        subprocess.run(["bash", self.setup], check=True)

    def _env(self):
        return dict(os.environ, PAGEFLEX_STATE_DIR=self.state, PAGEFLEX_SWAPFILE=self.file)

    def disk(self):
        subprocess.run(["bash", self.setup, "--disk", "--no-zram", "--disk-size", self.disk_size],
                       check=True, env=self._env())
        # top priority while measuring the disk tier
        subprocess.run(["swapoff", self.file], check=True)
        subprocess.run(["swapon", "-p", "1000", self.file], check=True)
        self.disk_on = True

    def disk_off(self):
        if self.disk_on:
            subprocess.run(["bash", self.setup, "--teardown", "--disk-only"], env=self._env(),
                           check=False)
            self.disk_on = False
            shutil.rmtree(self.state, ignore_errors=True)  # ours alone
