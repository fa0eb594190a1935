#!/usr/bin/env bash
# Long mode of the kill -9 tests (tests/Img.IntegrationTests/CrashSafetyTests.cs): 100 kills per
# operation (pull, build, save, push) with 32 MiB of random data, then the concurrency, disk-full and
# secrets tests. Prints the kills survived per operation and keeps the log in bench/crash/results/.
# Usage: bench/crash/run.sh [kills] [MiB]   (as root: the tests drop to the test user for img)
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export IMG_CRASH_KILLS=${1:-100} IMG_CRASH_MIB=${2:-32}

dotnet publish src/Img.Cli -c Release -o out --nologo -v quiet
mkdir -p bench/crash/results
log=bench/crash/results/crash-$(date -u +%Y%m%dT%H%M%SZ).log
echo "== kill -9 loops: $IMG_CRASH_KILLS kills per operation, $IMG_CRASH_MIB MiB; log in $log"
status=0
dotnet test tests/Img.IntegrationTests --nologo \
  --filter "FullyQualifiedName~CrashSafetyTests|FullyQualifiedName~ConcurrencyTests|FullyQualifiedName~DiskFullTests|FullyQualifiedName~SecretsTests" \
  --logger "console;verbosity=detailed" -- xUnit.ParallelizeTestCollections=false > "$log" 2>&1 || status=$?
grep -E "kills survived|left behind|concurrent runs|prunes ran|tmpfs used|searched|checked for the password|namespace child and its container gone|^\s*(Passed|Failed) Img" "$log" | sed 's/^ *//' | sort -u
grep -E "^(Passed!|Failed!)|Total tests" "$log" || true
exit $status
