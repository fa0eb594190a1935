"""Medians table and bar checks from bench/run.sh's CSV.

Usage: table.py RESULTS.csv FILES STAGE_MIB BIG_MIB BIGGER_MIB
Run 0 is the warm-up and is left out; a case where every run of a tool failed shows FAIL.
"""
import csv
import statistics
import sys
from collections import defaultdict

path, files, stage_mb, big_mb, bigger_mb = sys.argv[1], *sys.argv[2:6]
secs = defaultdict(dict)    # (case, tool) -> run -> seconds
peak = defaultdict(dict)    # (case, tool) -> run -> KiB
cpu = defaultdict(dict)     # (case, tool) -> run -> (user+sys)/wall
failed = set()
with open(path) as f:
    for row in csv.DictReader(f):
        key, run = (row["case"], row["tool"]), int(row["run"])
        if run < 1:
            continue
        if row["status"] != "ok":
            failed.add(key)
            continue
        s = float(row["seconds"])
        secs[key][run] = s
        if row["peak_kib"]:
            peak[key][run] = int(row["peak_kib"])
        if row["user_s"] and s > 0:
            cpu[key][run] = (float(row["user_s"]) + float(row["sys_s"])) / s


def median(d):
    return statistics.median(d.values()) if d else None


def summed(case_names, tool):
    """Median over runs of the per-run sum of several steps (only runs where all steps passed)."""
    runs = set.intersection(*(set(secs[(c, tool)]) for c in case_names))
    return statistics.median(sum(secs[(c, tool)][r] for c in case_names) for r in runs) if runs else None


rows = [
    ("a", f"(a) cold COPY {files} files + RUN", ["a"]),
    ("b", f"(b) 3 parallel stages ({stage_mb} MiB hash + sleep 2)", ["b"]),
    ("c", f"(c) {big_mb} MiB layer: build + push", ["c-build", "c-push"]),
    ("c-push", f"(c) {big_mb} MiB layer: push alone", ["c-push"]),
    ("d", "(d) Debian + apt-get install jq", ["d"]),
    ("e", "(e) no-op rebuild of (a)", ["e"]),
    ("f", "(f) rebuild of (a), one file changed", ["f"]),
    ("g", f"(g) pull {big_mb} MiB image, empty state", ["g"]),
    ("h", "(h) version (start-up)", ["h"]),
]
results = {}


def cell(v, key_cases, tool):
    if v is not None:
        return f"{v:8.3f}"
    if any((c, tool) in failed for c in key_cases):
        return "    FAIL"
    return "       -"


print()
print(f"{'case':<46} {'img s':>8} {'buildah s':>10} {'img/buildah':>12}")
print("-" * 79)
for key, label, parts in rows:
    i, b = summed(parts, "img"), summed(parts, "buildah")
    results[key] = (i, b)
    ratio = f"{i / b:12.2f}" if i is not None and b else f"{'-':>12}"
    print(f"{label:<46} {cell(i, parts, 'img')} {cell(b, parts, 'buildah'):>10} {ratio}")


def mib(key):
    v = median(peak[key])
    return f"{v / 1024:7.1f} MiB" if v is not None else ("   FAIL    " if key in failed else "      -    ")


print()
print("peak memory (max RSS of the tool's process tree, /usr/bin/time %M), median")
print(f"{'':<46} {'img':>11} {'buildah':>11}")
for key, label in [("c-build", f"(c) build, {big_mb} MiB layer"), ("c-push", f"(c) push, {big_mb} MiB layer"),
                   ("g", f"(g) pull, {big_mb} MiB image")]:
    print(f"{label:<46} {mib((key, 'img')):>11} {mib((key, 'buildah')):>11}")
for key, label in [("c2-build", f"(c) build, {bigger_mb} MiB layer"), ("c2-push", f"(c) push, {bigger_mb} MiB layer")]:
    print(f"{label:<46} {mib((key, 'img')):>11}")

print()
print("bars")


def bar(ok, text):
    print(f"  [{'ok' if ok else 'MISSED'}] {text}")


for key, label, _ in rows:
    i, b = results[key]
    if i is not None and b:
        bar(i / b <= 1.0, f"{label}: img/buildah {i / b:.2f} <= 1.0")
i = results["e"][0]
if i is not None:
    bar(i < 0.25, f"(e) no-op rebuild {i:.3f} s < 0.25 s")
stage = median(secs[("b-stage", "host")])
i = results["b"][0]
if i is not None and stage:
    bar(i <= 1.2 * stage, f"(b) {i:.2f} s within 20% of one stage's own time {stage:.2f} s (limit {1.2 * stage:.2f} s)")
three = median(secs[("b-stages", "host")])
if i is not None and three:
    print(f"  [info] (b) the three stages' commands at once on the host, no builder: {three:.2f} s; img {i - three:+.2f} s over that")
c = median(cpu[("c-build", "img")])
if c is not None:
    print(f"  [info] (c) img build used {c:.2f} cores on average over its wall time")
for key, label in [(("c-build", "img"), "(c) build"), (("c-push", "img"), "(c) push"), (("g", "img"), "(g) pull")]:
    v = median(peak[key])
    if v is not None:
        bar(v < 150 * 1024, f"{label} peak memory {v / 1024:.1f} MiB < 150 MiB")
for small, big, label in [("c-build", "c2-build", "build"), ("c-push", "c2-push", "push")]:
    a, b = median(peak[(small, "img")]), median(peak[(big, "img")])
    if a and b:
        bar(b <= a * 1.15, f"(c) {label} memory flat: {bigger_mb} MiB layer {b / 1024:.1f} MiB vs {big_mb} MiB {a / 1024:.1f} MiB (x{b / a:.2f}, limit x1.15)")
