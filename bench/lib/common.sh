# Shared helpers for bench/run.sh: running as the unprivileged user, timing with peak memory,
# a loopback registry of our own. Sourced; expects $work, $csv, $user, $timeout_s to be set.

# as_user CMD...: runs CMD as the unprivileged bench user with a clean, fixed environment,
# the same for img and buildah (host network, the user's home, a private runtime dir).
as_user() { "${user_cmd[@]}" "$@"; }
user_cmd_init() {
  user_cmd=(setpriv --reuid "$user" --regid "$user" --init-groups
    env -i HOME="/home/$user" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
    XDG_RUNTIME_DIR="$work/xdg" BUILDAH_ISOLATION=chroot TMPDIR="$work/tmp")
}

# user_dir DIR...: creates directories owned by the bench user.
user_dir() { mkdir -p "$@" && chown "$user:" "$@"; }

# measure CASE TOOL RUN CMD...: runs CMD as the bench user under a timeout and /usr/bin/time,
# appends "case,tool,run,seconds,peak_kib,user_s,sys_s,status" to $csv. Output goes to a per-call log;
# on failure the log's tail is kept for the report. Returns CMD's status.
measure() {
  local c=$1 t=$2 r=$3; shift 3
  local log="$work/logs/$c.$t.$r.log" tf="$work/logs/$c.$t.$r.time" rc=0 secs kib usr sys status=ok
  # No pending writeback at the start: the tools alternate, and a tool's first fsync would otherwise wait
  # for the dirty pages the other tool (or the previous state's deletion) left behind.
  sync
  /usr/bin/time -f '%e %M %U %S' -o "$tf" timeout -k 10 "$timeout_s" \
    "${user_cmd[@]}" "$@" >"$log" 2>&1 || rc=$?
  read -r secs kib usr sys < <(grep -E '^[0-9.]+ [0-9]+ [0-9.]+ [0-9.]+$' "$tf" | tail -1)
  if [ "$rc" != 0 ]; then
    status=FAIL
    [ "$rc" = 124 ] && status=TIMEOUT
    { echo "== $c $t run $r: $status (exit $rc) after ${secs:-?} s: $*"; tail -n 8 "$log"; } >> "$work/failures.txt"
    printf '   %-10s %-8s run %s: %s (exit %s), see %s\n' "$c" "$t" "$r" "$status" "$rc" "$log" >&2
  else
    printf '   %-10s %-8s run %s: %6.2f s  %7d KiB\n' "$c" "$t" "$r" "$secs" "$kib" >&2
  fi
  echo "$c,$t,$r,${secs:-},${kib:-},${usr:-},${sys:-},$status" >> "$csv"
  return "$rc"
}

# start_registry DIR: a docker-registry on a free loopback port; sets $registry and $registry_pid.
start_registry() {
  local dir=$1 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
log:
  level: error
YML
  /usr/bin/docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
  registry_pid=$!
  registry="127.0.0.1:$port"
  local _
  for _ in $(seq 100); do
    curl -fs "http://$registry/v2/" >/dev/null 2>&1 && return 0
    kill -0 "$registry_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "docker-registry did not start: $(tail -3 "$dir/registry.log")" >&2
  return 1
}
