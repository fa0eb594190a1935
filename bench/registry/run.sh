#!/bin/sh
# Pushes and pulls one random layer (default 300 MiB) through img's registry client and through
# skopeo against a loopback docker-registry; prints wall time and peak RSS of each, and the ratios.
#   bench/registry/run.sh [size-MiB]
# IMG_BINARY=/path/to/img makes it also time `img push/pull` once the CLI is wired (not required).
set -eu
SIZE_MIB=${1:-300}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/img-registry-bench.XXXXXX)
REG_PID=""
cleanup() { [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || shuf -i 20000-60000 -n 1)
HOST=127.0.0.1:$PORT
cat > "$WORK/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: $HOST
YAML
/usr/bin/docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
i=0
until curl -fs "http://$HOST/v2/" >/dev/null 2>&1; do
  i=$((i+1)); [ $i -gt 100 ] && { echo "registry did not start"; cat "$WORK/registry.log"; exit 1; }
  sleep 0.1
done

dotnet build -c Release -v q --nologo "$HERE/RegistryBench" -o "$WORK/bin" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
BENCH="dotnet $WORK/bin/RegistryBench.dll"

echo "generating a ${SIZE_MIB} MiB random layer"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/layer.bin"
set -- $($BENCH prepare "$WORK/src" "$WORK/layer.bin")
DIGEST=$1
rm -f "$WORK/layer.bin"
$BENCH layout "$WORK/src" "$DIGEST" "$WORK/layout"

# measure <label> <command...>: wall seconds and max RSS (MiB) from GNU time.
measure() {
  label=$1; shift
  /usr/bin/time -v -o "$WORK/time.txt" "$@" >/dev/null 2>"$WORK/cmd.err" || { echo "$label failed:"; cat "$WORK/cmd.err"; exit 1; }
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$WORK/time.txt")
  printf '%-22s %8.2f s %8s MiB\n' "$label" "$wall" "$rss"
  echo "$label $wall $rss" >> "$WORK/results.txt"
}

echo "== ${SIZE_MIB} MiB layer, registry $HOST"
measure "img-client push" $BENCH push "$WORK/src" "$DIGEST" "$HOST/bench/img:1"
measure "skopeo push" skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:bench" "docker://$HOST/bench/skopeo:1"
measure "img-client pull" $BENCH pull "$WORK/pulled" "$HOST/bench/skopeo:1"
measure "skopeo pull" skopeo copy -q --src-tls-verify=false "docker://$HOST/bench/img:1" "oci:$WORK/skopeo-pulled:bench"
if [ -n "${IMG_BINARY:-}" ] && [ -x "$IMG_BINARY" ]; then
  measure "img push" "$IMG_BINARY" push --insecure-registry "$HOST/bench/img:1"
fi

awk '
  { wall[$1" "$2]=$3; rss[$1" "$2]=$4 }
  END {
    printf "push time ratio img-client/skopeo: %.2f\n", wall["img-client push"]/wall["skopeo push"]
    printf "pull time ratio img-client/skopeo: %.2f\n", wall["img-client pull"]/wall["skopeo pull"]
  }' "$WORK/results.txt"
