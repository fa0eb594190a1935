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
