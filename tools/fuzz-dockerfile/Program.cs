using System.Diagnostics;
using System.Globalization;
using System.Text;
using FuzzDockerfile;

// Usage: dotnet run -c Release --project tools/fuzz-dockerfile -- [seconds=120] [seed]
//        dotnet run -c Release --project tools/fuzz-dockerfile -- --replay FILE
var utf8 = new UTF8Encoding(false);
var root = FindRepoRoot();
var crashDir = Path.Combine(root, "tools", "fuzz-dockerfile", "crashes");
Directory.CreateDirectory(crashDir);
var inflight = Path.Combine(crashDir, "inflight.txt");
var timeout = TimeSpan.FromSeconds(2);
const long MemoryLimit = 1L << 30;

if (args is ["--replay", var replayPath])
{
    Targets.Run(File.ReadAllText(replayPath, utf8), (name, took) => Console.WriteLine($"{name}: {took.TotalMilliseconds:F0} ms"));
    Console.WriteLine("no unexpected exception");
    return 0;
}

var seconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 120;
var seed = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : Environment.TickCount;
if (File.Exists(inflight))
{
    // A previous run died inside the library (stack overflow, fail-fast): its last input is the culprit.
    var kept = Path.Combine(crashDir, $"process-death-{DateTime.UtcNow:yyyyMMddHHmmss}.txt");
    File.Move(inflight, kept);
    Console.WriteLine($"previous run died on an input, kept as {kept}");
}

var conformance = Path.Combine(root, "..", "shared", "conformance");
var dockerfiles = Directory.GetDirectories(Path.Combine(conformance, "dockerfile-parser"), "testfile*")
    .SelectMany(d => Directory.GetFiles(d, "Dockerfile", SearchOption.AllDirectories))
    .Select(f => File.ReadAllText(f, utf8)).ToList();
var shellWords = ShellCorpus(Path.Combine(conformance, "dockerfile-shell"));
Console.WriteLine($"seed {seed}; {dockerfiles.Count} Dockerfiles and {shellWords.Count} shell words as mutation seeds; {seconds}s");

var generator = new Generator(new Random(seed), dockerfiles, shellWords);
var worker = new Worker();
var abandoned = 0;
long inputs = 0, crashes = 0, hangs = 0;
var seen = new HashSet<string>(StringComparer.Ordinal);
var clock = Stopwatch.StartNew();
while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
{
    var input = generator.Next();
    inputs++;
    File.WriteAllText(inflight, input, utf8);
    var (finished, error) = worker.Run(input, timeout, () => GC.GetTotalMemory(false) < MemoryLimit);
    if (!finished)
    {
        hangs++;
        var why = GC.GetTotalMemory(false) >= MemoryLimit ? "memory past 1 GiB" : $"no result within {timeout.TotalSeconds}s";
        Report("hang", input, why);
        worker = new Worker();
        if (++abandoned >= 3)
        {
            Console.WriteLine("3 workers stuck; stopping early");
            break;
        }
        continue;
    }
    if (error is not null)
    {
        // One report per distinct throw site keeps the output readable; every input is still counted.
        crashes++;
        var site = error.GetType().FullName + " " + error.StackTrace?.Split('\n').FirstOrDefault()?.Trim();
        if (seen.Add(site))
            Report("crash", input, error.ToString());
    }
}
File.Delete(inflight);
Console.WriteLine($"inputs: {inputs}, crashes: {crashes}, hangs: {hangs}, seconds: {clock.Elapsed.TotalSeconds:F0}");
return crashes + hangs > 0 ? 1 : 0;

void Report(string kind, string input, string detail)
{
    var name = $"{kind}-{DateTime.UtcNow:yyyyMMddHHmmssfff}-{inputs}.txt";
    File.WriteAllText(Path.Combine(crashDir, name), input, utf8);
    var shown = input.Length > 2000 ? input[..2000] + $"... ({input.Length} chars)" : input;
    Console.WriteLine($"=== {kind}: crashes/{name}\n--- input (C# literal) ---\n{Literal(shown)}\n--- detail ---\n{detail}\n");
}

static string Literal(string s)
{
    var sb = new StringBuilder("\"");
    foreach (var c in s)
    {
        sb.Append(c switch
        {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            _ when c < 0x20 || char.IsSurrogate(c) || c > 0x7e => $"\\u{(int)c:x4}",
            _ => c.ToString(),
        });
    }
    return sb.Append('"').ToString();
}

static List<string> ShellCorpus(string dir)
{
    var words = new List<string>();
    foreach (var line in File.ReadLines(Path.Combine(dir, "envVarTest")).Concat(File.ReadLines(Path.Combine(dir, "wordsTest"))))
    {
        if (line.StartsWith('#') || line.Trim().Length == 0)
            continue;
        if (line.StartsWith("ENV ", StringComparison.Ordinal))
        {
            words.Add(line);
            continue;
        }
        // envVarTest: "PLATFORM|word | expected"; wordsTest: "word | expected".
        var body = line.Length > 2 && line[1] == '|' ? line[2..] : line;
        var bar = body.LastIndexOf('|');
        words.Add((bar >= 0 ? body[..bar] : body).Trim());
    }
    return words;
}

static string FindRepoRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "img.sln")))
        dir = dir.Parent;
    return dir?.FullName ?? throw new InvalidOperationException("img.sln not found above " + AppContext.BaseDirectory);
}
