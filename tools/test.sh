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

# Every temporary directory of this run (state directories, contexts, registries: gigabytes) lives under one
# directory that is removed at the end, pass or fail: runs must not fill the disk they share.
log=$(mktemp /tmp/img-tests-log.XXXXXX)
TMPDIR=$(mktemp -d /tmp/img-tests.XXXXXX)
chmod 1777 "$TMPDIR"   # the unprivileged test users make their own directories here, as in /tmp
export TMPDIR
clean_tmp() {
  [ -d "$TMPDIR" ] || return 0
  echo "== temporary space this run used: $(du -sh --one-file-system "$TMPDIR" 2>/dev/null | cut -f1) (removed)"
  rm -rf --one-file-system "$TMPDIR" 2>/dev/null || true
}
trap 'clean_tmp; rm -f "$log"' EXIT

echo "== running the tests ($(df -h --output=avail "$TMPDIR" | tail -1 | tr -d ' ') free where they write)"
status=0
# The console logger at "minimal" prints each failure's message and stack (the build's own output stays quiet).
dotnet test img.sln --nologo -v quiet --logger "console;verbosity=minimal" 2>&1 | tee "$log" || status=$?

# img inside docker containers, one setting of README's "Running with Docker" table each (needs root for dockerd;
# runs after the .NET tests, which cache the Debian base it builds on). Counted as one test.
containers=skipped
if [ "$(id -u)" = 0 ]; then
  echo "== img in containers (tools/container-tests.sh)"
  if bash tools/container-tests.sh; then containers=passed; else containers=failed; status=1; fi
else
  echo "== img in containers: skipped (tools/container-tests.sh needs root to start its dockerd)"
fi

# The failures again, just above the closing line, so a log cut to its tail still names each and why (40 lines each).
if grep -q '^  Failed ' "$log"; then
  echo "== failures"
  awk '/^  Failed /{n=40} n>0{print; n--} /^  Stack Trace:/{n=0}' "$log"
fi

clean_tmp

# One closing line over every test project: "N passed, N failed, N skipped".
awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { f += $(i+1) + 0 }
      if ($i == "Passed:")  { p += $(i+1) + 0 }
      if ($i == "Skipped:") { s += $(i+1) + 0 }
    }
  }
  END {
    if (c == "passed") p++; else if (c == "failed") f++; else s++
    printf "tests: %d passed, %d failed, %d skipped\n", p, f, s
  }
' c="$containers" "$log"
rm -f "$log"
exit $status
