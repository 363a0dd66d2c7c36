#!/usr/bin/python3
"""The fleet files (packaging/k8s, packaging/container) agree with the
program they deploy. No cluster and no image registry are reachable here,
so what can be checked is checked for real:
  - the manifests parse; every pageflexd option they pass exists in
    `pageflexd --help` (a renamed option fails this test), and so do the
    pageflexctl commands of the probes;
  - the DaemonSet has the unit's capability set (drop ALL, add exactly
    CapabilityBoundingSet of pageflexd.service), hostPID, and its paths line
    up: --config with the ConfigMap mount, --socket with the /run/pageflex
    hostPath, --metrics-listen with the port and the scrape annotations;
  - the ConfigMap's rules are the package's /etc/pageflex/pageflex.yaml;
  - the image's entry point, run for real, copies the shim and jemalloc
    into the run directory and execs pageflexd with its arguments;
  - the application pod's LD_PRELOAD, pointed at that copy, really loads
    both libraries from there (read back from /proc/PID/maps).
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

import yaml

B = os.environ["PAGEFLEX_BUILD_DIR"]
S = os.environ["PAGEFLEX_SOURCE_DIR"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def options(help_text):
    return set(re.findall(r"(--[a-z][a-z-]+)", help_text))


def main():
    docs = list(yaml.safe_load_all(open(f"{S}/packaging/k8s/pageflex.yaml")))
    by_kind = {d["kind"]: d for d in docs}
    check(set(by_kind) == {"Namespace", "ConfigMap", "DaemonSet"}, f"kinds {sorted(by_kind)}")
    ds, cm = by_kind["DaemonSet"], by_kind["ConfigMap"]
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c["args"]
    pflags = options(subprocess.run([f"{B}/bin/pageflexd", "--help"], capture_output=True,
                                    text=True, check=True).stdout)
    cflags_help = subprocess.run([f"{B}/bin/pageflexctl", "--help"], capture_output=True,
                                 text=True, check=True).stdout
    for a in args:
        if a.startswith("--"):
            check(a in pflags, f"DaemonSet passes {a}, which pageflexd --help lists")
    opt = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}

    # Capabilities: the unit's, no more.
    unit = open(f"{B}/packaging/pageflexd.service").read()
    caps = set(re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1).split())
    sc = c["securityContext"]
    check(sc["capabilities"]["drop"] == ["ALL"], "drops every capability first")
    check({"CAP_" + x for x in sc["capabilities"]["add"]} == caps,
          f"adds exactly the unit's {sorted(caps)}")
    check(pod.get("hostPID") is True, "hostPID")
    check(sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False,
          "not privileged")

    # Paths and ports.
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    cfg = opt["--config"]
    rules_mount = [m for m in mounts.values() if cfg.startswith(m["mountPath"] + "/")]
    check(len(rules_mount) == 1 and "configMap" in vols[rules_mount[0]["name"]] and
          vols[rules_mount[0]["name"]]["configMap"]["name"] == cm["metadata"]["name"] and
          os.path.basename(cfg) in cm["data"], f"--config {cfg} is the ConfigMap's file")
    pkg_rules = open(f"{S}/packaging/pageflex.yaml").read()
    check(cm["data"][os.path.basename(cfg)] == pkg_rules,
          "the ConfigMap holds packaging/pageflex.yaml (the package's /etc/pageflex/pageflex.yaml)")
    sock_dir = os.path.dirname(opt["--socket"])
    run = [m for m in mounts.values() if m["mountPath"] == sock_dir]
    check(len(run) == 1 and vols[run[0]["name"]]["hostPath"]["path"] == sock_dir,
          f"--socket {opt['--socket']} is on the {sock_dir} hostPath")
    port = int(opt["--metrics-listen"].rsplit(":", 1)[1])
    ann = ds["spec"]["template"]["metadata"]["annotations"]
    check(c["ports"][0]["containerPort"] == port and ann["prometheus.io/port"] == str(port) and
          ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/path"] == "/metrics",
          f"metrics port {port}: container port and scrape annotations")
    control = opt.get("--control", os.path.join(sock_dir, "control.sock"))
    check(not any(control.startswith(m["mountPath"] + "/") for m in mounts.values()),
          f"the control socket {control} is not on a volume application pods can mount")
    probe = c["readinessProbe"]["exec"]["command"]
    sub = [a for a in probe[1:] if not a.startswith("-") and a != control]
    check(probe[0] == "pageflexctl" and re.search(rf"^\s+{sub[0]}\b", cflags_help, re.M) and
          all(a in options(cflags_help) for a in probe if a.startswith("--")) and
          probe[probe.index("--socket") + 1] == control,
          f"readiness probe {' '.join(probe)} is a pageflexctl command on the control socket")
    check(c["livenessProbe"]["httpGet"]["path"] == "/metrics", "liveness probe scrapes /metrics")

    # The image.
    cf = open(f"{S}/packaging/container/Containerfile").read()
    cmd = yaml.safe_load(re.search(r"^CMD (.*)$", cf, re.M).group(1))
    for a in cmd:
        if a.startswith("--"):
            check(a in pflags, f"the image's CMD passes {a}, which pageflexd --help lists")
    check(cmd[cmd.index("--config") + 1] == cfg, "the image's default --config is the DaemonSet's")
    check("packaging/container/entrypoint.sh" in cf and
          os.access(f"{S}/packaging/container/entrypoint.sh", os.X_OK), "entry point is in the image")

    # The entry point, for real.
    with tempfile.TemporaryDirectory() as d:
        libdir, rundir = f"{d}/lib", f"{d}/run"
        os.mkdir(libdir)
        jemalloc = subprocess.run(["sh", "-c", "ldd " + shlex.quote(f"{B}/lib/libpageflex.so") +
                                   " | awk '/libjemalloc.so.2/ {print $3}'"],
                                  capture_output=True, text=True).stdout.strip()
        check(os.path.isfile(jemalloc), f"the shim links {jemalloc}")
        os.symlink(f"{B}/lib/libpageflex.so", f"{libdir}/libpageflex.so")
        os.symlink(jemalloc, f"{libdir}/libjemalloc.so.2")
        r = subprocess.run([f"{S}/packaging/container/entrypoint.sh", "--help"],
                           capture_output=True, text=True,
                           env=dict(os.environ, PAGEFLEX_RUN_DIR=rundir, PAGEFLEX_LIBDIR=libdir,
                                    PAGEFLEXD=f"{B}/bin/pageflexd"))
        check(r.returncode == 0 and r.stdout.startswith("Usage: pageflexd"),
              "entry point execs pageflexd with its arguments")
        for lib in ("libpageflex.so", "libjemalloc.so.2"):
            p = f"{rundir}/lib/{lib}"
            check(os.path.isfile(p) and not os.path.islink(p) and
                  os.stat(p).st_mode & 0o777 == 0o644, f"entry point copied {lib} (0644)")

        # The application pod's snippet, against that copy.
        app = yaml.safe_load(open(f"{S}/packaging/k8s/example-app.yaml"))
        ac = app["spec"]["containers"][0]
        env = {e["name"]: e["value"] for e in ac["env"]}
        check(env["PAGEFLEX_SOCKET"] == opt["--socket"], "the pod's PAGEFLEX_SOCKET is the agent's")
        avol = app["spec"]["volumes"][0]["hostPath"]["path"]
        check(avol == sock_dir and ac["volumeMounts"][0]["mountPath"] == sock_dir and
              ac["volumeMounts"][0].get("readOnly") is True,
              f"the pod mounts the agent's {sock_dir}, read-only")
        preload = env["LD_PRELOAD"].split()
        check([os.path.basename(p) for p in preload] == ["libpageflex.so", "libjemalloc.so.2"],
              "LD_PRELOAD: the shim first, then jemalloc")
        local = " ".join(p.replace(sock_dir, rundir, 1) for p in preload)
        proc = subprocess.Popen(["/bin/sleep", "5"], env=dict(os.environ, LD_PRELOAD=local,
                                                            PAGEFLEX_LOG="off"))
        maps = ""
        for _ in range(50):
            time.sleep(0.05)
            maps = open(f"/proc/{proc.pid}/maps").read()
            if "libpageflex.so" in maps:
                break
        proc.kill()
        proc.wait()
        for lib in ("libpageflex.so", "libjemalloc.so.2"):
            paths = {ln.split()[-1] for ln in maps.splitlines() if ln.endswith(lib)}
            check(paths == {f"{rundir}/lib/{lib}"}, f"the pod's LD_PRELOAD maps {lib} from the "
                  f"run directory only: {sorted(paths)}")

    print("FAIL" if failures else "PASS", f"({len(failures)} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
