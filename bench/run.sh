#!/usr/bin/env bash
# img beside its peers — rootless buildah and rootful docker with BuildKit (a private dockerd) — on the same
# Dockerfiles, the same host network and the same loopback registries; medians of alternating runs after a warm-up.
# Usage: sudo bash bench/run.sh [--runs N] [--quick] [--keep]
#   --runs N   timed runs per case and tool (default 3; or BENCH_RUNS), after one untimed warm-up
#   --quick    smoke check: 1 run, no warm-up, small sizes
#   --keep     keep the work directory (states, logs) instead of deleting it
# Environment: BENCH_CASES="a i l" runs only those cases (default: all), BENCH_TOOLS="img docker" only those
# tools (default: img buildah docker), BENCH_CURVE_TOOLS tools of the file-count curve (default: img docker),
# BENCH_WARMUP=0 skips the warm-up run. BENCH_TOOLS may also name img-proot and img-proot-root, the namespace-less
# rungs (bench/lib/common.sh, proot_cmds_init): they run in (a) and (d) only.
# Results: bench/results/<stamp>.csv (every timing), bench/results/<stamp>.txt (the table).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

runs=${BENCH_RUNS:-3} quick=0 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --quick) quick=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "run as root (sudo bash bench/run.sh): it installs packages, starts a private dockerd and runs img and buildah as the user imgtest" >&2
  exit 1
fi

# Sizes. --quick shrinks the data, not the shape of the cases.
warmup=${BENCH_WARMUP:-1} files=2000 many=20000 stage_mb=32 big_mb=300 bigger_mb=600 file_mb=1024 small_file_mb=100
chain=40 parallel=10 curve="2000 20000 100000" timeout_s=600
if [ "$quick" = 1 ]; then runs=1 warmup=0 big_mb=64 bigger_mb=128 file_mb=256 small_file_mb=64 curve="2000 20000" timeout_s=300; fi
cases=$(echo "${BENCH_CASES:-a b c d e f g h i j k l m n curve}" | tr ',' ' ')
tools="" proot_tools=""
for t in $(echo "${BENCH_TOOLS:-img buildah docker}" | tr ',' ' '); do
  case "$t" in img-proot|img-proot-root) proot_tools+="$t " ;; *) tools+="$t " ;; esac
done
curve_tools=$(echo "${BENCH_CURVE_TOOLS:-img docker}" | tr ',' ' ')
want() { [[ " $cases " == *" $1 "* ]]; }
has_tool() { [[ " $tools " == *" $1 "* ]]; }
user=${IMG_TEST_USER:-imgtest}
nosub_user=${IMG_TEST_NOSUB_USER:-${user}nosub}   # made by tools/setup-machine.sh without subordinate ids
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cache=/var/tmp/img-bench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$cache" "$here/results"
csv="$here/results/$stamp.csv"
table="$here/results/$stamp.txt"
echo "case,tool,run,seconds,peak_kib,user_s,sys_s,status,load1" > "$csv"

source "$here/lib/common.sh"
source "$here/lib/context.sh"
source "$here/lib/debian.sh"
source "$here/lib/docker.sh"

echo "== machine set-up"
bash "$repo/tools/setup-machine.sh"
need=()
for p in buildah debootstrap hyperfine time docker.io openssl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -n "${IMG:-}" ]; then echo "== img from \$IMG=$IMG"
else
  echo "== publishing img (NativeAOT)"
  (cd "$repo" && dotnet publish src/Img.Cli -c Release -o out --nologo -v quiet)
fi

# The work directory sits in /var/tmp (same disk as the user's home) and belongs to the user;
# each tool's state for a cold case is a fresh directory in it.
work=$(mktemp -d "$cache/run.XXXXXX")
registry_pids=()
cleanup() {
  set +e
  local p
  for p in "${registry_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  stop_dockerd
  if [ "$keep" = 0 ]; then rm -rf --one-file-system "$work"; else rm -rf --one-file-system "$trash"; echo "work directory kept: $work"; fi
}
trap cleanup EXIT
user_cmd_init
mkdir -p "$work/logs"
user_dir "$work" "$work/xdg" "$work/tmp" "$work/st" "$work/ctx"
chmod 700 "$work/xdg"
[ -n "$proot_tools" ] && proot_dirs
: > "$work/failures.txt"
# A private copy of the binary: others may republish out/ while the bench runs.
install -m 755 "${IMG:-$repo/out/img}" "$work/img"
img="$work/img"

# Tool front ends: each sets the array $cmd to one command line (measure adds the user or the docker CLI in
# front). Every img and buildah command names its own state, so nothing is shared between runs; docker has one
# daemon, emptied (images and build cache) for every cold run. buildah runs rootless with chroot isolation (no
# cgroups or runtime needed) on native overlay; --layers caches like img, --jobs 3 runs stages in parallel, and
# the plain-HTTP loopback registry needs --tls-verify=false (img detects it, docker trusts 127.0.0.0/8 so).
# With tls=1 set, buildah verifies the registry's certificate against SSL_CERT_FILE, as img does.
state_args() { # state_args TOOL STATE
  case "$1" in
    img|img-proot|img-proot-root) echo "$img --state $2" ;;
    buildah) echo "buildah --root $2/root --runroot $2/run --storage-driver overlay" ;;
    docker) echo "" ;;
  esac
}
tls_flag() { if [ "${tls:-0}" = 1 ]; then echo --tls-verify=true; else echo --tls-verify=false; fi; }
set_build() { # set_build TOOL STATE TAG DOCKERFILE CONTEXT BUILD-FLAGS...
  local t=$1 st=$2 tag=$3 df=$4 ctx=$5; shift 5
  read -r -a cmd <<< "$(state_args "$t" "$st")"
  case "$t" in
    img|img-proot|img-proot-root) cmd+=(build --no-console) ;;
    buildah) cmd+=(bud --layers --jobs 3 --isolation chroot --network host "$(tls_flag)") ;;
    docker) cmd+=(build --network host --progress plain) ;;
  esac
  cmd+=(-t "$tag" -f "$df" "$@" "$ctx")
}
set_push() { # set_push TOOL STATE REF
  read -r -a cmd <<< "$(state_args "$1" "$2")"
  case "$1" in
    buildah) cmd+=(push "$(tls_flag)" "$3" "docker://$3") ;;
    *) cmd+=(push "$3") ;;
  esac
}
set_pull() { # set_pull TOOL STATE REF
  read -r -a cmd <<< "$(state_args "$1" "$2")"
  case "$1" in
    buildah) cmd+=(pull "$(tls_flag)" "docker://$3") ;;
    *) cmd+=(pull "$3") ;;
  esac
}

# Deleted states are kept in a trash directory until the bench ends. ext4 will not hand out an inode freed in the
# last minute or so: it reads an inode table block for each candidate (recently_deleted) instead, and right after
# a state of 20,000 files was deleted, the next build's file creations spent most of their time there (a cold
# build of the 20,000-file case took 3-6 times as long in system time). Only the states of the big-data cases,
# which hold few files, are deleted at once (drop_now), so the disk does not fill.
trash="$work/trash"
# fresh CASE TOOL RUN: sets $state to a new empty state directory for one cold run (docker: a daemon with no
# images or cache). Not called in $(...): a restarted dockerd must be known to this shell.
fresh() {
  state="$work/st/$1-$2-$3"
  if [ "$2" = docker ]; then
    case "$1" in c|g|j*) docker_reset prune ;; *) docker_reset fresh "$trash" ;; esac
    return
  fi
  [ -e "$state" ] && drop "$state"
  mkdir -p "$state" && chown "$(tool_user "$2"):" "$state"
}
drop() { [ -e "$1" ] || return 0; mkdir -p "$trash"; mv "$1" "$trash/$(date +%s%N)"; }
drop_now() { rm -rf "$1"; }

# tools_in_order RUN: the selected tools, rotated by one per run, so each goes first in turn and noise
# on the shared machine hits all alike.
tools_in_order() { # tools_in_order RUN [TOOLS]
  local -a ts
  read -r -a ts <<< "${2:-$tools}"
  [ ${#ts[@]} -gt 0 ] || return 0
  local n=${#ts[@]} i k=$(( ($1 % ${#ts[@]} + ${#ts[@]}) % ${#ts[@]} ))
  for ((i = 0; i < n; i++)); do printf '%s ' "${ts[$(((i + k) % n))]}"; done
}
run_ids() { seq $((1 - warmup)) "$runs"; }   # 0 is the untimed warm-up

echo "== registries (plain HTTP on loopback; TLS with a self-signed CA on the host's address)"
# The TLS registry listens on the host's own address: docker speaks plain HTTP to any registry on 127.0.0.0/8.
host_addr=$(hostname -I | tr ' ' '\n' | grep -m1 -E '^[0-9]+\.' || echo 127.0.0.1)
make_tls_ca "$work/tls" "$host_addr"
start_registry "$work/registry-tls" "$work/tls/server.crt" "$work/tls/server.key" "$host_addr"
tls_registry=$registry
start_registry "$work/registry"
echo "registry at $registry, TLS registry at $tls_registry (CA $tls_ca)"
# img and buildah trust the CA through SSL_CERT_FILE (img adds it to the system roots, buildah's Go uses it as its
# roots); dockerd's BuildKit reads no certs.d, so the daemon gets the system bundle plus the CA the same way.
user_cmd_init
user_cmd+=(SSL_CERT_FILE="$tls_ca")
proot_cmds_init SSL_CERT_FILE="$tls_ca"
cat /etc/ssl/certs/ca-certificates.crt "$tls_ca" > "$work/tls/bundle.crt" 2>/dev/null || cp "$tls_ca" "$work/tls/bundle.crt"
if has_tool docker; then
  echo "== private dockerd (BuildKit)"
  start_dockerd "$work/docker-data" "$work/tls/bundle.crt"
  echo "dockerd $(docker_cli version -f '{{.Server.Version}}') at $dockerd_sock"
fi

echo "== base images (offline), pushed to the registries for every tool"
user_dir "$work/ctx/busybox" "$work/ctx/empty"
cp /bin/busybox "$work/ctx/busybox/busybox"
chown -R "$user:" "$work/ctx"
fresh seed img 0; seed=$state
bb="$registry/bench/busybox:1"
tls_bb="$tls_registry/bench/busybox:1"
{ set_build img "$seed" "$bb" "$here/cases/busybox-base.Dockerfile" "$work/ctx/busybox" && as_user "${cmd[@]}" \
  && set_push img "$seed" "$bb" && as_user "${cmd[@]}" \
  && as_user "$img" --state "$seed" tag "$bb" "$tls_bb" && set_push img "$seed" "$tls_bb" && as_user "${cmd[@]}"; } \
  > "$work/logs/seed-busybox.log" 2>&1 \
  || { tail "$work/logs/seed-busybox.log"; echo "could not make the busybox base" >&2; exit 1; }
debian=""
debian_note=""
if want d; then
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
fi
drop "$seed"
[ -n "$debian_note" ] && echo "$debian_note"

echo "== contexts"
if want a || want e || want f; then make_context "$work/ctx/a" "$files"; fi
if want i; then make_files "$work/ctx/i" "$many" 200 64 2048 20000; fi
if want j; then
  mkdir -p "$work/ctx/j" "$work/ctx/j-small"
  make_big_file "$work/ctx/j/big" "$file_mb"
  make_big_file "$work/ctx/j-small/big" "$small_file_mb"
fi
if want k; then make_chain "$work/ctx/chain.Dockerfile" "$chain"; fi
if want m; then for i in $(seq 0 "$parallel"); do make_files "$work/ctx/m$i" 100 10 64 2048 "$((500 + i))"; done; fi
if want n; then make_runs "$work/ctx/run1.Dockerfile" 1; make_runs "$work/ctx/run10.Dockerfile" 10; fi
if want curve; then for n in $curve; do make_files "$work/ctx/curve-$n" "$n" 200 64 2048 "$n"; done; fi
chown -R "$user:" "$work/ctx"

cold_build() { # cold_build CASE DOCKERFILE CONTEXT BUILD-ARGS...: fresh state per run (TOOLS in $case_tools)
  local c=$1 df=$2 ctx=$3; shift 3
  local r t st
  for r in $(run_ids); do
    for t in $(tools_in_order "$r" "${case_tools:-$tools}"); do
      fresh "$c" "$t" "$r"; st=$state
      set_build "$t" "$st" "bench/$c-$t:$r" "$df" "$ctx" "$@"
      measure "$c" "$t" "$r" "${cmd[@]}" || true
      case "$c" in j*) drop_now "$st" ;; *) drop "$st" ;; esac
    done
  done
}

if want a; then
  echo "== (a) cold: COPY $files files + RUN"
  case_tools="$tools $proot_tools" cold_build a "$here/cases/a-copy-context.Dockerfile" "$work/ctx/a" --build-arg "BASE=$bb"
fi

if want b; then
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
fi

pulled=""
if want c || want g; then
  echo "== (c) ${big_mb} MiB layer: build, then push"
  for r in $(run_ids); do
    for t in $(tools_in_order "$r"); do
      fresh c "$t" "$r"; st=$state
      ref="$registry/bench/big-$t-$r:1"
      set_build "$t" "$st" "$ref" "$here/cases/c-big-layer.Dockerfile" "$work/ctx/empty" \
        --build-arg "BASE=$bb" --build-arg "MB=$big_mb"
      if measure c-build "$t" "$r" "${cmd[@]}"; then
        set_push "$t" "$st" "$ref"
        if measure c-push "$t" "$r" "${cmd[@]}" && [ "$t" = img ]; then pulled=$ref; fi
      fi
      drop_now "$st"
    done
  done
fi

if want d; then
  echo "== (d) Debian base + apt-get install"
  if [ -n "$debian" ]; then
    case_tools="$tools $proot_tools" cold_build d "$here/cases/d-apt-install.Dockerfile" "$work/ctx/empty" --build-arg "BASE=$debian"
    # The floor: the same apt-get command run directly, as root, in a chroot of a fresh copy of the same rootfs (a
    # private mount namespace with /proc, the host's /dev and resolv.conf), no builder: what the command itself takes.
    apt_cmd='apt-get update -qq && apt-get install -y -qq --no-install-recommends jq && rm -rf /var/lib/apt/lists/* && jq --version'
    for r in $(run_ids); do
      root="$work/d-floor.$r"
      mkdir -p "$root" && tar -C "$root" -xf "$debian_tar"
      raw=1 measure d-floor host "$r" unshare --mount --fork sh -c "mount -t proc proc '$root/proc' && mount --rbind /dev '$root/dev' \
        && cp /etc/resolv.conf '$root/etc/resolv.conf' && exec chroot '$root' /usr/bin/env -i HOME=/root \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c '$apt_cmd'" || true
      drop "$root"
    done
  fi
fi

# warm_rebuilds CASE DOCKERFILE CONTEXT BUILD-ARGS...: one untimed build per tool into a kept state, then
# timed rebuilds of the same; $before_each (if set) runs before each repetition.
warm_rebuilds() {
  local c=$1 df=$2 ctx=$3; shift 3
  local r t
  declare -A warm
  for t in $tools; do
    fresh "warm-$c" "$t" 0; warm[$t]=$state
    set_build "$t" "${warm[$t]}" "bench/$c-$t:warm" "$df" "$ctx" "$@"
    measure "$c-warm" "$t" 0 "${cmd[@]}" || true
  done
  for r in $(seq 1 "$runs"); do
    [ -n "${before_each:-}" ] && $before_each "$r"
    for t in $(tools_in_order "$r"); do
      set_build "$t" "${warm[$t]}" "bench/$c-$t:warm" "$df" "$ctx" "$@"
      measure "$c" "$t" "$r" "${cmd[@]}" || true
    done
  done
  for t in $tools; do [ "$t" = docker ] || drop "${warm[$t]}"; done
}
change_one_file() { echo "change $1" >> "$work/ctx/a/top07/leaf3/file5.txt"; }

if want e; then
  echo "== (e) no-op rebuild of (a)"
  warm_rebuilds e "$here/cases/a-copy-context.Dockerfile" "$work/ctx/a" --build-arg "BASE=$bb"
fi
if want f; then
  echo "== (f) rebuild of (a) after one changed file"
  before_each=change_one_file warm_rebuilds f "$here/cases/a-copy-context.Dockerfile" "$work/ctx/a" --build-arg "BASE=$bb"
fi

if want g; then
  echo "== (g) pull the ${big_mb} MiB image img pushed in (c) into an empty state"
  if [ -n "$pulled" ]; then
    for r in $(run_ids); do
      for t in $(tools_in_order "$r"); do
        fresh g "$t" "$r"; st=$state
        set_pull "$t" "$st" "$pulled"
        measure g "$t" "$r" "${cmd[@]}" || true
        drop_now "$st"
      done
    done
  else
    echo "skipped: no image from (c) was pushed by img"
  fi
fi

if want h; then
  echo "== (h) start-up: img version vs buildah version vs docker version (client only)"
  as_user hyperfine -N --warmup 3 --runs 50 --export-json "$work/tmp/h.json" \
    "$img version" "buildah version" "/usr/bin/docker --version" > "$work/logs/h.log" 2>&1 || true
  python3 - "$work/tmp/h.json" "$csv" <<'PY' || echo "hyperfine failed: $(tail -3 "$work/logs/h.log")"
import json, sys
res = json.load(open(sys.argv[1]))["results"]
with open(sys.argv[2], "a") as out:
    for r, tool in zip(res, ("img", "buildah", "docker")):
        for i, t in enumerate(r["times"], 1):
            out.write(f"h,{tool},{i},{t:.4f},,,,ok,\n")
PY
fi

if want i; then
  echo "== (i) cold: COPY $many files (200 dirs) + RUN"
  cold_build i "$here/cases/a-copy-context.Dockerfile" "$work/ctx/i" --build-arg "BASE=$bb"
fi

if want j; then
  echo "== (j) cold: COPY one ${file_mb} MiB file (half random, half repetitive)"
  printf 'ARG BASE\nFROM ${BASE}\nCOPY big /big\n' > "$work/ctx/big.Dockerfile"
  cold_build j "$work/ctx/big.Dockerfile" "$work/ctx/j" --build-arg "BASE=$bb"
  # img's memory with a tenth of the file: flat from 100 MiB to 1 GiB.
  case_tools=img cold_build j-small "$work/ctx/big.Dockerfile" "$work/ctx/j-small" --build-arg "BASE=$bb"
fi

if want k; then
  echo "== (k) cold: a $chain-stage chain (COPY --from the previous + a tiny RUN)"
  cold_build k "$work/ctx/chain.Dockerfile" "$work/ctx/empty" --build-arg "BASE=$bb"
fi

if want l; then
  echo "== (l) no-op rebuild, base image on the TLS registry (self-signed CA)"
  printf 'ARG BASE\nFROM ${BASE}\nRUN echo cached > /cached\n' > "$work/ctx/tls.Dockerfile"
  tls=1 warm_rebuilds l "$work/ctx/tls.Dockerfile" "$work/ctx/empty" --build-arg "BASE=$tls_bb"
fi

if want m; then
  echo "== (m) $parallel builds of different small contexts at once on one state, against one build alone"
  for r in $(run_ids); do
    for t in $(tools_in_order "$r"); do
      fresh m "$t" "$r"; st=$state
      set_pull "$t" "$st" "$bb"
      measure m-pull "$t" "$r" "${cmd[@]}" || true
      set_build "$t" "$st" "bench/m0-$t:$r" "$here/cases/a-copy-context.Dockerfile" "$work/ctx/m0" --build-arg "BASE=$bb"
      measure m-one "$t" "$r" "${cmd[@]}" || true
      # One script starts the builds at once, each under its own /usr/bin/time; measure times the whole.
      script="$work/tmp/m-$t-$r.sh"
      { echo "set -u"
        for i in $(seq 1 "$parallel"); do
          set_build "$t" "$st" "bench/m$i-$t:$r" "$here/cases/a-copy-context.Dockerfile" "$work/ctx/m$i" --build-arg "BASE=$bb"
          set_prefix "$t"
          printf '/usr/bin/time -f %%e -o %q %s > %q 2>&1 &\n' "$work/logs/m-each.$t.$r.$i.time" \
            "$(printf '%q ' "${prefix[@]}" "${cmd[@]}")" "$work/logs/m-each.$t.$r.$i.log"
        done
        echo 'fail=0; for p in $(jobs -p); do wait "$p" || fail=1; done; exit $fail'
      } > "$script"
      raw=1 measure m-ten "$t" "$r" bash "$script" || true
      slowest=$(cat "$work/logs/m-each.$t.$r".*.time 2>/dev/null | grep -E '^[0-9.]+$' | sort -n | tail -1)
      echo "m-slowest,$t,$r,${slowest:-},,,,ok,$(cut -d' ' -f1 /proc/loadavg)" >> "$csv"
      drop "$st"
    done
  done
fi

if want n; then
  echo "== (n) per-step overhead: ten trivial RUN steps against one"
  cold_build n1 "$work/ctx/run1.Dockerfile" "$work/ctx/empty" --build-arg "BASE=$bb"
  cold_build n10 "$work/ctx/run10.Dockerfile" "$work/ctx/empty" --build-arg "BASE=$bb"
fi

if want curve; then
  echo "== curve: cold COPY of $curve files (200 dirs) + RUN: time and peak memory ($curve_tools)"
  for n in $curve; do
    case_tools=$curve_tools cold_build "curve-$n" "$here/cases/a-copy-context.Dockerfile" "$work/ctx/curve-$n" --build-arg "BASE=$bb"
  done
fi

if want c; then
  echo "== memory: img with a ${bigger_mb} MiB layer (twice (c))"
  fresh mem img 1; st=$state
  ref="$registry/bench/bigger-img:1"
  set_build img "$st" "$ref" "$here/cases/c-big-layer.Dockerfile" "$work/ctx/empty" \
    --build-arg "BASE=$bb" --build-arg "MB=$bigger_mb"
  if measure c2-build img 1 "${cmd[@]}"; then set_push img "$st" "$ref"; measure c2-push img 1 "${cmd[@]}" || true; fi
  drop_now "$st"
fi

echo "== results"
{
  echo "img beside buildah and docker/BuildKit, $(date -u '+%Y-%m-%d %H:%M UTC'), runs=$runs warm-up=$warmup quick=$quick"
  echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/{print $2" RAM"}'), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
  echo "img: $("$img" version 2>/dev/null | awk '/version|compiler/{printf "%s ", $NF}')/ buildah $(buildah --version | awk '{print $3}') (chroot isolation, rootless overlay)$(has_tool docker && echo " / docker $(docker_cli version -f '{{.Server.Version}}') (rootful, BuildKit)")"
  echo "load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 "$here/lib/table.py" "$csv" "$files" "$stage_mb" "$big_mb" "$bigger_mb" "$many" "$file_mb" "$small_file_mb" "$chain" "$parallel"
  [ -n "$debian_note" ] && echo "$debian_note"
  if [ -s "$work/failures.txt" ]; then echo; echo "failures (last lines of each tool's output):"; cat "$work/failures.txt"; fi
} | tee "$table"
echo "raw timings: $csv"
echo "table: $table"
