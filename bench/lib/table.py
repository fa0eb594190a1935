"""Medians table, ratios to the best peer and bar checks from bench/run.sh's CSV.

Usage: table.py RESULTS.csv FILES STAGE_MIB BIG_MIB BIGGER_MIB MANY FILE_MIB SMALL_FILE_MIB CHAIN PARALLEL
Run 0 is the warm-up and is left out; a case where every run of a tool failed shows FAIL. The peers are every
tool but img (buildah, docker); each row's ratio is img over the fastest peer of that row. The namespace-less rungs
(img-proot, img-proot-root; cases (a) and (d) only) are not peers: they have their own table, as a multiple of the
host img build, against issue 15's aims.
"""
import csv
import statistics
import sys
from collections import defaultdict

path = sys.argv[1]
files, stage_mb, big_mb, bigger_mb, many, file_mb, small_file_mb, chain, parallel = sys.argv[2:11]
secs = defaultdict(dict)    # (case, tool) -> run -> seconds
peak = defaultdict(dict)    # (case, tool) -> run -> KiB
cpu = defaultdict(dict)     # (case, tool) -> run -> (user+sys)/wall
loads = defaultdict(list)   # case -> 1-minute load averages before its timed runs
failed = set()
tools_seen = []
with open(path) as f:
    for row in csv.DictReader(f):
        key, run = (row["case"], row["tool"]), int(row["run"])
        if row["tool"] not in tools_seen and row["tool"] != "host":
            tools_seen.append(row["tool"])
        if run < 1:
            continue
        if row.get("load1"):
            loads[row["case"]].append(float(row["load1"]))
        if row["status"] != "ok":
            failed.add(key)
            continue
        if not row["seconds"]:
            continue
        s = float(row["seconds"])
        secs[key][run] = s
        if row["peak_kib"]:
            peak[key][run] = int(row["peak_kib"])
        if row["user_s"] and s > 0:
            cpu[key][run] = (float(row["user_s"]) + float(row["sys_s"])) / s

tools = [t for t in ("img", "buildah", "docker") if t in tools_seen]
peers = [t for t in tools if t != "img"]
rungs = [t for t in ("img-proot", "img-proot-root") if t in tools_seen]
rung_aims = {"a": 1.5, "d": 2.0}   # the rung's time at most this multiple of the host img build's


def median(d):
    return statistics.median(d.values()) if d else None


def summed(case_names, tool):
    """Median over runs of the per-run sum of several steps (only runs where all steps passed)."""
    runs = set.intersection(*(set(secs[(c, tool)]) for c in case_names))
    return statistics.median(sum(secs[(c, tool)][r] for c in case_names) for r in runs) if runs else None


rows = [
    ("a", f"(a) cold COPY {files} files + RUN", ["a"]),
    ("i", f"(i) cold COPY {int(many):,} files + RUN", ["i"]),
    ("b", f"(b) 3 parallel stages ({stage_mb} MiB hash + sleep 2)", ["b"]),
    ("c", f"(c) {big_mb} MiB RUN layer: build + push", ["c-build", "c-push"]),
    ("c-push", f"(c) {big_mb} MiB layer: push alone", ["c-push"]),
    ("d", "(d) Debian + apt-get install jq", ["d"]),
    ("e", "(e) no-op rebuild of (a)", ["e"]),
    ("f", "(f) rebuild of (a), one file changed", ["f"]),
    ("g", f"(g) pull {big_mb} MiB image, empty state", ["g"]),
    ("h", "(h) version (start-up; docker: client)", ["h"]),
    ("j", f"(j) cold COPY one {file_mb} MiB file", ["j"]),
    ("k", f"(k) cold {chain}-stage COPY --from chain", ["k"]),
    ("l", "(l) no-op rebuild, base on TLS registry", ["l"]),
    ("m-one", "(m) one small build, base stored", ["m-one"]),
    ("m-ten", f"(m) {parallel} such builds at once, total", ["m-ten"]),
    ("n1", "(n) cold FROM + 1 RUN true", ["n1"]),
    ("n10", "(n) cold FROM + 10 RUN true", ["n10"]),
]
results = {}


def cell(v, key_cases, tool):
    if v is not None:
        return f"{v:9.3f}"
    if any((c, tool) in failed for c in key_cases):
        return "     FAIL"
    return "        -"


def load_text(parts):
    ls = [x for c in parts for x in loads.get(c, [])]
    return f"{min(ls):.1f}-{max(ls):.1f}" if ls else ""


print()
head = f"{'case':<44}" + "".join(f" {t + ' s':>9}" for t in tools) + f" {'img/best':>9} {'best peer':>10} {'load':>9}"
print(head)
print("-" * len(head))
for key, label, parts in rows:
    values = {t: summed(parts, t) for t in tools}
    if all(v is None for v in values.values()) and not any((c, t) in failed for c in parts for t in tools):
        continue
    best = min(((values[t], t) for t in peers if values[t]), default=None)
    results[key] = (values, best)
    ratio = f"{values['img'] / best[0]:9.2f}" if best and values.get("img") is not None else f"{'-':>9}"
    print(f"{label:<44}" + "".join(f" {cell(values[t], parts, t)}" for t in tools)
          + f" {ratio} {best[1] if best else '-':>10} {load_text(parts):>9}")


def mib(key):
    v = median(peak[key])
    return f"{v / 1024:7.1f} MiB" if v is not None else ("   FAIL    " if key in failed else "      -    ")


print()
print("peak memory (max RSS of one process of the tool's tree, /usr/bin/time %M), median; docker's work is")
print("done in its daemon, outside the measured command, so it has no column")
mem_tools = [t for t in tools if t != "docker"]
print(f"{'':<44}" + "".join(f" {t:>11}" for t in mem_tools))
for key, label in [("c-build", f"(c) build, {big_mb} MiB layer"), ("c-push", f"(c) push, {big_mb} MiB layer"),
                   ("g", f"(g) pull, {big_mb} MiB image"), ("c2-build", f"(c) build, {bigger_mb} MiB layer"),
                   ("c2-push", f"(c) push, {bigger_mb} MiB layer"), ("j-small", f"(j) COPY one {small_file_mb} MiB file"),
                   ("j", f"(j) COPY one {file_mb} MiB file"), ("a", f"(a) COPY {files} files"),
                   ("i", f"(i) COPY {int(many):,} files")]:
    if any(peak[(key, t)] for t in mem_tools):
        print(f"{label:<44}" + "".join(f" {mib((key, t)):>11}" for t in mem_tools))

if rungs:
    print()
    print("namespace-less rungs beside the host img build, median s and the multiple of img's (img-proot: a user")
    print("without subordinate ids, owners recorded by img; img-proot-root: root, docker's default capabilities,")
    print("IMG_ISOLATION=proot); peak memory as above (max RSS of one process)")
    head = f"{'case':<44} {'img s':>9}" + "".join(f" {t + ' s':>16} {'x img':>6}" for t in rungs) + f" {'aim':>5}"
    print(head)
    print("-" * len(head))
    for key, label, parts in rows:
        if key not in rung_aims:
            continue
        host = summed(parts, "img")
        values = {t: summed(parts, t) for t in rungs}
        if host is None and all(v is None for v in values.values()) \
                and not any((c, t) in failed for c in parts for t in ["img", *rungs]):
            continue
        line = f"{label:<44} {cell(host, parts, 'img')}"
        for t in rungs:
            ratio = f"{values[t] / host:6.2f}" if host and values[t] is not None else f"{'-':>6}"
            line += f" {cell(values[t], parts, t):>16} {ratio}"
        print(line + f" {'x' + str(rung_aims[key]):>5}")
        print(f"{'  peak memory':<44} {mib((key, 'img')).strip():>9}"
              + "".join(f" {mib((key, t)).strip():>16} {'':>6}" for t in rungs))

curve = sorted({int(c.split("-")[1]) for c, _ in secs if c.startswith("curve-")})
if curve:
    print()
    print("file-count curve: cold COPY of N files in 200 dirs + RUN, median time (s) and img's peak memory")
    ctools = [t for t in tools if any(secs[(f"curve-{n}", t)] for n in curve)]
    print(f"{'files':>8}" + "".join(f" {t + ' s':>9}" for t in ctools) + f" {'img MiB':>9} {'img s/1k':>9}")
    for n in curve:
        c = f"curve-{n}"
        times = "".join(f" {median(secs[(c, t)]) or float('nan'):9.3f}" for t in ctools)
        pk = median(peak[(c, "img")])
        it = median(secs[(c, "img")])
        print(f"{n:>8}{times} {pk / 1024 if pk else float('nan'):9.1f} {1000 * it / n if it else float('nan'):9.3f}")

print()
print("bars")


def bar(ok, text):
    print(f"  [{'ok' if ok else 'MISSED'}] {text}")


for key, label, _ in rows:
    if key not in results:
        continue
    values, best = results[key]
    i = values.get("img")
    if i is not None and best:
        bar(i / best[0] <= 1.0, f"{label}: img/{best[1]} {i / best[0]:.2f} <= 1.0")


def img_vs(key, peer):
    if key in results and results[key][0].get("img") is not None and results[key][0].get(peer):
        return results[key][0]["img"], results[key][0][peer]
    return None


if (v := img_vs("i", "docker")):
    bar(v[0] <= 0.8 * v[1], f"(i) {int(many):,}-file COPY: img {v[0]:.2f} s <= 0.8 x BuildKit {v[1]:.2f} s (x{v[0] / v[1]:.2f})")
if (v := img_vs("d", "docker")):
    bar(v[0] <= 0.95 * v[1], f"(d) apt: img {v[0]:.2f} s <= 0.95 x BuildKit {v[1]:.2f} s (x{v[0] / v[1]:.2f})")
if "l" in results and results["l"][0].get("img") is not None:
    i = results["l"][0]["img"]
    bar(i <= 0.10, f"(l) no-op rebuild, TLS base: img {i:.3f} s <= 0.10 s")
if "e" in results and results["e"][0].get("img") is not None:
    i = results["e"][0]["img"]
    bar(i < 0.25, f"(e) no-op rebuild {i:.3f} s < 0.25 s")
for key, label, parts in rows:
    host = summed(parts, "img") if key in rung_aims else None
    for t in rungs if host else []:
        v = summed(parts, t)
        if v is not None:
            bar(v <= rung_aims[key] * host,
                f"{label}: {t} {v:.2f} s <= {rung_aims[key]} x host img {host:.2f} s (x{v / host:.2f})")
for t in tools:
    one, ten = summed(["m-one"], t), summed(["m-ten"], t)
    slow = median(secs[("m-slowest", t)])
    if one and ten:
        text = f"(m) {t}: {parallel} at once {ten:.2f} s (slowest {slow:.2f} s) vs one {one:.2f} s: x{ten / one:.2f}"
        if t == "img":
            bar(ten <= 4 * one, text + " <= x4")
        else:
            print(f"  [info] {text}")
for t in tools:
    one, ten = summed(["n1"], t), summed(["n10"], t)
    if one and ten:
        print(f"  [info] (n) {t}: per trivial RUN step {(ten - one) / 9 * 1000:.0f} ms ((10 steps - 1 step) / 9)")
stage = median(secs[("b-stage", "host")])
i = results.get("b", ({}, None))[0].get("img")
if i is not None and stage:
    bar(i <= 1.2 * stage, f"(b) {i:.2f} s within 20% of one stage's own time {stage:.2f} s (limit {1.2 * stage:.2f} s)")
three = median(secs[("b-stages", "host")])
if i is not None and three:
    print(f"  [info] (b) the three stages' commands at once on the host, no builder: {three:.2f} s; img {i - three:+.2f} s over that")
floor = median(secs[("d-floor", "host")])
d_times = results.get("d", ({}, None))[0]
if floor:
    over = ", ".join(f"{t} {d_times[t] - floor:+.2f} s" for t in tools if d_times.get(t) is not None)
    print(f"  [info] (d) the same apt-get run directly in a chroot of the same rootfs, no builder: {floor:.2f} s; over that: {over}")
c = median(cpu[("c-build", "img")])
if c is not None:
    print(f"  [info] (c) img build used {c:.2f} cores on average over its wall time")
for key, label in [(("c-build", "img"), "(c) build"), (("c-push", "img"), "(c) push"), (("g", "img"), "(g) pull")]:
    v = median(peak[key])
    if v is not None:
        bar(v < 150 * 1024, f"{label} peak memory {v / 1024:.1f} MiB < 150 MiB")
for small, big, label, limit in [("c-build", "c2-build", f"(c) build {big_mb} -> {bigger_mb} MiB layer", 1.15),
                                 ("c-push", "c2-push", f"(c) push {big_mb} -> {bigger_mb} MiB layer", 1.15),
                                 ("j-small", "j", f"(j) COPY {small_file_mb} -> {file_mb} MiB file", 1.10)]:
    a, b = median(peak[(small, "img")]), median(peak[(big, "img")])
    if a and b:
        bar(b <= a * limit, f"{label}: img memory {a / 1024:.1f} -> {b / 1024:.1f} MiB (x{b / a:.2f}, limit x{limit:.2f})")
if len(curve) >= 2:
    a, b = median(peak[(f"curve-{curve[0]}", "img")]), median(peak[(f"curve-{curve[-1]}", "img")])
    if a and b:
        bar(b <= a * 1.10, f"curve {curve[0]} -> {curve[-1]} files: img memory {a / 1024:.1f} -> {b / 1024:.1f} MiB (x{b / a:.2f}, limit x1.10)")
