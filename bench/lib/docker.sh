# A private rootful dockerd for the BuildKit peer, as tools/container-tests.sh starts one: its own data root,
# exec root, pidfile and socket, no bridge, no iptables (nothing on the host's network changes). Sourced by
# bench/run.sh (root). Sets $dockerd_pid and $dockerd_sock; stop_dockerd ends it by pid and unmounts what it left.

# docker_cli CMD...: Debian's docker CLI (not any other client on PATH) against the private daemon, BuildKit on;
# $docker_cmd is the same as an array for measure.
docker_cli() { "${docker_cmd[@]}" "$@"; }

# start_dockerd DATA_ROOT [CA_BUNDLE]: CA_BUNDLE becomes the daemon's SSL_CERT_FILE (its BuildKit trusts a private
# registry's CA only through its roots: it reads no certs.d). The exec root and socket sit in a short /tmp path (unix socket paths are limited to
# 108 bytes); the data root on the same disk as the other tools' states.
start_dockerd() {
  local data=$1 bundle=${2:-}
  dockerd_data=$data dockerd_bundle=$bundle
  dockerd_dir=$(mktemp -d /tmp/img-bench-dockerd.XXXXXX)
  dockerd_sock="$dockerd_dir/sock"
  docker_cmd=(env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/root DOCKER_BUILDKIT=1
    DOCKER_CONFIG="$dockerd_dir/config" /usr/bin/docker -H "unix://$dockerd_sock")
  mkdir -p "$data" "$dockerd_dir/config"
  env ${bundle:+SSL_CERT_FILE="$bundle"} /usr/sbin/dockerd --data-root "$data" --exec-root "$dockerd_dir/exec" --pidfile "$dockerd_dir/pid" \
    -H "unix://$dockerd_sock" --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    >"$dockerd_dir/log" 2>&1 &
  dockerd_pid=$!
  local _
  for _ in $(seq 100); do docker_cli info >/dev/null 2>&1 && return 0; kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.3; done
  echo "dockerd did not start: $(tail -5 "$dockerd_dir/log" | tr '\n' ' ')" >&2
  return 1
}

# docker_reset prune | fresh TRASH: a daemon with no images and no build cache, the cold state of the BuildKit
# peer. "prune" empties the running daemon (for states of few, big files); "fresh" restarts it on a new data root
# and moves the old one to TRASH, so no mass deletion slows the next build's file creation (see drop in run.sh).
docker_reset() {
  if [ "$1" = prune ]; then
    docker_cli system prune -af >/dev/null 2>&1 || true
    docker_cli builder prune -af >/dev/null 2>&1 || true
    return
  fi
  local old=$dockerd_data bundle=$dockerd_bundle
  stop_dockerd
  mkdir -p "$2" && mv "$old" "$2/docker-$(date +%s%N)"
  start_dockerd "$old" "$bundle"
  # A new daemon sets BuildKit up on its first build: do that untimed (a label on scratch, no base, no context),
  # so the timed cold build pays for an empty cache, not for the daemon's start.
  printf 'FROM scratch\nLABEL bench.warm=1\n' | docker_cli build -q -t bench-warm:1 - >/dev/null 2>&1 || true
}

stop_dockerd() {
  [ -n "${dockerd_pid:-}" ] || return 0
  kill "$dockerd_pid" 2>/dev/null || true
  local _
  for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
  # dockerd leaves its network namespace file mounted under its exec root.
  awk -v d="$dockerd_dir/" -v r="$dockerd_data/" 'index($5, d) == 1 || index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r \
    | while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$dockerd_dir"
  dockerd_pid=
}
