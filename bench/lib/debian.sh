# Debian bookworm minbase root filesystem as a tarball, made offline-cacheably with debootstrap
# from the apt mirror this machine already uses. Sourced by bench/run.sh (needs root).

# apt_mirror: the first http(s) Debian archive URI in the machine's apt sources
# (deb822 .sources files and one-line sources.list), without the security archive.
apt_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    case "$f" in *disabled*) continue ;; esac
    uri=$(grep -hoE '(^URIs:[[:space:]]*|^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+' "$f" \
      | grep -oE 'https?://[^[:space:]]+' | grep -v -- '-security' | grep -E '/debian/?$' | head -1)
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  echo "http://deb.debian.org/debian"
}

# debian_rootfs_tar CACHE_DIR: prints the path of the cached tarball, making it on first use.
# /dev is left empty: device nodes cannot be created in an unprivileged build anyway.
# Returns non-zero (with the reason on stderr) when the mirror cannot be reached.
debian_rootfs_tar() {
  local cache=$1 tar="$1/debian-bookworm-minbase.tar" mirror dir
  if [ -s "$tar" ]; then echo "$tar"; return 0; fi
  # The integration tests cache the same tarball (minbase bookworm, no /dev nodes).
  if [ -s /var/tmp/img-test-cache/debian-bookworm-minbase.tar ]; then
    cp /var/tmp/img-test-cache/debian-bookworm-minbase.tar "$tar.tmp" && mv "$tar.tmp" "$tar" && { echo "$tar"; return 0; }
  fi
  mirror=$(apt_mirror)
  if ! timeout 20 curl -fsS -o /dev/null "$mirror/dists/bookworm/Release" 2>"$cache/debootstrap.err"; then
    echo "debootstrap: mirror $mirror unreachable: $(tail -1 "$cache/debootstrap.err")" >&2
    return 1
  fi
  dir=$(mktemp -d "$cache/debootstrap.XXXXXX")
  if ! timeout 900 debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1; then
    echo "debootstrap from $mirror failed: $(tail -3 "$cache/debootstrap.log" | tr '\n' ' ')" >&2
    rm -rf "$dir"
    return 1
  fi
  rm -rf "$dir"/var/cache/apt/archives/*.deb
  tar -C "$dir" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  rm -rf "$dir"
  echo "$tar"
}
