#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pfbench: measures PageFlex against its baselines, one command.

Runs every workload under every configuration on each swap tier (zram, and a
swap file on disk), with repetitions in interleaved order, shows progress, and
writes <stem>.csv, <stem>.md and <stem>-*.png. Exits non-zero if any run
fails or computes a different checksum than the no-limit reference run.

  pfbench.py --build build              full run into bench/results/
  pfbench.py --build build --quick      small sizes, 1 repetition, the disk
                                        tier on kv and redis only, into
                                        bench/results/tmp/ (for CI, ~2 min)
"""

import argparse
import datetime
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import configs as C  # noqa: E402
import report  # noqa: E402
import runner  # noqa: E402
import workloads as W  # noqa: E402

SRC = os.path.abspath(os.path.join(HERE, "..", ".."))


class Ctx:
    def __init__(self, a):
        self.quick = a.quick
        self.build = os.path.abspath(a.build)
        self.bindir = os.path.join(self.build, "bin")
        self.libdir = os.path.join(self.build, "lib")
        self.timeout = 600 if a.quick else 3600
        self.tmpdir = tempfile.mkdtemp(prefix="pfbench.")
        self.store_dir = a.store_dir
        self.agent_under_limit = a.agent_under_limit
        self.limit_override = a.limit_mib

    def limit_mib(self, wl):
        """Memory limit (cgroup) / budget (uffd) for a workload: half of
        what it uses without a limit."""
        if self.limit_override:
            return self.limit_override
        full = {"seq": 512, "stride": 512, "seq-ro": 512, "stride-ro": 512, "mixed-ro": 512,
                "random-ro": 512, "kv": 512, "phase": 512, "pagerank": 512,
                "redis": 512, "memcached": 448, "sqlite": 448}
        quick = {"seq": 64, "stride": 64, "seq-ro": 64, "stride-ro": 64, "mixed-ro": 64,
                 "random-ro": 64, "kv": 64, "phase": 64, "pagerank": 64,
                 "redis": 48, "memcached": 48, "sqlite": 40}
        table = quick if self.quick else full
        if wl.name not in table and hasattr(wl, "expected_rss_mib"):
            return wl.expected_rss_mib(self) // 2
        return table[wl.name]


def log(msg):
    print(msg, flush=True)


def machine():
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return f"{os.cpu_count()} CPUs, {mem:.0f} GiB, Linux {platform.release()}"


def fault_latency(ctx, tiers):
    """Per-fault cost as the app sees it: first touch and scattered re-read
    under the kernel (limit) and the uffd pager (budget), spinning and not."""
    exe = os.path.join(ctx.bindir, "pf-uffd-faultlat")
    lib = os.path.join(ctx.libdir, "libpf-uffd.so")
    if not (os.access(exe, os.X_OK) and os.path.isfile(lib)):
        return []
    mib = 64 if ctx.quick else 256
    half = mib // 2
    setups = [("kernel, no limit", {}, None)]
    for tier in tiers:
        store = "file" if tier == "disk" else "lz4"
        setups += [
            (f"kernel, cgroup limit {half} MiB, {tier}", {}, half, tier),
            (f"uffd spinning, budget {half} MiB, {store}",
             {"LD_PRELOAD": lib, "PF_UFFD_BUDGET_MB": str(half), "PF_UFFD_STORE": store,
              "PF_UFFD_PREFETCH": "0", "PF_UFFD_DIR": ctx.store_dir}, None, tier),
            (f"uffd blocking (poll), budget {half} MiB, {store}",
             {"LD_PRELOAD": lib, "PF_UFFD_BUDGET_MB": str(half), "PF_UFFD_STORE": store,
              "PF_UFFD_PREFETCH": "0", "PF_UFFD_SPIN": "0", "PF_UFFD_DIR": ctx.store_dir},
             None, tier),
        ]
    # (tier or None, name, env, cgroup limit MiB or None, exe, size MiB)
    return [(s[3] if len(s) > 3 else None, s[0], s[1], s[2], exe, mib) for s in setups]


def run_faultlat(item, ctx):
    tier, name, extra, limit, exe, mib = item
    env = dict(os.environ, PF_UFFD_STATS=os.devnull, **extra)
    cg = runner.CGroup(limit << 20 if limit else None)
    try:
        r = runner.run_measured([exe, str(mib)], env=env, cgroup=cg, timeout=ctx.timeout)
    finally:
        cg.remove()
    res = W.parse_result(r["stdout"]) or {}
    ok = r["rc"] == 0 and res.get("verify") == "ok"
    return {"setup": name, "first_touch_us": float(res.get("first_touch_us", 0)) or None,
            "reread_us": float(res.get("reread_us", 0)) or None,
            "status": "ok" if ok else f"FAIL: {r['stderr'].strip()[-120:]}"}


def report_only(a, ctx, wls, cfgs):
    """Markdown and plots again from the CSVs of a run (no new measurements)."""
    outdir = a.out or os.path.join(SRC, "bench", "results", *(["tmp"] if a.quick else []))
    stem = a.stem or ("quick" if a.quick else "baseline")
    rows = report.read_csv(os.path.join(outdir, f"{stem}.csv"))
    wl_names = [w.name for w in wls if any(r["workload"] == w.name for r in rows)]
    cfg_names = [c.name for c in cfgs if any(r["config"] == c.name for r in rows)]
    tiers = [t for t in ("zram", "disk") if any(r["tier"] == t for r in rows)]
    reps = int(max(r["rep"] for r in rows)) if rows else 0
    slots = [(c.name, c.note, c.available(ctx)[1]) for c in cfgs
             if c.name not in cfg_names and not c.available(ctx)[0]]
    # keep when and how it was measured from the previous report
    when, command = "(unknown date)", "pfbench.py"
    try:
        with open(os.path.join(outdir, f"{stem}.md")) as f:
            txt = f.read()
        when = re.search(r"Measured (.*?) on ", txt).group(1)
        command = re.search(r"Command: `(.*?)`", txt).group(1)
    except (OSError, AttributeError):
        pass
    meta = {"mode": "quick" if a.quick else "full", "reps": reps, "stem": stem,
            "date": when,
            "machine": machine(), "limits": ", ".join(f"{w.name} {ctx.limit_mib(w)} MiB"
                                                      for w in wls if w.name in wl_names),
            "command": command}
    log("pfbench: " + report.plots(outdir, stem, rows, tiers, wl_names, cfg_names))
    log("pfbench: " + report.timeline_plots(outdir, stem, cfg_names))
    faultlat = report.read_faultlat(os.path.join(outdir, f"{stem}-faultlat.csv"))
    report.write_markdown(os.path.join(outdir, f"{stem}.md"), meta, rows, slots, faultlat,
                          tiers, wl_names, cfg_names)
    return 0


def run_cell(ctx, tier, w, c):
    """One run of workload w under config c on a tier: its row fields."""
    row = {}
    try:
        prep = c.prepare(ctx, w, tier)
        try:
            row.update(w.run(ctx, prep.env, prep.cgroup))
        finally:
            row.update({k: v for k, v in prep.finish().items()
                        if v is not None or k not in row})
    except Exception as e:  # a failed run is a result, not a crash
        row.update(status="FAIL", error=f"{type(e).__name__}: {e}")
    return row


# --quick tries the disk tier on these workloads only (the zram tier runs them
# all): it checks that the swap file and every configuration work on it,
# which one synthetic and one real server show; the rest cost CI ~70 s.
QUICK_DISK_WORKLOADS = ("kv", "redis")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(SRC, "build"), help="build directory")
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 repetition, disk tier on kv and redis only (CI)")
    ap.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    ap.add_argument("--out", help="output directory (default bench/results, quick: "
                    "bench/results/tmp)")
    ap.add_argument("--stem", help="output file stem (default baseline / quick)")
    ap.add_argument("--workloads", help="comma-separated subset, e.g. seq,kv,redis")
    ap.add_argument("--configs", help="comma-separated subset, e.g. none,cgroup,uffd")
    ap.add_argument("--tiers", default="zram,disk", help="zram,disk (default both)")
    ap.add_argument("--limit-mib", type=int, help="one memory limit for every workload")
    ap.add_argument("--kv", metavar="MIB,SECONDS,WARMUP[,VALUE]",
                    help="dataset, measured seconds, warm-up and value bytes of the *-kv* "
                    "workloads (default 2048,180,60,4000; --quick 48,2,1,4000)")
    ap.add_argument("--store-dir", default="/var/tmp", help="uffd file store directory")
    ap.add_argument("--agent-under-limit", action="store_true",
                    help="run pageflexd configs under the cgroup limit too")
    ap.add_argument("--no-faultlat", action="store_true", help="skip the per-fault probe")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up runs")
    ap.add_argument("--list", action="store_true", help="list workloads and configs")
    ap.add_argument("--report-only", action="store_true",
                    help="rebuild <stem>.md and plots from an existing <stem>.csv")
    ap.add_argument("--seed", type=int, default=1, help="seed of the interleaving order")
    a = ap.parse_args()

    ctx = Ctx(a)
    if a.kv:
        try:
            v = [int(x) for x in a.kv.split(",")]
            if len(v) == 3:
                v.append(W.KV_VALUE)
            mib, secs, warm, value = v
            if mib < 8 or secs < 1 or warm < 0 or not 16 <= value <= 65536:
                raise ValueError
        except ValueError:
            ap.error("--kv wants MIB,SECONDS,WARMUP[,VALUE] (MIB >= 8, SECONDS >= 1, "
                     "WARMUP >= 0, 16 <= VALUE <= 65536)")
        ctx.kv = (mib, secs, warm, value)
    wls = W.all_workloads()
    cfgs = C.all_configs()
    if a.list:
        for w in wls:
            ok, why = w.available(ctx)
            print(f"workload {w.name:10} {w.kind:8} {w.params(ctx)}"
                  + ("" if ok else f"   [not available: {why}]"))
        for c in cfgs:
            ok, why = c.available(ctx)
            print(f"config   {c.name:22} {c.note}" + ("" if ok else f"   [not available: {why}]"))
        return 0
    if a.report_only:
        return report_only(a, ctx, wls, cfgs)
    if os.geteuid() != 0:
        print("pfbench: needs root (cgroups, swap set-up, userfaultfd)", file=sys.stderr)
        return 77
    if not runner.cgroup_v1_available():
        print("pfbench: no cgroup v1 memory controller at /sys/fs/cgroup/memory",
              file=sys.stderr)
        return 77

    if a.workloads:
        want = a.workloads.split(",")
        unknown = set(want) - {w.name for w in wls}
        if unknown:
            ap.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
        wls = [w for w in wls if w.name in want]
    if a.configs:
        want = a.configs.split(",")
        unknown = set(want) - {c.name for c in cfgs}
        if unknown:
            ap.error(f"unknown config(s): {', '.join(sorted(unknown))}")
        cfgs = [c for c in cfgs if c.name in want]
    tiers = [t for t in a.tiers.split(",") if t]
    if set(tiers) - {"zram", "disk"}:
        ap.error("--tiers takes zram and/or disk")
    reps = a.reps or (1 if a.quick else 3)
    outdir = a.out or os.path.join(SRC, "bench", "results", *(["tmp"] if a.quick else []))
    stem = a.stem or ("quick" if a.quick else "baseline")
    os.makedirs(outdir, exist_ok=True)

    # what runs, what is a slot
    slots, run_cfgs = [], []
    for c in cfgs:
        ok, why = c.available(ctx)
        if a.quick and not c.quick and not a.configs:
            continue
        if ok:
            run_cfgs.append(c)
        else:
            slots.append((c.name, c.note, why))
    run_wls = []
    for w in wls:
        if a.quick and not getattr(w, "in_quick", True) and not a.workloads:
            continue
        ok, why = w.available(ctx)
        if ok:
            run_wls.append(w)
        else:
            slots.append((f"workload {w.name}", w.params(ctx), why))

    rows = []
    for name, note, why in slots:
        log(f"  skip {name}: not available yet: {why}")
    if any(isinstance(c, C.Agent) for c in run_cfgs):
        # a pageflexd that cannot start fails here, once, with its log
        why = C.agent_probe(ctx)
        if why:
            shutil.rmtree(ctx.tmpdir, ignore_errors=True)
            log(f"pfbench: FAIL: {why}")
            return 1
    cells_by_tier = {}
    for tier in tiers:
        cells = []
        for w in run_wls:
            if (a.quick and not a.workloads and tier == "disk"
                    and w.name not in QUICK_DISK_WORKLOADS):
                continue
            for c in run_cfgs:
                if not c.tiered:
                    continue
                cells.append((tier, w, c))
        cells_by_tier[tier] = cells
    ref_cells = [("-", w, c) for w in run_wls for c in run_cfgs if not c.tiered]
    # the reference (no limit) runs go with the zram tier's interleaving
    first = tiers[0] if tiers else None
    if first:
        cells_by_tier[first] = ref_cells + cells_by_tier[first]
    else:
        cells_by_tier["-"] = ref_cells
    total = sum(len(v) for v in cells_by_tier.values()) * reps
    fl_items = [] if a.no_faultlat else fault_latency(ctx, tiers)
    log(f"pfbench: {'quick' if a.quick else 'full'} run: {len(run_wls)} workloads x "
        f"{len(run_cfgs)} configs x tiers {','.join(tiers)} x {reps} reps = {total} runs "
        f"(+{len(fl_items)} fault probes); results in {outdir}/{stem}.*")

    if not a.quick and not a.no_warmup:
        # one untimed run of each workload first: page cache, binaries, redis
        # start-up, so the first measured run is not penalised
        log("pfbench: warm-up (not measured)")
        nocfg = C.NoAgent()
        for w in run_wls:
            prep = nocfg.prepare(ctx, w, "-")
            try:
                w.run(ctx, prep.env, prep.cgroup)
            except Exception as e:
                log(f"  warm-up of {w.name} failed: {e}")
            finally:
                prep.finish()
    swap = C.Tiers(SRC, disk_size="1G" if a.quick else "4G")
    rng = random.Random(a.seed)
    done, t_start, failures = 0, time.monotonic(), []
    timelines = {}
    faultlat = []
    try:
        swap.zram()
        for tier, cells in cells_by_tier.items():
            if tier == "disk":
                log("pfbench: disk tier: swap file above zram for these runs")
                swap.disk()
            for rep in range(reps):
                order = cells[:]
                rng.shuffle(order)  # interleaved, and not always the same order
                for t, w, c in order:
                    done += 1
                    el = time.monotonic() - t_start
                    eta = el / (done - 1) * (total - done + 1) if done > 1 else 0
                    label = f"[{done:3}/{total}] {t:4} {w.name:9} {c.name:18} rep {rep + 1}/{reps}"
                    print(f"{label} ...", end="", flush=True)
                    row = {"tier": t, "workload": w.name, "config": c.name, "rep": rep + 1,
                           "params": w.params(ctx)}
                    t0 = time.monotonic()
                    res = run_cell(ctx, t, w, c)
                    if res["status"] != "ok" and res.get("oom_kills"):
                        # the kernel killed it under the limit: once more, as
                        # reclaim on a slow tier can lose a race it wins next time
                        print(" OOM-killed under the limit, once more ...", end="", flush=True)
                        res = dict(run_cell(ctx, t, w, c), retried="oom")
                        if res["status"] != "ok" and res.get("oom_kills"):
                            res.update(status="oom", error=(
                                f"OOM-killed by the kernel twice under the "
                                f"{ctx.limit_mib(w)} MiB cgroup limit"))
                    row.update(res)
                    row["wall_s"] = round(time.monotonic() - t0, 1)
                    if row.get("offloaded_mib") is None:
                        row["offloaded_mib"] = row.get("swap_peak_mib")
                    row["swapins"] = row.get("swapins_uffd", row.get("majflt"))
                    tl = row.pop("timeline", None)
                    if tl and row["status"] == "ok":
                        # one run of each configuration, for the time-series plots
                        timelines.setdefault(f"{t}/{w.name}/{c.name}", tl)
                        report.write_timelines(outdir, stem, timelines)
                    rows.append(row)
                    # kept current, so an interrupted run still leaves its data
                    report.write_csv(os.path.join(outdir, f"{stem}.csv"), rows)
                    dt = time.monotonic() - t0
                    msg = f" {row['status']} {dt:6.1f}s"
                    if row["status"] == "ok":
                        msg += (f"  {row.get('runtime_s', 0):.2f}s rss {row.get('rss_avg_mib', 0):.0f}"
                                f" MiB swapins {row.get('swapins')}")
                    elif row["status"] == "oom" and c.name == "cgroup":
                        # the kernel baseline cannot hold this limit: a result
                        msg += f"  {row['error']} (a result of the baseline, not a failure)"
                    else:
                        msg += f"  {row.get('error', '')}"
                        failures.append(f"{label}: {row.get('error', '')}")
                    print(msg + f"  (eta {eta / 60:.1f} min)", flush=True)
            for item in fl_items:
                if item[0] in (tier, None) and not (item[0] is None and tier != tiers[0]):
                    log(f"  fault probe: {item[1]}")
                    f = run_faultlat(item, ctx)
                    faultlat.append(f)
                    if f["status"] != "ok":
                        failures.append(f"fault probe {item[1]}: {f['status']}")
            if tier == "disk":
                swap.disk_off()
    finally:
        swap.disk_off()
        shutil.rmtree(ctx.tmpdir, ignore_errors=True)

    # every run of a workload must compute what the reference run computed
    ref = {}
    for r in rows:
        if r["config"] == "none" and r["status"] == "ok" and r.get("checksum"):
            ref.setdefault(r["workload"], r["checksum"])
    for r in rows:
        want = ref.get(r["workload"])
        if r["status"] == "ok" and want and r.get("checksum") != want:
            r["status"] = "FAIL"
            r["error"] = f"checksum {r.get('checksum')} != {want} of the reference run"
            failures.append(f"{r['tier']} {r['workload']} {r['config']} rep {r['rep']}: "
                            f"{r['error']}")

    meta = {"mode": "quick" if a.quick else "full", "reps": reps, "stem": stem,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "limits": ", ".join(f"{w.name} {ctx.limit_mib(w)} MiB" for w in run_wls),
            "command": " ".join(["pfbench.py"] + sys.argv[1:])}
    report.write_csv(os.path.join(outdir, f"{stem}.csv"), rows)
    if faultlat:
        report.write_faultlat(os.path.join(outdir, f"{stem}-faultlat.csv"), faultlat)
    wl_names = [w.name for w in run_wls]
    cfg_names = [c.name for c in run_cfgs]
    log("pfbench: " + report.plots(outdir, stem, rows, tiers, wl_names, cfg_names))
    log("pfbench: " + report.timeline_plots(outdir, stem, cfg_names))
    report.write_markdown(os.path.join(outdir, f"{stem}.md"), meta, rows, slots, faultlat,
                          tiers, wl_names, cfg_names)
    el = time.monotonic() - t_start
    log(f"pfbench: {len(rows)} runs in {el / 60:.1f} min; wrote {outdir}/{stem}.csv, "
        f"{stem}.md and plots")
    if failures:
        log(f"pfbench: {len(failures)} FAILED:")
        for f in failures:
            log("  " + f)
        return 1
    log("pfbench: all runs ok, checksums match the reference runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
