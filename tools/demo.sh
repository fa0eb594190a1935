#!/usr/bin/env bash
# Builds img and runs a real example end to end as an ordinary user: an image made offline
# from Debian's static busybox is imported, tagged, listed, inspected, saved and loaded again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if [ "$(id -u)" = 0 ]; then
  bash tools/setup-machine.sh
  user=${IMG_TEST_USER:-imgtest}
  as_user() { setpriv --reuid "$user" --regid "$user" --init-groups env HOME="/home/$user" USER="$user" "$@"; }
else
  as_user() { "$@"; }
fi

echo "== publishing img (NativeAOT)"
dotnet publish src/Img.Cli -c Release -o out --nologo -v quiet
img=$(pwd)/out/img

work=$(mktemp -d /tmp/img-demo.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh ls echo cat; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo "root:x:0:0:root:/root:/bin/sh" > "$work/rootfs/etc/passwd"
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/busybox.tar" .
[ "$(id -u)" = 0 ] && chown -R "${user}:${user}" "$work"

state="$work/state"
run() { echo "\$ img $*"; as_user "$img" --state "$state" "$@"; }
run version
run import -m "busybox from Debian" "$work/busybox.tar" demo/busybox:1
run tag demo/busybox:1 demo/busybox:latest
run ls
run inspect demo/busybox:latest | head -20
run save -o "$work/busybox-image.tar" demo/busybox:latest
run rm demo/busybox:1 demo/busybox:latest
run load -i "$work/busybox-image.tar"
run ls
echo "demo finished: state in $state"
