# make_context DIR FILES: a build context of FILES small files (50..2050 bytes, deterministic)
# in nested directories, 10 files per leaf directory, 10 leaves per top directory.
make_context() {
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(2000)
for i in range(n):
    d = os.path.join(root, f"top{i // 100:02d}", f"leaf{(i // 10) % 10}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i % 10}.txt"), "w") as f:
        f.write("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz\n") for _ in range(50 + rnd.randrange(2000))))
PY
}

# make_files DIR FILES DIRS MIN MAX SEED: FILES files of MIN..MAX bytes (deterministic for SEED) spread evenly over
# DIRS directories two levels deep (d000/s0 ...), the shape of a source tree. Text-like content (base64).
make_files() {
  python3 - "$@" <<'PY'
import base64, os, random, sys
root, n, dirs, lo, hi, seed = sys.argv[1], *map(int, sys.argv[2:7])
rnd = random.Random(seed)
per = max(1, n // dirs)
for i in range(n):
    d = i // per
    path = os.path.join(root, f"d{d // 10:03d}", f"s{d % 10}")
    if i % per == 0:
        os.makedirs(path, exist_ok=True)
    size = rnd.randint(lo, hi)
    with open(os.path.join(path, f"f{i % per:04d}.txt"), "wb") as f:
        f.write(base64.b64encode(rnd.randbytes(size))[:size])
PY
}

# make_big_file PATH MIB: one file of MIB MiB, the first half random, the second a repeated 4 KiB pattern
# (what a compressor can and cannot shrink).
make_big_file() {
  local half=$(($2 / 2)) rest=$(($2 - $2 / 2))
  { head -c $((half * 1048576)) /dev/urandom
    python3 -c 'import sys; b = bytes(range(256)) * 16; [sys.stdout.buffer.write(b) for _ in range(int(sys.argv[1]) * 256)]' "$rest"
  } > "$1"
}

# make_chain DOCKERFILE STAGES: a chain of STAGES stages, each copying the previous stage's /chain and appending
# a line to it with a tiny RUN; the last stage is the target.
make_chain() {
  local df=$1 n=$2 i
  { echo "ARG BASE"
    echo "FROM \${BASE} AS s1"
    echo "RUN echo 1 > /chain"
    for i in $(seq 2 "$n"); do
      echo "FROM \${BASE} AS s$i"
      echo "COPY --from=s$((i - 1)) /chain /chain"
      echo "RUN echo $i >> /chain"
    done
  } > "$df"
}

# make_runs DOCKERFILE STEPS: STEPS trivial RUN steps (different texts, so each is its own step).
make_runs() {
  local df=$1 n=$2 i
  { echo "ARG BASE"; echo "FROM \${BASE}"; for i in $(seq 1 "$n"); do echo "RUN true $i"; done; } > "$df"
}
