#!/usr/bin/env bash
# img inside Docker containers, in each setting of README's "Running with Docker" table, with real parts: a private
# dockerd (its own data root and socket in a temp dir, no bridge, no iptables: nothing on the host's network
# changes), Debian's docker-registry on loopback, the image of img built by img from the Containerfile as the
# test user. Each setting that is meant to build: a busybox Dockerfile whose RUN writes a file, chowns it to 1234
# and deletes /bin/vi; a COPY of symlinks; a Debian Dockerfile that apt-get installs hello; both pushed, read back
# with skopeo, their layers checked for the owner, the whiteout and the links, and hello run from the pushed image.
# Prints the matrix (setting -> works / the error) and each setting's build times beside the host's.
#
# Needs, besides tools/setup-machine.sh's packages: docker.io, out/img (dotnet publish src/Img.Cli -c Release -o out)
# and the Debian tarball the integration tests cache. Usage: sudo bash tools/container-tests.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
user=${IMG_TEST_USER:-imgtest}
img="$repo/out/img"
debian_tar=/var/tmp/img-test-cache/debian-bookworm-minbase.tar
for need in /usr/sbin/dockerd /usr/bin/docker /usr/bin/docker-registry skopeo "$img" "$debian_tar"; do
  command -v "$need" >/dev/null 2>&1 || [ -e "$need" ] || { echo "container-tests: $need is missing" >&2; exit 1; }
done

# Inputs the containers mount, and dockerd's own root apart from them: a container that could see dockerd's
# mounts would see a procfs that makes a fresh /proc mountable, and the test would prove nothing.
work=$(mktemp -d /tmp/img-container-tests.XXXXXX)
daemon=$(mktemp -d /tmp/img-dockerd.XXXXXX)
chmod 0755 "$work"
dockerd_pid= registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
  fi
  # dockerd leaves its network namespace file mounted under its exec root.
  awk -v d="$daemon/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$work" "$daemon" 2>/dev/null || true
}
trap cleanup EXIT

as_user() { setpriv --reuid "$user" --regid "$user" --init-groups env HOME="/home/$user" USER="$user" "$@"; }
docker() { /usr/bin/docker -H "unix://$daemon/sock" "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

/usr/sbin/dockerd --data-root "$daemon/data" --exec-root "$daemon/exec" --pidfile "$daemon/pid" -H "unix://$daemon/sock" \
  --bridge=none --iptables=false --ip6tables=false --ip-masq=false >"$daemon/log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.3; done
docker info >/dev/null 2>&1 || { echo "container-tests: dockerd did not start:" >&2; tail -20 "$daemon/log" >&2; exit 1; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$work/registry/storage" "$port" >"$work/registry/config.yml"
/usr/bin/docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.2; done
reg=127.0.0.1:$port

# The image of img, built by img as the test user.
install -d -o "$user" -g "$user" "$work/image-ctx" "$work/host-state"
install -m 0755 -o "$user" "$img" "$work/image-ctx/img"
as_user "$img" -s "$work/host-state" import "$debian_tar" debian:bookworm >/dev/null
as_user "$img" -s "$work/host-state" build --no-console -f "$repo/Containerfile" -t img-under-test "$work/image-ctx" >"$work/image-build.log" 2>&1 \
  || { tail -30 "$work/image-build.log" >&2; exit 1; }
as_user "$img" -s "$work/host-state" save img-under-test | docker load >/dev/null

# The contexts every setting builds.
mkdir -p "$work/in/busybox" "$work/in/apt" "$work/in/links" "$work/in/busybox-root/bin" "$work/in/busybox-root/etc"
cp /bin/busybox "$work/in/busybox-root/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$work/in/busybox-root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/in/busybox-root/etc/passwd"
printf 'root:x:0:\n' >"$work/in/busybox-root/etc/group"
tar --numeric-owner --owner=0 --group=0 -C "$work/in/busybox-root" -cf "$work/in/busybox.tar" .
cp "$debian_tar" "$work/in/debian.tar"
printf 'FROM busybox\nRUN echo made > /made && chown 1234 /made && rm /bin/vi\n' >"$work/in/busybox/Dockerfile"
printf 'FROM debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends hello && rm -rf /var/lib/apt/lists/*\nCMD ["hello"]\n' \
  >"$work/in/apt/Dockerfile"
printf 'FROM busybox\nCOPY . /links/\n' >"$work/in/links/Dockerfile"
echo target >"$work/in/links/file"
ln -s file "$work/in/links/relative"
ln -s /links/file "$work/in/links/absolute"
cat >"$work/in/builds.sh" <<'EOF'
# Runs in the container as user 1000: imports the bases, times the builds, pushes.
set -eu
reg=$1
img import /in/busybox.tar busybox >/dev/null
img import /in/debian.tar debian:bookworm >/dev/null
t0=$(date +%s.%N)
img -d build --no-console -t "$reg/ct/busybox" /in/busybox
t1=$(date +%s.%N)
img build --no-console -t "$reg/ct/apt" /in/apt
t2=$(date +%s.%N)
img build --no-console -t "$reg/ct/links" /in/links
for i in busybox apt links; do img push "$reg/ct/$i"; done
echo "TIMES busybox=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') apt=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')"
EOF
chmod -R a+rX "$work/in"

# The host's own times, as the test user, for comparison.
install -d -o "$user" -g "$user" "$work/host-build"
as_user "$img" -s "$work/host-build" import "$work/in/busybox.tar" busybox >/dev/null
as_user "$img" -s "$work/host-build" import "$debian_tar" debian:bookworm >/dev/null
t0=$(now); as_user "$img" -s "$work/host-build" build --no-console -t host/busybox "$work/in/busybox" >/dev/null 2>&1; t1=$(now)
as_user "$img" -s "$work/host-build" build --no-console -t host/apt "$work/in/apt" >/dev/null 2>&1; t2=$(now)
host_busybox=$(elapsed "$t0" "$t1"); host_apt=$(elapsed "$t1" "$t2")

# Checks what a setting pushed: skopeo reads it, its layers hold the owner, the whiteout and the links, hello runs.
check_pushed() {
  local name=$1 out="$work/pulled-$1"
  skopeo inspect --tls-verify=false "docker://$reg/ct/busybox" >/dev/null
  skopeo copy -q --src-tls-verify=false "docker://$reg/ct/busybox" "dir:$out-busybox" >/dev/null
  skopeo copy -q --src-tls-verify=false "docker://$reg/ct/links" "dir:$out-links" >/dev/null
  local layers
  layers=$(for f in "$out-busybox"/*; do tar -tvzf "$f" 2>/dev/null || true; done)
  grep -Eq '^-rw.* 1234/0 .*made$' <<<"$layers" || { echo "$name: /made is not owned by 1234 in the pushed layer"; return 1; }
  grep -q 'bin/\.wh\.vi$' <<<"$layers" || { echo "$name: no whiteout for /bin/vi in the pushed layer"; return 1; }
  layers=$(for f in "$out-links"/*; do tar -tvzf "$f" 2>/dev/null || true; done)
  grep -q 'links/relative -> file$' <<<"$layers" && grep -q 'links/absolute -> /links/file$' <<<"$layers" \
    || { echo "$name: the COPY lost its symlinks"; return 1; }
  docker run --rm --network host "$reg/ct/apt" | grep -q 'Hello, world!' || { echo "$name: hello did not run from the pushed image"; return 1; }
}

failures=0
matrix=()
run_setting() {
  local name=$1 expect=$2 pid=${3:-}; shift 3
  local log="$work/setting-$name.log" start end rc=0
  start=$(now)
  timeout 900 /usr/bin/docker -H "unix://$daemon/sock" run --rm --network host -v "$work/in:/in:ro" "$@" \
    --entrypoint sh img-under-test /in/builds.sh "$reg" >"$log" 2>&1 || rc=$?
  end=$(now)
  if [ "$expect" = fail ]; then
    local error; error=$(grep -m1 '^Error:' "$log" || true)
    if [ "$rc" -ne 0 ] && [ -n "$error" ] && [ "$(elapsed "$start" "$end" | cut -d. -f1)" -lt 30 ] && ! grep -q 'level=' <<<"$error"; then
      matrix+=("$name | clear error in $(elapsed "$start" "$end")s: ${error}")
    else
      matrix+=("$name | WRONG: expected one Error: line within 30s, got exit $rc"); failures=$((failures + 1)); tail -20 "$log"
    fi
    return
  fi
  if [ "$rc" -ne 0 ]; then
    matrix+=("$name | FAILED (exit $rc): $(grep -m1 -E '^Error:' "$log" || tail -1 "$log")"); failures=$((failures + 1)); tail -30 "$log"
    return
  fi
  # RUN's PID isolation is what the setting allows: img says at -d level when it shares its PID namespace.
  local isolation=own
  grep -q 'a fresh /proc cannot be mounted here' "$log" && isolation=shared
  grep -q 'executor proot' "$log" && isolation=proot
  if [ "$isolation" != "$pid" ]; then
    matrix+=("$name | FAILED: RUN had the $isolation PID namespace, expected $pid"); failures=$((failures + 1))
    return
  fi
  local why
  if why=$(check_pushed "$name"); then
    local times; times=$(grep -m1 '^TIMES' "$log" | sed 's/^TIMES //')
    local how="RUN with $isolation PID namespace"
    [ "$isolation" = proot ] && how="RUN under proot, no namespace"
    matrix+=("$name | works, $how; $times (host: busybox=$host_busybox apt=$host_apt)")
  else
    matrix+=("$name | FAILED: $why"); failures=$((failures + 1))
  fi
}

unconfined=(--security-opt seccomp=unconfined --security-opt apparmor=unconfined)
# No user namespace can be made in the first three: RUN runs under proot (root chowns for real, user 1000's owners
# are recorded by img).
run_setting default-seccomp build proot
run_setting root-default-seccomp build proot --user 0
run_setting restricted build proot --user 1000 --cap-drop ALL --security-opt no-new-privileges
run_setting original-recipe build shared "${unconfined[@]}"
run_setting systempaths-unconfined build own "${unconfined[@]}" --security-opt systempaths=unconfined
if /usr/bin/docker -H "unix://$daemon/sock" run --rm --privileged --entrypoint true img-under-test >/dev/null 2>&1; then
  run_setting privileged build own --privileged
else
  # A machine whose own bounding set lacks a capability (CAP_SYS_RESOURCE here) cannot start a privileged container.
  echo "docker cannot start --privileged containers here: using --cap-add ALL --cap-drop SYS_RESOURCE instead"
  run_setting privileged-less-sys-resource build own --cap-add ALL --cap-drop SYS_RESOURCE "${unconfined[@]}" --security-opt systempaths=unconfined
fi

echo
echo "setting | result (build seconds in the container; the host's beside)"
printf '%s\n' "${matrix[@]}"
exit $((failures > 0))
