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
  qemu-user-static binfmt-support  # RUN for foreign architectures (binfmt_misc handlers with the F flag)
  skopeo umoci    # interop oracles
  buildah         # the build parity oracle
  debootstrap     # the Debian base image the apt tests build on
  ca-certificates util-linux procps git
  zstd            # an independent decoder for zstd layers in the tests
  curl python3    # tools/demo.sh waits on its registry and picks a free port with them
  docker.io       # tools/container-tests.sh runs img in containers under a private dockerd of its own
  proot           # RUN without a user namespace (no subordinate ids, docker's default seccomp, Pod Security Restricted)
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
# The registry package starts a system service on :5000; the tests start their own. Likewise docker: the container
# tests start a private dockerd (own root and socket, no bridge, no iptables), never the system one.
systemctl disable --now docker-registry >/dev/null 2>&1 || true
systemctl disable --now docker.service docker.socket containerd.service >/dev/null 2>&1 || true
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true

# Foreign-architecture RUN: qemu-user-static's binfmt_misc handlers must carry the F flag, so the kernel
# holds the interpreter open and it works inside a container's root (where /usr/libexec/qemu-binfmt is not).
binfmt=/proc/sys/fs/binfmt_misc
[ -e "$binfmt/status" ] || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || true
if [ -e "$binfmt/status" ]; then
  echo 1 > "$binfmt/status" 2>/dev/null || true
  for arch in aarch64 arm s390x ppc64le riscv64; do
    entry="$binfmt/qemu-$arch"
    grep -q '^flags:.*F' "$entry" 2>/dev/null && { grep -qx enabled "$entry" || echo 1 > "$entry"; continue; }
    update-binfmts --import "qemu-$arch" >/dev/null 2>&1 || true
    grep -q '^flags:.*F' "$entry" 2>/dev/null && continue
    # binfmt-support did not register it with F: register it by hand from the package's description.
    def=/usr/share/binfmts/qemu-$arch
    [ -f "$def" ] || continue
    [ -e "$entry" ] && echo -1 > "$entry"
    field() { sed -n "s/^$1 //p" "$def"; }
    printf ':qemu-%s:M:%s:%s:%s:%s:FP' "$arch" "$(field offset)" "$(field magic)" "$(field mask)" "$(field interpreter)" > "$binfmt/register" || true
  done
  grep -H '^flags' "$binfmt/qemu-aarch64" || echo "warning: no qemu-aarch64 binfmt_misc handler: foreign-architecture RUN tests will fail" >&2
else
  echo "warning: binfmt_misc cannot be mounted here: foreign-architecture RUN tests will fail" >&2
fi

# Test material for multi-platform builds, made offline later: busybox-static for arm64 from Debian's mirror,
# with a private package list so the machine's own apt configuration is not touched.
cache=/var/tmp/img-test-cache
install -d -m 0755 "$cache"
for arch in arm64; do
  [ -x "$cache/busybox-$arch" ] && continue
  work=$(mktemp -d)
  opts=(-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "Dir::State::Lists=$work/lists"
        -o "Dir::Cache=$work/cache" -o "Dir::State::status=/dev/null" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  if apt-get "${opts[@]}" update -qq >/dev/null && (cd "$work" && apt-get "${opts[@]}" download -qq "busybox-static:$arch" >/dev/null 2>&1); then
    dpkg-deb -x "$work"/busybox-static_*_"$arch".deb "$work/root"
    install -m 0755 "$work/root/bin/busybox" "$cache/busybox-$arch.tmp" && mv "$cache/busybox-$arch.tmp" "$cache/busybox-$arch"
  else
    echo "warning: could not fetch busybox-static:$arch: multi-platform build tests will fail" >&2
  fi
  rm -rf "$work"
done

# The unprivileged user the integration tests run img as.
user=${IMG_TEST_USER:-imgtest}
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$user"
fi
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  grep -q "^$user:" "$f" || echo "$user:200000:65536" >> "$f"
done
# A user without subordinate ids (an LDAP login on an HPC machine): img builds there without a user namespace.
# useradd gives a new user ranges on its own (SUB_UID_COUNT in login.defs), so whatever ranges it has are removed,
# read back from /etc/subuid and /etc/subgid.
nosub="${user}nosub"
if ! id -u "$nosub" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$nosub"
fi
for kind in uid gid; do
  # Nothing left to remove on a second run: grep's "no match" is not a failure here.
  { grep "^$nosub:" "/etc/sub$kind" 2>/dev/null || true; } | while IFS=: read -r _ start count; do
    usermod "--del-sub${kind}s" "$start-$((start + count - 1))" "$nosub"
  done
done
echo "machine ready: test user $user ($(id -u "$user")), $(grep "^$user:" /etc/subuid)"
