using System.Diagnostics;
using Img.Dockerfile;

// Measures .dockerignore matching over a synthetic 100,000-file context, with and without directory skipping.
const int FileCount = 100_000;
var ignore = DockerIgnore.Parse("""
    # typical project ignore file
    **/*.log
    node_modules
    !node_modules/keep-me
    build/**
    **/bin
    **/obj
    *.tmp
    docs/*/draft-*
    !docs/*/draft-final.md
    .git
    """);

var random = new Random(42);
string[] tops = ["src", "node_modules", "build", "docs", "tests", ".git", "tools", "assets"];
var paths = new List<string>(FileCount);
for (var i = 0; i < FileCount; i++)
{
    var depth = random.Next(1, 6);
    var parts = new List<string> { tops[random.Next(tops.Length)] };
    for (var d = 1; d < depth; d++)
        parts.Add(random.Next(10) switch { 0 => "bin", 1 => "obj", _ => $"d{random.Next(30)}" });
    parts.Add($"f{i}{(random.Next(5) == 0 ? ".log" : ".cs")}");
    paths.Add(string.Join('/', parts));
}

// Warm up (regex compilation, JIT).
_ = paths.Take(1000).Count(ignore.IsExcluded);

var sw = Stopwatch.StartNew();
var excluded = 0;
foreach (var p in paths)
{
    if (ignore.IsExcluded(p))
        excluded++;
}
sw.Stop();
Console.WriteLine($"per-file matching: {FileCount:N0} paths, {excluded:N0} excluded, {sw.Elapsed.TotalMilliseconds:F1} ms ({FileCount / sw.Elapsed.TotalSeconds:N0} paths/s)");

// Walk-style: skip whole directories when allowed, as a context walker would.
var fresh = DockerIgnore.Parse(string.Join('\n', ignore.Patterns));
sw.Restart();
var skippedDirs = new HashSet<string>(StringComparer.Ordinal);
var checkedDirs = new Dictionary<string, bool>(StringComparer.Ordinal);
var walkExcluded = 0;
foreach (var p in paths)
{
    var skip = false;
    for (var slash = p.IndexOf('/'); slash >= 0; slash = p.IndexOf('/', slash + 1))
    {
        var dir = p[..slash];
        if (!checkedDirs.TryGetValue(dir, out var canSkip))
            checkedDirs[dir] = canSkip = fresh.CanSkipDir(dir);
        if (canSkip)
        {
            skippedDirs.Add(dir);
            skip = true;
            break;
        }
    }
    if (skip || fresh.IsExcluded(p))
        walkExcluded++;
}
sw.Stop();
Console.WriteLine($"walk with CanSkipDir: {walkExcluded:N0} excluded ({skippedDirs.Count:N0} dirs skipped), {sw.Elapsed.TotalMilliseconds:F1} ms");
if (walkExcluded != excluded)
{
    Console.Error.WriteLine("mismatch between per-file matching and directory skipping");
    return 1;
}
return 0;
