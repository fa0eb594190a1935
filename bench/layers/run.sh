#!/usr/bin/env bash
# Layer write benchmark: tar + diffID + gzip + blob digest in one pass (img) versus tar|gzip and tar|pigz.
# Usage: bench/layers/run.sh [MiB=300]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mib="${1:-300}"
work="$(mktemp -d /tmp/img-layer-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
dotnet build -c Release -v q "$here" -o "$work/bin" >/dev/null
"$work/bin/LayerBench" gen "$work/tree" "$mib"
sync
report() { # label, time -v output file
  awk -v label="$1" '/Elapsed \(wall clock\)/{w=$NF} /Percent of CPU/{c=$NF} /Maximum resident/{r=$NF}
    END{printf "%-28s wall %s  cpu %s  peak RSS %d MiB\n", label, w, c, r/1024}' "$2"
}
/usr/bin/time -v "$work/bin/LayerBench" layer "$work/tree" "$work/img.tar.gz" gzip 2>"$work/t1"
report "img (one pass, gzip)" "$work/t1"
/usr/bin/time -v "$work/bin/LayerBench" layer "$work/tree" "$work/img.tar.zst" zstd 2>"$work/t4"
report "img (one pass, zstd)" "$work/t4"
/usr/bin/time -v bash -c "tar -C '$work/tree' -cf - . | gzip > '$work/gnu.tar.gz'" 2>"$work/t2"
report "tar -c | gzip" "$work/t2"
echo "  $(stat -c %s "$work/gnu.tar.gz" | awk '{printf "%.1f MiB", $1/1048576}') (img gzip: $(stat -c %s "$work/img.tar.gz" | awk '{printf "%.1f MiB", $1/1048576}'))"
if command -v pigz >/dev/null; then
  /usr/bin/time -v bash -c "tar -C '$work/tree' -cf - . | pigz > '$work/pigz.tar.gz'" 2>"$work/t3"
  report "tar -c | pigz" "$work/t3"
else
  echo "pigz not installed: skipped"
fi
gzip -t "$work/img.tar.gz" && echo "gzip -t: img layer OK"
