# SPDX-License-Identifier: MIT
"""Writes the benchmark's outputs: every run as a CSV row, a Markdown summary
(medians over repetitions, ratios against the no-agent run of the same
workload measured in the same session) and PNG bar charts through gnuplot."""

import csv
import json
import os
import shutil
import statistics
import subprocess

FIELDS = ["tier", "workload", "config", "rep", "status", "runtime_s", "throughput", "unit",
          "p99_us", "rss_avg_mib", "rss_peak_mib", "cg_peak_mib", "offloaded_mib", "swapins",
          "agent_cpu_s", "managed_mib", "store_mib", "prefetched", "checksum", "params", "error",
          "oom_kills", "retried", "cpu_s", "swap_reads", "prefetch_hits", "swap_avg_mib",
          "wall_s", "swapins_window", "window_s", "frontier"]


FAULT_FIELDS = ["setup", "first_touch_us", "reread_us", "status"]


def write_faultlat(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FAULT_FIELDS)
        w.writeheader()
        w.writerows(rows)


def read_faultlat(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("first_touch_us", "reread_us"):
            r[k] = float(r[k]) if r[k] else None
    return rows


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in FIELDS})


def read_csv(path):
    """Rows of a CSV written by write_csv, numbers as numbers."""
    num = {"runtime_s", "throughput", "p99_us", "rss_avg_mib", "rss_peak_mib", "cg_peak_mib",
           "offloaded_mib", "swapins", "agent_cpu_s", "managed_mib", "store_mib", "prefetched",
           "rep", "cpu_s", "swap_reads", "prefetch_hits", "swap_avg_mib", "wall_s",
           "swapins_window", "window_s"}
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k in num:
                v = r.get(k)
                r[k] = None if v in (None, "") else float(v)
            rows.append(r)
    return rows


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) not in (None, "")]
    return statistics.median(vals) if vals else None


def fmt(v, nd=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def summarize(rows):
    """(tier, workload, config) -> summary dict over its ok repetitions."""
    groups = {}
    for r in rows:
        groups.setdefault((r["tier"], r["workload"], r["config"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        ok = [r for r in rs if r["status"] == "ok"]
        s = {"n": len(rs), "ok": len(ok), "status": rs[0]["status"] if not ok else "ok",
             "error": next((r.get("error") for r in rs if r.get("error")), ""),
             "unit": rs[0].get("unit", "")}
        if len(ok) < len(rs) and ok:
            s["status"] = f"{len(rs) - len(ok)} of {len(rs)} FAILED"
        for k in ("cpu_s", "runtime_s", "throughput", "p99_us", "rss_avg_mib", "rss_peak_mib",
                  "cg_peak_mib", "offloaded_mib", "swapins", "agent_cpu_s", "managed_mib",
                  "store_mib", "prefetched", "swap_reads", "prefetch_hits", "swap_avg_mib",
                  "wall_s", "swapins_window", "window_s"):
            s[k] = med(ok, k)
        s["frontier"] = next((r["frontier"] for r in ok if r.get("frontier")), None)
        rt = [r["runtime_s"] for r in ok]
        s["spread"] = (max(rt) - min(rt)) / statistics.median(rt) if len(rt) > 1 else None
        out[key] = s
    return out


def write_markdown(path, meta, rows, slots, faultlat, tiers, workloads, configs):
    S = summarize(rows)
    L = []
    L.append(f"# PageFlex benchmark: {meta['mode']} run\n")
    L.append(f"Measured {meta['date']} on {meta['machine']}. {meta['reps']} repetition(s) per "
             f"cell, run in interleaved order; medians shown. Memory limit / pager budget: "
             f"{meta['limits']}. Command: `{meta['command']}`.\n")
    L.append("Ratios are against the `none` run (kernel alone, no limit) of the same workload "
             "in this session. *slowdown* = runtime / runtime(none); *RSS saved* = "
             "1 - avg RSS / avg RSS(none); *spread* = half the range of the runtimes over "
             "the repetitions, relative to the median (how much the machine's noise moves a "
             "cell: ratios within it are not findings). Offloaded = peak VmSwap (kernel) or peak bytes in "
             "the pager's store (uffd, uncompressed). Swap-ins = major faults (kernel) or "
             "pages the pager read back from its store (uffd).\n")
    for tier in tiers:
        L.append(f"\n## Tier: {tier}\n")
        L.append("| workload | config | runtime s | spread | slowdown | app CPU | throughput "
                 "| p99 µs | avg RSS MiB | RSS saved | peak RSS MiB | offloaded MiB | swap-ins "
                 "| prefetched | agent CPU s | status |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for wl in workloads:
            base = S.get(("-", wl, "none"))
            for cfg in configs:
                s = S.get(("-", wl, cfg)) or S.get((tier, wl, cfg))
                if not s:
                    continue
                slow = saved = cpu = None
                if base and base.get("cpu_s") and s.get("cpu_s"):
                    cpu = s["cpu_s"] / base["cpu_s"]
                if base and base["runtime_s"] and s["runtime_s"]:
                    slow = s["runtime_s"] / base["runtime_s"]
                if base and base["rss_avg_mib"] and s["rss_avg_mib"] is not None:
                    saved = 1 - s["rss_avg_mib"] / base["rss_avg_mib"]
                status = s["status"]
                if s.get("error") and status != "ok":
                    status += ": " + s["error"].replace("|", "/")[:120]
                if cfg == "uffd" and s.get("managed_mib") is not None and base and \
                        base["rss_peak_mib"] and s["managed_mib"] < 0.25 * base["rss_peak_mib"]:
                    status += f" (pager sees only {s['managed_mib']:.0f} MiB)"
                tp = f"{s['throughput']:.4g} {s['unit']}" if s["throughput"] else "–"
                spread = f"±{s['spread'] * 50:.0f}%" if s["spread"] is not None else "–"
                L.append(f"| {wl} | {cfg} | {fmt(s['runtime_s'], 2)} | {spread} | "
                         f"{fmt(slow, 2) + 'x' if slow else '–'} | "
                         f"{fmt(cpu, 2) + 'x' if cpu else '–'} | {tp} | {fmt(s['p99_us'])} | "
                         f"{fmt(s['rss_avg_mib'], 0)} | "
                         f"{fmt(saved * 100, 0) + '%' if saved is not None else '–'} | "
                         f"{fmt(s['rss_peak_mib'], 0)} | {fmt(s['offloaded_mib'], 0)} | "
                         f"{fmt(None if s['swapins'] is None else int(s['swapins']))} | "
                         f"{fmt(None if s.get('prefetched') is None else int(s['prefetched']))} | "
                         f"{fmt(s['agent_cpu_s'], 2)} | {status} |")
    L += prefetch_section(S, tiers, workloads, configs)
    L += saved_section(S, tiers, workloads, configs)
    if faultlat:
        L.append("\n## Per-fault cost (pf-uffd-faultlat)\n")
        L.append("Mean time per page as the application sees it: first touch of a fresh "
                 "page, and a scattered re-read of a region twice the budget (so about half "
                 "the reads fault and evict). Prefetch is off for the uffd re-read.\n")
        L.append("| setup | first touch µs/page | re-read µs/page | status |")
        L.append("|---|---:|---:|---|")
        for f in faultlat:
            L.append(f"| {f['setup']} | {fmt(f.get('first_touch_us'), 2)} | "
                     f"{fmt(f.get('reread_us'), 2)} | {f['status']} |")
    if slots:
        L.append("\n## Configurations not run\n")
        L.append("| config | what | status |")
        L.append("|---|---|---|")
        for name, note, reason in slots:
            L.append(f"| {name} | {note} | not available yet: {reason} |")
    L.append("\n## Plots\n")
    for tier in tiers:
        for kind in ("slowdown", "rss"):
            png = f"{meta['stem']}-{tier}-{kind}.png"
            if os.path.exists(os.path.join(os.path.dirname(path), png)):
                L.append(f"![{kind} on {tier}]({png})")
        for wl in workloads:
            png = f"{meta['stem']}-{tier}-{wl}-saved.png"
            if os.path.exists(os.path.join(os.path.dirname(path), png)):
                L.append(f"![RSS saved vs slowdown, {wl} on {tier}]({png})")
            png = f"{meta['stem']}-{tier}-{wl}-timeline.png"
            if os.path.exists(os.path.join(os.path.dirname(path), png)):
                L.append(f"![RSS, swap, throughput and refaults over time, {wl} on {tier}]"
                         f"({png})")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


FAMILIES = (("kernel, static limits", lambda c: c == "cgroup" or c.startswith("cgroup-")
              and c != "cgroup-nora"),
            ("Senpai-like", lambda c: c == "senpai"),
            ("uffd pager", lambda c: c == "uffd"),
            ("pageflexd", lambda c: c.startswith("pageflexd-")))


def saved_points(S, tier, wl, configs):
    """(config, slowdown, p99 ratio, saved) of every ok config of wl on
    tier, against its `none` run; [] without one."""
    base = S.get(("-", wl, "none"))
    pts = []
    if not base or not base["runtime_s"] or not base["rss_avg_mib"]:
        return pts
    for cfg in configs:
        s = S.get((tier, wl, cfg)) or S.get(("-", wl, cfg))
        if cfg == "none" or not s or s["status"] != "ok" or not s["runtime_s"]:
            continue
        p99 = (s["p99_us"] / base["p99_us"] if s.get("p99_us") and base.get("p99_us")
               else None)
        pts.append((cfg, s["runtime_s"] / base["runtime_s"], p99,
                    1 - s["rss_avg_mib"] / base["rss_avg_mib"]))
    return pts


def saved_section(S, tiers, workloads, configs):
    """Per workload and family of configurations: the most memory saved at
    <= 2% and <= 5% slowdown (with the p99 no more than 10% up), and by
    which configuration."""
    L = []
    for tier in tiers:
        rows = []
        for wl in workloads:
            pts = saved_points(S, tier, wl, configs)
            if not pts:
                continue
            cells = []
            for _, member in FAMILIES:
                for limit in (1.02, 1.05):
                    ok = [p for p in pts if member(p[0]) and p[1] <= limit
                          and (p[2] is None or p[2] <= 1.10)]
                    best = max(ok, key=lambda p: p[3]) if ok else None
                    cells.append(f"{best[3] * 100:.0f}% ({best[0]})" if best else "–")
            rows.append(f"| {wl} | " + " | ".join(cells) + " |")
        if rows:
            L.append(f"\n## Memory saved at a given slowdown, tier {tier}\n")
            L.append("The most RSS saved (1 - avg RSS / avg RSS(none)) by any configuration of "
                     "each family whose slowdown is at most 2% (or 5%) and whose p99 rose at "
                     "most 10%, medians of the repetitions; the configuration in brackets.\n")
            head = "| workload | " + " | ".join(f"{name} <= {lim}" for name, _ in FAMILIES
                                                for lim in ("2%", "5%")) + " |"
            L.append(head)
            L.append("|---|" + "---:|" * (2 * len(FAMILIES)))
            L += rows
            L += anchor_lines(S, tier, workloads, configs)
            L += frontier_lines(S, tier, workloads, configs)
    return L


def anchor_lines(S, tier, workloads, configs):
    """What the kernel alone paged out (the machine's own DAMON_RECLAIM,
    pageout of memory idle ~60 s: a live anchor at slowdown 1 by
    definition), and the agent's CPU per pageflexd configuration."""
    L = []
    for wl in workloads:
        base = S.get(("-", wl, "none"))
        if not base or base.get("swap_avg_mib") is None or not base.get("rss_avg_mib"):
            continue
        tot = base["rss_avg_mib"] + base["swap_avg_mib"]
        cpu, rate = [], []
        for cfg in configs:
            s = S.get((tier, wl, cfg)) or S.get(("-", wl, cfg))
            if cfg.startswith("pageflexd-") and s and s.get("agent_cpu_s") is not None \
                    and s.get("wall_s"):
                cpu.append(f"{cfg} {s['agent_cpu_s'] / s['wall_s'] * 100:.1f}%")
            if s and s.get("swapins_window") is not None and s.get("window_s"):
                rate.append(f"{cfg} {s['swapins_window'] / s['window_s'] * 60:.0f}")
        L.append(f"\n{wl}: the kernel alone (`none`) had {base['swap_avg_mib']:.0f} MiB in swap "
                 f"on average over the measured window, {base['swap_avg_mib'] / tot * 100:.0f}% "
                 f"of RSS + swap: what the machine's DAMON_RECLAIM paged out (memory idle "
                 f"~60 s), a live anchor at no slowdown, already in the baseline RSS."
                 + (f" Agent CPU, % of one core over the whole run: {', '.join(cpu)}."
                    if cpu else "")
                 + (f" Refaults (major faults) per minute in the measured window: "
                    f"{', '.join(rate)} (0.2% of the kernel alone's RSS is "
                    f"{base['rss_avg_mib'] * 256 * 0.002:.0f})." if rate else ""))
    return L


SLOS_PPM = (2000, 10000, 50000)


def frontier_lines(S, tier, workloads, configs):
    """Per objective run: what each cold age would have kept out at its end
    (pages idle at least that long) against the promotion rate the agent's
    histograms predicted for it, and so the most any age within each
    promotion SLO could save in that run: the bound the workload sets."""
    L = []
    for wl in workloads:
        base = S.get(("-", wl, "none"))
        for cfg in configs:
            s = S.get((tier, wl, cfg))
            if not s or not s.get("frontier"):
                continue
            pts = []
            for e in s["frontier"].split(";"):
                age, mib, ppm = e.split(":")
                pts.append((int(age), float(mib), int(ppm) if ppm else None))
            rss = base["rss_avg_mib"] if base and base.get("rss_avg_mib") else None

            def share(mib):
                return f"{mib:.0f} MiB" + (f" ({mib / rss * 100:.0f}%)" if rss else "")

            best = []
            for slo in SLOS_PPM:
                ok = [(mib, age) for age, mib, ppm in pts if ppm is not None and ppm <= slo]
                best.append(f"{slo / 1e4:g}%/min: {share(max(ok)[0])} at {max(ok)[1] / 1e3:.0f} s"
                            if ok else f"{slo / 1e4:g}%/min: no age predicted within it")
            steps = [f"{age / 1e3:.0f} s {share(mib)} "
                     f"{'?' if ppm is None else f'{ppm / 1e4:.2f}%/min'}"
                     for age, mib, ppm in pts[::4]]
            L.append(f"\n{wl}, {cfg}: at the agent's last reading in the run (every 15 s), "
                     f"the pages idle at least each cold age (share of the kernel alone's RSS) "
                     f"and the promotion rate the agent's "
                     f"histograms predicted for that age: {'; '.join(steps)}. The most any age "
                     f"could keep out within a promotion SLO of {'; '.join(best)}.")
    return L


def prefetch_section(S, tiers, workloads, configs):
    """Prefetchers against the kernel's readahead (`cgroup`) of the same run:
    wall-time speedup, pages read from swap, and for Leap its accuracy (used
    prefetches / prefetch reads) and coverage (used prefetches / pages the
    program needed from swap)."""
    L = []
    for tier in tiers:
        rows = []
        for wl in workloads:
            ref = S.get((tier, wl, "cgroup"))
            for cfg in configs:
                s = S.get((tier, wl, cfg))
                if not s or not ref or cfg in ("none", "jemalloc", "shim") or \
                        s.get("swap_reads") is None:
                    continue
                speed = (ref["runtime_s"] / s["runtime_s"]
                         if ref["runtime_s"] and s["runtime_s"] else None)
                acc = cov = None
                hits, major = s.get("prefetch_hits"), s.get("swapins")
                if hits is not None and major is not None:
                    fetched = s["swap_reads"] - major
                    acc = min(1.0, hits / fetched) if fetched > 0 else None
                    cov = hits / (hits + major) if hits + major > 0 else None
                rows.append(f"| {wl} | {cfg} | {fmt(s['runtime_s'], 2)} | "
                            f"{'±' + fmt(s['spread'] * 50, 0) + '%' if s['spread'] is not None else '–'} | "
                            f"{fmt(speed, 2) + 'x' if speed else '–'} | "
                            f"{fmt(None if s['swap_reads'] is None else int(s['swap_reads']))} | "
                            f"{fmt(None if major is None else int(major))} | "
                            f"{fmt(acc * 100, 0) + '%' if acc is not None else '–'} | "
                            f"{fmt(cov * 100, 0) + '%' if cov is not None else '–'} |")
        if rows:
            L.append(f"\n## Prefetch on {tier}: against the kernel's readahead\n")
            L.append("*vs readahead* = runtime(cgroup) / runtime: above 1 is faster than the "
                     "kernel's swap readahead (page-cluster as the machine has it) in the same "
                     "run. *Swap reads* = pages read from swap during the run (/proc/vmstat "
                     "pswpin, machine-wide); *majors* = the program's major faults. Leap: "
                     "*accuracy* = faults on its windows / (swap reads - majors), *coverage* = "
                     "faults on its windows / (those + majors).\n")
            L.append("| workload | config | runtime s | spread | vs readahead | swap reads "
                     "| majors | accuracy | coverage |")
            L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
            L += rows
    return L


def plots(outdir, stem, rows, tiers, workloads, configs):
    """Two clustered bar charts per tier: slowdown and average RSS, by
    workload, one bar per configuration."""
    if not shutil.which("gnuplot"):
        return "gnuplot not installed: no plots"
    S = summarize(rows)
    made = 0
    for tier in tiers:
        cfgs = [c for c in configs
                if any(S.get(("-", w, c)) or S.get((tier, w, c)) for w in workloads)]
        for kind, ylabel in (("slowdown", "runtime / runtime(none)"),
                             ("rss", "average RSS (MiB)")):
            dat = os.path.join(outdir, f".{stem}-{tier}-{kind}.dat")
            lines = ["workload " + " ".join(cfgs)]
            for wl in workloads:
                base = S.get(("-", wl, "none"))
                vals = []
                for c in cfgs:
                    s = S.get(("-", wl, c)) or S.get((tier, wl, c))
                    v = None
                    if s and s["status"] == "ok":
                        if kind == "slowdown" and base and base["runtime_s"] and s["runtime_s"]:
                            v = s["runtime_s"] / base["runtime_s"]
                        elif kind == "rss":
                            v = s["rss_avg_mib"]
                    vals.append("NaN" if v is None else f"{v:.4f}")
                lines.append(wl + " " + " ".join(vals))
            # drop configurations with no value at all (gnuplot refuses them)
            cols = list(zip(*[l.split() for l in lines]))
            keep = [cols[0]] + [c for c in cols[1:] if any(v != "NaN" for v in c[1:])]
            if len(keep) < 2:
                continue
            lines = [" ".join(r) for r in zip(*keep)]
            ncol = len(keep) - 1
            ymax = max([float(v) for c in keep[1:] for v in c[1:] if v != "NaN"] + [1.0])
            with open(dat, "w") as f:
                f.write("\n".join(lines) + "\n")
            png = os.path.join(outdir, f"{stem}-{tier}-{kind}.png")
            script = f"""
set terminal pngcairo size 1000,480 noenhanced font ',10'
set output '{png}'
set title '{kind} by workload, tier {tier}'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key outside right top autotitle columnhead
set ylabel '{ylabel}'
set grid ytics
set yrange [0:*]
{f"set logscale y 2; set yrange [0.5:{ymax * 1.5:.3f}]" if kind == "slowdown" else ""}
plot for [i=2:{ncol + 1}] '{dat}' using i:xtic(1)
"""
            r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
            os.unlink(dat)
            if r.returncode == 0:
                made += 1
            else:
                return f"gnuplot failed: {r.stderr.strip()[-200:]}"
        for wl in workloads:
            err = curve_plot(outdir, stem, S, tier, wl, configs)
            if err is None:
                continue
            if err:
                return err
            made += 1
    return f"{made} plots"


def curve_plot(outdir, stem, S, tier, wl, configs):
    """RSS saved against slowdown, one point per configuration, one colour
    per family: <stem>-<tier>-<wl>-saved.png. None if there are fewer than
    three configurations to show, "" when drawn, else gnuplot's error."""
    pts = saved_points(S, tier, wl, configs)
    if len(pts) < 3:
        return None
    dat = os.path.join(outdir, f".{stem}-{tier}-{wl}-saved.dat")
    with open(dat, "w") as f:
        for cfg, slow, _, saved in pts:
            fam = next((i for i, (_, m) in enumerate(FAMILIES) if m(cfg)), len(FAMILIES))
            f.write(f"{slow:.4f} {saved * 100:.2f} {fam} {cfg}\n")
    png = os.path.join(outdir, f"{stem}-{tier}-{wl}-saved.png")
    names = [n for n, _ in FAMILIES] + ["other"]
    plots = ", ".join(f"'{dat}' using ($3=={i} ? $1 : NaN):2 with points pt 7 ps 1.5 "
                      f"title '{n}'" for i, n in enumerate(names))
    script = f"""
set terminal pngcairo size 900,560 noenhanced font ',10'
set output '{png}'
set title 'RSS saved vs slowdown: {wl}, tier {tier}'
set xlabel 'slowdown (runtime / runtime alone)'
set ylabel 'RSS saved (%)'
set grid
set key outside right top
set arrow from 1.02, graph 0 to 1.02, graph 1 nohead dt 2
set arrow from 1.05, graph 0 to 1.05, graph 1 nohead dt 3
plot {plots}, '{dat}' using 1:2:4 with labels offset 0.8,0.8 left notitle
"""
    r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    os.unlink(dat)
    return "" if r.returncode == 0 else f"gnuplot failed: {r.stderr.strip()[-200:]}"


def write_timelines(outdir, stem, timelines):
    """The time series of one run per (tier, workload, configuration):
    <stem>-timeline.json (written as runs end; read by timeline_plots)."""
    with open(os.path.join(outdir, f"{stem}-timeline.json"), "w") as f:
        json.dump(timelines, f, separators=(",", ":"))


def timeline_plots(outdir, stem, configs):
    """One PNG per tier and workload from <stem>-timeline.json: RSS, swap,
    throughput and refaults (major faults) per second over time, one line
    per configuration (its first run): <stem>-<tier>-<wl>-timeline.png."""
    path = os.path.join(outdir, f"{stem}-timeline.json")
    try:
        with open(path) as f:
            tl = json.load(f)
    except (OSError, ValueError):
        return "no time series"
    if not shutil.which("gnuplot"):
        return "gnuplot not installed: no time-series plots"
    groups, tierless = {}, {}
    for key, v in tl.items():
        tier, wl, cfg = key.split("/", 2)
        if tier == "-":  # runs on no swap tier (none): in every tier's plot
            tierless.setdefault(wl, {})[cfg] = v
        else:
            groups.setdefault((tier, wl), {})[cfg] = v
    for wl, by_cfg in tierless.items():
        tiers = [t for t, w in groups if w == wl] or ["-"]
        for t in tiers:
            groups.setdefault((t, wl), {}).update(by_cfg)
    made = 0
    for (tier, wl), by_cfg in sorted(groups.items()):
        cfgs = [c for c in configs if c in by_cfg] + sorted(c for c in by_cfg if c not in configs)
        dats = []
        for i, cfg in enumerate(cfgs):
            v = by_cfg[cfg]
            mem = os.path.join(outdir, f".{stem}-tl-{i}-mem.dat")
            req = os.path.join(outdir, f".{stem}-tl-{i}-req.dat")
            with open(mem, "w") as f:
                prev = None
                for t, rss, swap, maj in v.get("mem", []):
                    rate = (maj - prev[1]) / (t - prev[0]) if prev and t > prev[0] else 0
                    f.write(f"{t} {rss} {swap} {rate:.1f}\n")
                    prev = (t, maj)
            off = v.get("series_offset_s", 0)
            with open(req, "w") as f:
                for row in v.get("series", []):
                    f.write(f"{row[0] + off:.1f} {row[1]:.0f} {row[2]:.1f}\n")
            dats.append((cfg, mem, req))
        png = os.path.join(outdir, f"{stem}-{tier}-{wl}-timeline.png")

        def panel(title, ylabel, col, which, last=False):
            lines = ", ".join(f"'{mem if which == 'mem' else req}' using 1:{col} with lines "
                              f"lw 1.5 title '{cfg}'" for cfg, mem, req in dats)
            return (f"set title '{title}'\nset ylabel '{ylabel}'\n"
                    + ("set xlabel 'seconds since the server started'\n" if last else
                       "unset xlabel\n") + f"plot {lines}\n")
        script = (f"set terminal pngcairo size 1000,1100 noenhanced font ',9'\n"
                  f"set output '{png}'\nset grid\nset key outside right top\nset xrange [0:*]\n"
                  f"set multiplot layout 4,1 title '{wl}, tier {tier}: one run of each "
                  f"configuration'\n"
                  + panel("RSS", "MiB", 2, "mem")
                  + panel("swap", "MiB", 3, "mem")
                  + panel("throughput (measured window)", "requests/s", 2, "req")
                  + panel("refaults (major faults)", "per second", 4, "mem", last=True)
                  + "unset multiplot\n")
        r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
        for _, mem, req in dats:
            os.unlink(mem)
            os.unlink(req)
        if r.returncode:
            return f"gnuplot failed: {r.stderr.strip()[-200:]}"
        made += 1
    return f"{made} time-series plots"

