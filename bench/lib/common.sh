# Shared helpers for bench/run.sh: running as the unprivileged user, timing with peak memory,
# a loopback registry of our own. Sourced; expects $work, $csv, $user, $timeout_s to be set.

# as_user CMD...: runs CMD as the unprivileged bench user with a clean, fixed environment,
# the same for img and buildah (host network, the user's home, a private runtime dir).
as_user() { "${user_cmd[@]}" "$@"; }
user_cmd_init() { user_prefix user_cmd "$user" "$work/xdg" "$work/tmp"; }
user_prefix() { # user_prefix ARRAY USER XDG-RUNTIME-DIR TMPDIR: sets ARRAY to that prefix for USER
  local -n into=$1
  into=(setpriv --reuid "$2" --regid "$2" --init-groups
    env -i HOME="/home/$2" USER="$2" LOGNAME="$2" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
    XDG_RUNTIME_DIR="$3" BUILDAH_ISOLATION=chroot TMPDIR="$4")
}

# The namespace-less rungs (issue 15), for cases (a) and (d) only. img-proot: img as $nosub_user, an ordinary user
# without subordinate ids, who gets the proot rung by itself and has owners recorded by img. img-proot-root: img as
# root with docker's default capability set (no CAP_SYS_ADMIN, so no mounts) and IMG_ISOLATION=proot, close to root
# in a container with docker's defaults (real chown; the seccomp profile is not applied). Each has its own runtime
# and temporary directories; the work directory must let $nosub_user through (proot_dirs).
docker_default_caps=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap
proot_cmds_init() { # proot_cmds_init ENV...: sets $nosub_cmd and $root_proot_cmd, ENV (NAME=VALUE) added to both
  user_prefix nosub_cmd "$nosub_user" "$work/xdg-nosub" "$work/tmp-nosub"
  nosub_cmd+=("$@")
  root_proot_cmd=(setpriv --bounding-set "$docker_default_caps"
    env -i HOME=/root USER=root LOGNAME=root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
    XDG_RUNTIME_DIR="$work/xdg-root" TMPDIR="$work/tmp-root" IMG_ISOLATION=proot "$@")
}
proot_dirs() { # the work directory traversable by $nosub_user, and each rung's own runtime and temporary directories
  chmod 711 "$work"
  mkdir -p "$work/xdg-nosub" "$work/tmp-nosub" "$work/xdg-root" "$work/tmp-root"
  chown "$nosub_user:" "$work/xdg-nosub" "$work/tmp-nosub"
  chmod 700 "$work/xdg-nosub" "$work/xdg-root"
}
# tool_user TOOL: the user TOOL runs as (its states belong to that user).
tool_user() { case "$1" in img-proot) echo "$nosub_user" ;; img-proot-root) echo root ;; *) echo "$user" ;; esac; }

# set_prefix TOOL: the array $prefix a tool's commands run under: the unprivileged user for img, buildah and the
# host rows; root's docker CLI against the private daemon ($docker_cmd, bench/lib/docker.sh) for docker; the
# namespace-less rungs' prefixes (proot_cmds_init) for img-proot and img-proot-root. With
# raw=1 set, nothing: the command (a script of several tools' commands) carries its own prefixes.
set_prefix() {
  if [ "${raw:-0}" = 1 ]; then prefix=()
  elif [ "$1" = docker ]; then prefix=("${docker_cmd[@]}")
  elif [ "$1" = img-proot ]; then prefix=("${nosub_cmd[@]}")
  elif [ "$1" = img-proot-root ]; then prefix=("${root_proot_cmd[@]}")
  else prefix=("${user_cmd[@]}"); fi
}

# user_dir DIR...: creates directories owned by the bench user.
user_dir() { mkdir -p "$@" && chown "$user:" "$@"; }

# measure CASE TOOL RUN CMD...: runs CMD as the bench user under a timeout and /usr/bin/time,
# appends "case,tool,run,seconds,peak_kib,user_s,sys_s,status,load1" to $csv (load1: the 1-minute load average
# just before the command, to read each timing against the noise of the shared machine). Output goes to a per-call log;
# on failure the log's tail is kept for the report. Returns CMD's status.
measure() {
  local c=$1 t=$2 r=$3; shift 3
  local log="$work/logs/$c.$t.$r.log" tf="$work/logs/$c.$t.$r.time" rc=0 secs kib usr sys status=ok
  local -a prefix
  set_prefix "$t"
  local load1
  # No pending writeback at the start: the tools alternate, and a tool's first fsync would otherwise wait
  # for the dirty pages the other tool (or the previous state's deletion) left behind.
  sync
  load1=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f '%e %M %U %S' -o "$tf" timeout -k 10 "$timeout_s" \
    "${prefix[@]}" "$@" >"$log" 2>&1 || rc=$?
  read -r secs kib usr sys < <(grep -E '^[0-9.]+ [0-9]+ [0-9.]+ [0-9.]+$' "$tf" | tail -1)
  if [ "$rc" != 0 ]; then
    status=FAIL
    [ "$rc" = 124 ] && status=TIMEOUT
    { echo "== $c $t run $r: $status (exit $rc) after ${secs:-?} s: $*"; tail -n 8 "$log"; } >> "$work/failures.txt"
    printf '   %-10s %-8s run %s: %s (exit %s), see %s\n' "$c" "$t" "$r" "$status" "$rc" "$log" >&2
  else
    printf '   %-10s %-8s run %s: %6.2f s  %7d KiB\n' "$c" "$t" "$r" "$secs" "$kib" >&2
  fi
  echo "$c,$t,$r,${secs:-},${kib:-},${usr:-},${sys:-},$status,$load1" >> "$csv"
  return "$rc"
}

# start_registry DIR [CERT KEY [ADDRESS]]: a docker-registry on a free port of ADDRESS (default 127.0.0.1), plain
# HTTP, or TLS with CERT and KEY; sets $registry (address:port) and $registry_pid, and adds the pid to $registry_pids.
start_registry() {
  local dir=$1 cert=${2:-} key=${3:-} address=${4:-127.0.0.1} port scheme=http tls=""
  port=$(python3 -c 'import socket, sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$address")
  mkdir -p "$dir/data"
  if [ -n "$cert" ]; then scheme=https tls=$(printf '\n  tls:\n    certificate: %s\n    key: %s' "$cert" "$key"); fi
  cat > "$dir/config.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $address:$port$tls
log:
  level: error
YML
  /usr/bin/docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
  registry_pid=$!
  registry_pids+=("$registry_pid")
  registry="$address:$port"
  local _
  for _ in $(seq 100); do
    curl -fs ${cert:+--cacert "$tls_ca"} "$scheme://$registry/v2/" >/dev/null 2>&1 && return 0
    kill -0 "$registry_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "docker-registry did not start: $(tail -3 "$dir/registry.log")" >&2
  return 1
}

# make_tls_ca DIR ADDRESS: a self-signed CA ($DIR/ca.crt, also $tls_ca) and a server certificate for ADDRESS
# signed by it ($DIR/server.crt, $DIR/server.key), as a private registry's operator would make them.
make_tls_ca() {
  local d=$1 address=$2
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=img bench CA" \
    -keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$address" -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$address" > "$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext.cnf" -out "$d/server.crt" >/dev/null 2>&1
  chmod 644 "$d"/*.crt "$d/server.key"
  tls_ca="$d/ca.crt"
}
