#!/usr/bin/env bash
# Installs what img and its tests need on a fresh Debian 12 machine, and the unprivileged
# test user with subordinate id ranges. Idempotent; run as root.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "setup-machine.sh must run as root (it installs packages and creates a user)" >&2
  exit 1
fi

packages=(
  uidmap          # newuidmap/newgidmap: user namespaces with subordinate ids
  crun runc       # OCI runtimes for RUN
  fuse-overlayfs  # the fuse snapshotter
  libsqlite3-0    # the metadata database engine
  docker-registry # the real registry the tests push to and pull from
  apache2-utils   # htpasswd, for the registry's Basic auth shape
  openssl         # test CAs and token-signing keys
  busybox-static  # a base image made offline
  skopeo umoci    # interop oracles
  buildah         # the build parity oracle
  debootstrap     # the Debian base image the apt tests build on
  ca-certificates util-linux procps git
  zstd            # an independent decoder for zstd layers in the tests
  curl python3    # tools/demo.sh waits on its registry and picks a free port with them
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The registry package starts a system service on :5000; the tests start their own.
systemctl disable --now docker-registry >/dev/null 2>&1 || true
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true

# The unprivileged user the integration tests run img as.
user=${IMG_TEST_USER:-imgtest}
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$user"
fi
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  grep -q "^$user:" "$f" || echo "$user:200000:65536" >> "$f"
done
# A user without subordinate ids, for the single-id fallback.
if ! id -u "${user}nosub" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "${user}nosub"
fi
echo "machine ready: test user $user ($(id -u "$user")), $(grep "^$user:" /etc/subuid)"
