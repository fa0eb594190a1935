#!/usr/bin/env bash
# The whole test suite: sets the machine up (as root), publishes img, runs every test project.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if [ "$(id -u)" = 0 ]; then
  bash tools/setup-machine.sh
fi

echo "== publishing img (NativeAOT)"
dotnet publish src/Img.Cli -c Release -o out --nologo -v quiet
./out/img version

echo "== running the tests"
log=$(mktemp)
status=0
dotnet test img.sln --nologo -v quiet 2>&1 | tee "$log" || status=$?

# One closing line over every test project: "N passed, N failed, N skipped".
awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { f += $(i+1) + 0 }
      if ($i == "Passed:")  { p += $(i+1) + 0 }
      if ($i == "Skipped:") { s += $(i+1) + 0 }
    }
  }
  END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }
' "$log"
rm -f "$log"
exit $status
