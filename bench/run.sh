#!/usr/bin/env bash
# img beside buildah: the same Dockerfiles, the same unprivileged user, the same host network
# and the same loopback registry; medians of several alternating runs after one warm-up.
# Usage: sudo bash bench/run.sh [--runs N] [--quick] [--keep]
#   --runs N   timed runs per case and tool (default 3), after one untimed warm-up
#   --quick    smoke check: 1 run, no warm-up, small sizes (under 5 minutes)
#   --keep     keep the work directory (states, logs) instead of deleting it
# Results: bench/results/<stamp>.csv (every timing), bench/results/<stamp>.txt (the table).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

runs=3 quick=0 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --quick) quick=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "run as root (sudo bash bench/run.sh): it installs packages and runs both tools as the user imgtest" >&2
  exit 1
fi

# Sizes. --quick shrinks the data, not the shape of the cases.
warmup=1 files=2000 stage_mb=32 big_mb=300 bigger_mb=600 timeout_s=600
if [ "$quick" = 1 ]; then runs=1 warmup=0 big_mb=64 bigger_mb=128 timeout_s=180; fi
user=${IMG_TEST_USER:-imgtest}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cache=/var/tmp/img-bench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$cache" "$here/results"
csv="$here/results/$stamp.csv"
table="$here/results/$stamp.txt"
echo "case,tool,run,seconds,peak_kib,user_s,sys_s,status" > "$csv"

source "$here/lib/common.sh"
source "$here/lib/context.sh"
source "$here/lib/debian.sh"

echo "== machine set-up"
bash "$repo/tools/setup-machine.sh"
need=()
for p in buildah debootstrap hyperfine time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== publishing img (NativeAOT)"
(cd "$repo" && dotnet publish src/Img.Cli -c Release -o out --nologo -v quiet)

# The work directory sits in /var/tmp (same disk as the user's home) and belongs to the user;
# each tool's state for a cold case is a fresh directory in it.
work=$(mktemp -d "$cache/run.XXXXXX")
registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "work directory kept: $work"; fi
}
trap cleanup EXIT
user_cmd_init
mkdir -p "$work/logs"
user_dir "$work" "$work/xdg" "$work/tmp" "$work/st" "$work/ctx"
chmod 700 "$work/xdg"
: > "$work/failures.txt"
# A private copy of the binary: others may republish out/ while the bench runs.
install -m 755 "$repo/out/img" "$work/img"
img="$work/img"

# Tool front ends: each sets the array $cmd to one command line. Every command names its own
# state, so nothing is shared between runs. buildah runs rootless with chroot isolation (no
# cgroups or runtime needed) on native overlay; --layers caches like img, --jobs 3 runs stages
# in parallel, and the loopback registry is plain HTTP (--tls-verify=false; img detects it).
state_args() { # state_args TOOL STATE
  if [ "$1" = img ]; then echo "$img --state $2"; else echo "buildah --root $2/root --runroot $2/run --storage-driver overlay"; fi
}
set_build() { # set_build TOOL STATE TAG DOCKERFILE CONTEXT BUILD-FLAGS...
  local t=$1 st=$2 tag=$3 df=$4 ctx=$5; shift 5
  read -r -a cmd <<< "$(state_args "$t" "$st")"
  if [ "$t" = img ]; then cmd+=(build --no-console)
  else cmd+=(bud --layers --jobs 3 --isolation chroot --network host --tls-verify=false); fi
  cmd+=(-t "$tag" -f "$df" "$@" "$ctx")
}
set_push() { # set_push TOOL STATE REF
  read -r -a cmd <<< "$(state_args "$1" "$2")"
  if [ "$1" = img ]; then cmd+=(push "$3"); else cmd+=(push --tls-verify=false "$3" "docker://$3"); fi
}
set_pull() { # set_pull TOOL STATE REF
  read -r -a cmd <<< "$(state_args "$1" "$2")"
  if [ "$1" = img ]; then cmd+=(pull "$3"); else cmd+=(pull --tls-verify=false "docker://$3"); fi
}

fresh() { # fresh CASE TOOL RUN: a new empty state directory for one cold run
  local d="$work/st/$1-$2-$3"
  rm -rf "$d"; user_dir "$d"; echo "$d"
}
drop() { rm -rf "$1"; }

# tools_in_order RUN: img first on odd runs, buildah first on even runs.
tools_in_order() { if [ $(($1 % 2)) = 1 ]; then echo "img buildah"; else echo "buildah img"; fi; }
run_ids() { seq $((1 - warmup)) "$runs"; }   # 0 is the untimed warm-up

echo "== loopback registry"
start_registry "$work/registry"
echo "registry at $registry"

echo "== base images (offline), pushed to the registry for both tools"
user_dir "$work/ctx/busybox" "$work/ctx/empty"
cp /bin/busybox "$work/ctx/busybox/busybox"
chown -R "$user:" "$work/ctx"
seed=$(fresh seed img 0)
bb="$registry/bench/busybox:1"
{ set_build img "$seed" "$bb" "$here/cases/busybox-base.Dockerfile" "$work/ctx/busybox" && as_user "${cmd[@]}" \
  && set_push img "$seed" "$bb" && as_user "${cmd[@]}"; } > "$work/logs/seed-busybox.log" 2>&1 \
  || { tail "$work/logs/seed-busybox.log"; echo "could not make the busybox base" >&2; exit 1; }
debian=""
debian_note=""
if debian_tar=$(debian_rootfs_tar "$cache" 2>"$work/logs/debootstrap.err"); then
  cp "$debian_tar" "$work/ctx/debian.tar"; chown "$user:" "$work/ctx/debian.tar"
  set_push img "$seed" "$registry/bench/debian:bookworm"
  if { as_user "$img" --state "$seed" import "$work/ctx/debian.tar" "$registry/bench/debian:bookworm" \
       && as_user "${cmd[@]}"; } > "$work/logs/seed-debian.log" 2>&1; then
    debian="$registry/bench/debian:bookworm"
  else
    debian_note="case d skipped: importing the Debian tarball into img failed: $(tail -2 "$work/logs/seed-debian.log" | tr '\n' ' ')"
  fi
  rm -f "$work/ctx/debian.tar"
else
  debian_note="case d skipped: $(cat "$work/logs/debootstrap.err")"
fi
drop "$seed"
[ -n "$debian_note" ] && echo "$debian_note"
make_context "$work/ctx/a" "$files"
chown -R "$user:" "$work/ctx/a"

cold_build() { # cold_build CASE DOCKERFILE CONTEXT BUILD-ARGS...: fresh state per run
  local c=$1 df=$2 ctx=$3; shift 3
  local r t st
  for r in $(run_ids); do
    for t in $(tools_in_order "$r"); do
      st=$(fresh "$c" "$t" "$r")
      set_build "$t" "$st" "bench/$c-$t:$r" "$df" "$ctx" "$@"
      measure "$c" "$t" "$r" "${cmd[@]}" || true
      drop "$st"
    done
  done
}

echo "== (a) cold: COPY $files files + RUN"
cold_build a "$here/cases/a-copy-context.Dockerfile" "$work/ctx/a" --build-arg "BASE=$bb"

echo "== (b) three parallel stages of ${stage_mb} MiB hashing + sleep 2"
# The bar for (b) is the time of one stage's own command, measured here on the host with the
# same busybox applets the stage runs (busybox sha256sum is slower than coreutils').
for r in $(run_ids); do
  measure b-stage host "$r" /bin/busybox sh -c \
    "/bin/busybox head -c $((stage_mb * 1048576)) /dev/urandom | /bin/busybox sha256sum >/dev/null && sleep 2" || true
  # The same three commands at once, with no builder: what the cores allow before any builder overhead.
  measure b-stages host "$r" /bin/busybox sh -c \
    "for s in 1 2 3; do /bin/busybox sh -c '/bin/busybox head -c $((stage_mb * 1048576)) /dev/urandom | /bin/busybox sha256sum >/dev/null && sleep 2' & done; wait" || true
done
cold_build b "$here/cases/b-parallel-stages.Dockerfile" "$work/ctx/empty" --build-arg "BASE=$bb" --build-arg "MB=$stage_mb"

echo "== (c) ${big_mb} MiB layer: build, then push"
pulled=""
for r in $(run_ids); do
  for t in $(tools_in_order "$r"); do
    st=$(fresh c "$t" "$r")
    ref="$registry/bench/big-$t-$r:1"
    set_build "$t" "$st" "$ref" "$here/cases/c-big-layer.Dockerfile" "$work/ctx/empty" \
      --build-arg "BASE=$bb" --build-arg "MB=$big_mb"
    if measure c-build "$t" "$r" "${cmd[@]}"; then
      set_push "$t" "$st" "$ref"
      if measure c-push "$t" "$r" "${cmd[@]}" && [ "$t" = img ]; then pulled=$ref; fi
    fi
    drop "$st"
  done
done

echo "== (d) Debian base + apt-get install"
if [ -n "$debian" ]; then
  cold_build d "$here/cases/d-apt-install.Dockerfile" "$work/ctx/empty" --build-arg "BASE=$debian"
fi

echo "== (e) no-op rebuild of (a), (f) rebuild after one changed file"
declare -A warm
for t in img buildah; do
  warm[$t]=$(fresh warm "$t" 0)
  set_build "$t" "${warm[$t]}" "bench/a-$t:warm" "$here/cases/a-copy-context.Dockerfile" "$work/ctx/a" --build-arg "BASE=$bb"
  measure a-warm "$t" 0 "${cmd[@]}" || true
done
for r in $(run_ids); do
  for t in $(tools_in_order "$r"); do
    set_build "$t" "${warm[$t]}" "bench/a-$t:warm" "$here/cases/a-copy-context.Dockerfile" "$work/ctx/a" --build-arg "BASE=$bb"
    measure e "$t" "$r" "${cmd[@]}" || true
  done
done
for r in $(run_ids); do
  echo "change $r" >> "$work/ctx/a/top07/leaf3/file5.txt"
  for t in $(tools_in_order "$r"); do
    set_build "$t" "${warm[$t]}" "bench/a-$t:warm" "$here/cases/a-copy-context.Dockerfile" "$work/ctx/a" --build-arg "BASE=$bb"
    measure f "$t" "$r" "${cmd[@]}" || true
  done
done
drop "${warm[img]}"; drop "${warm[buildah]}"

echo "== (g) pull the ${big_mb} MiB image img pushed in (c) into an empty state"
if [ -n "$pulled" ]; then
  for r in $(run_ids); do
    for t in $(tools_in_order "$r"); do
      st=$(fresh g "$t" "$r")
      set_pull "$t" "$st" "$pulled"
      measure g "$t" "$r" "${cmd[@]}" || true
      drop "$st"
    done
  done
else
  echo "skipped: no image from (c) was pushed by img"
fi

echo "== (h) start-up: img version vs buildah version"
as_user hyperfine -N --warmup 3 --runs 50 --export-json "$work/tmp/h.json" \
  "$img version" "buildah version" > "$work/logs/h.log" 2>&1 || true
python3 - "$work/tmp/h.json" "$csv" <<'PY' || echo "hyperfine failed: $(tail -3 "$work/logs/h.log")"
import json, sys
res = json.load(open(sys.argv[1]))["results"]
with open(sys.argv[2], "a") as out:
    for r, tool in zip(res, ("img", "buildah")):
        for i, t in enumerate(r["times"], 1):
            out.write(f"h,{tool},{i},{t:.4f},,,,ok\n")
PY

echo "== memory: img with a ${bigger_mb} MiB layer (twice (c))"
st=$(fresh mem img 1)
ref="$registry/bench/bigger-img:1"
set_build img "$st" "$ref" "$here/cases/c-big-layer.Dockerfile" "$work/ctx/empty" \
  --build-arg "BASE=$bb" --build-arg "MB=$bigger_mb"
if measure c2-build img 1 "${cmd[@]}"; then set_push img "$st" "$ref"; measure c2-push img 1 "${cmd[@]}" || true; fi
drop "$st"

echo "== results"
{
  echo "img beside buildah, $(date -u '+%Y-%m-%d %H:%M UTC'), runs=$runs warm-up=$warmup quick=$quick"
  echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/{print $2" RAM"}'), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
  echo "img: $("$img" version 2>/dev/null | awk '/version|compiler/{printf "%s ", $NF}')/ buildah $(buildah --version | awk '{print $3}') (chroot isolation, rootless overlay)"
  echo "load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 "$here/lib/table.py" "$csv" "$files" "$stage_mb" "$big_mb" "$bigger_mb"
  [ -n "$debian_note" ] && echo "$debian_note"
  if [ -s "$work/failures.txt" ]; then echo; echo "failures (last lines of each tool's output):"; cat "$work/failures.txt"; fi
} | tee "$table"
echo "raw timings: $csv"
echo "table: $table"
