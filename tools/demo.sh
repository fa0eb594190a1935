#!/usr/bin/env bash
# Builds img and runs a real example end to end as an ordinary user: a Dockerfile is built
# from Debian's static busybox (no network needed), then a second image FROM it runs RUN
# steps; the result is listed, inspected, pushed to a loopback registry, pulled back into a
# fresh state, saved, loaded and unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if [ "$(id -u)" = 0 ]; then
  bash tools/setup-machine.sh
  user=${IMG_TEST_USER:-imgtest}
  as_user() { setpriv --reuid "$user" --regid "$user" --init-groups env HOME="/home/$user" USER="$user" PATH="$PATH" "$@"; }
else
  as_user() { "$@"; }
fi

echo "== publishing img (NativeAOT)"
dotnet publish src/Img.Cli -c Release -o out --nologo -v quiet
img=$(pwd)/out/img

work=$(mktemp -d /tmp/img-demo.XXXXXX)
chmod 755 "$work"
registry_pid=
cleanup() { [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true; }
trap cleanup EXIT

# A loopback registry of our own, for push and pull.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
log:
  level: error
YML
/usr/bin/docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

mkdir -p "$work/base" "$work/app"
cp /bin/busybox "$work/base/busybox"
cat > "$work/base/Dockerfile" <<'DF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd \
 && echo 'root:x:0:' > /etc/group && echo 'app:x:1000:' >> /etc/group
CMD ["sh"]
DF
cat > "$work/app/Dockerfile" <<'DF'
FROM demo/busybox
WORKDIR /app
COPY hello.txt .
RUN wc -c hello.txt > size.txt && chown -R 1000:1000 /app
USER app
ENV GREETING=hello
CMD ["cat", "/app/hello.txt"]
DF
echo "hello from img" > "$work/app/hello.txt"
[ "$(id -u)" = 0 ] && chown -R "${user}:${user}" "$work"

state="$work/state"
run() { echo "\$ img $*"; as_user "$img" --state "$state" "$@"; }
run version
run build --no-console -t demo/busybox "$work/base"
run build --no-console -t demo/app:1 -t "127.0.0.1:$port/demo/app:1" "$work/app"
run ls
run inspect demo/app:1 | head -30
run push "127.0.0.1:$port/demo/app:1"
run --state "$work/state2" pull "127.0.0.1:$port/demo/app:1"
run save -o "$work/app.tar" demo/app:1
run rm demo/app:1
run load -i "$work/app.tar"
run unpack -o "$work/rootfs" demo/app:1
echo "\$ cat $work/rootfs/app/hello.txt $work/rootfs/app/size.txt"
cat "$work/rootfs/app/hello.txt" "$work/rootfs/app/size.txt"
run du
echo "demo finished: state in $state"
