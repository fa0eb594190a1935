#!/usr/bin/env bash
# Cache sharing between two machines: a cold build in an empty state dir ("machine A") that exports its
# cache to a loopback registry, against the same build in another empty state dir ("machine B") that
# imports it. The Dockerfile's RUN sleeps 5 s and writes 50 MiB of random data, so a hit is visible.
# Usage: sudo bash bench/cache/run.sh [runs]   (img from $IMG, default out/img; publish it first)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(dirname "$here")
runs=${1:-3}
user=${IMG_TEST_USER:-imgtest}
timeout_s=600
work=$(mktemp -d /var/tmp/img-cache-bench.XXXXXX)
chmod 755 "$work"
csv=$work/times.csv
registry_pid=
trap '[ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; rm -rf "$work"' EXIT
# shellcheck source=../lib/common.sh
source "$here/lib/common.sh"
user_cmd_init
mkdir -p "$work/logs"
user_dir "$work/xdg" "$work/tmp"

# A private copy: a colleague republishing out/ cannot change the binary mid-run.
cp "${IMG:-$root/out/img}" "$work/img"
chmod 755 "$work/img"
start_registry "$work/registry"

ctx=$work/ctx
mkdir -p "$ctx"
cp /bin/busybox "$ctx/"
cat > "$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN sleep 5 && head -c 52428800 /dev/urandom > /blob
EOF
chown -R "$user:" "$ctx"

digest_of() { as_user "$work/img" -s "$1" ls | awk -F'\t' '$1 ~ /bench:v1/ { print $NF }'; }

echo "== cache sharing: $runs runs, registry $registry, work $work" >&2
for r in $(seq "$runs"); do
  plain=$work/plain$r a=$work/a$r b=$work/b$r
  user_dir "$plain" "$a" "$b"
  ref=$registry/bench/cache:run$r
  measure cold-plain img "$r" "$work/img" -s "$plain" build --no-console -t bench:v1 "$ctx"
  measure cold-export img "$r" "$work/img" -s "$a" build --no-console -t bench:v1 --cache-to "type=registry,ref=$ref,mode=max" "$ctx"
  measure hit-import img "$r" "$work/img" -s "$b" build --no-console -t bench:v1 --cache-from "$ref" "$ctx"
  log=$work/logs/hit-import.img.$r.log
  if ! grep -Eq 'RUN sleep 5[^#]*#[0-9]+ CACHED' <(tr '\n' ' ' < "$log"); then
    echo "run $r: machine B ran the RUN step instead of using the cache:" >&2; tail -20 "$log" >&2; exit 1
  fi
  [ "$(digest_of "$a")" = "$(digest_of "$b")" ] || { echo "run $r: A and B made different images" >&2; exit 1; }
  rm -rf "$plain" "$a" "$b"
done

python3 - "$csv" "$runs" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r[7] == "ok"]
names = {"cold-plain": "A: cold build, no cache flags",
         "cold-export": "A: cold build + --cache-to registry (mode=max)",
         "hit-import": "B: empty state, --cache-from registry"}
print(f"cache sharing, runs={sys.argv[2]} (median seconds; RUN = sleep 5 + 50 MiB random)")
for case, label in names.items():
    secs = [float(r[3]) for r in rows if r[0] == case]
    if secs:
        print(f"  {label:48} {statistics.median(secs):7.2f}   (all: {' '.join(f'{s:.2f}' for s in secs)})")
PY
