using Img.Dockerfile;

namespace FuzzDockerfile;

/// <summary>
/// Feeds one input to every public entry point of Img.Dockerfile. Everything besides the text (build args,
/// target, ignore paths) is derived from a hash of the text, so a saved input replays exactly.
/// </summary>
internal static class Targets
{
    private static readonly Dictionary<string, string> ShellEnv = new(StringComparer.Ordinal)
    {
        ["PWD"] = "/home", ["SHELL"] = "bash", ["FOO"] = "foo", ["BAR"] = "a b  c", ["EMPTY"] = "", ["X"] = "${X}",
    };

    private static readonly string[] PathPieces =
        ["a", "b", "..", ".", "", "node_modules", "file.log", "*", "x?y", "[ab]", "dir\\", "Dockerfile", "é", "\0", " "];

    /// <summary>The exception types the library throws on purpose for bad input.</summary>
    public static bool IsExpected(Exception e) => e is DockerfileException or ShellExpansionException;

    /// <summary>Runs every target; <paramref name="timing"/> (for replays) hears how long each took.</summary>
    public static void Run(string text, Action<string, TimeSpan>? timing = null)
    {
        var rng = new Random(StableHash(text));
        DockerfileDocument? document = null;
        Timed("parse", () => ParseAndType(text));
        Timed("document", () => document = Try(() => DockerfileDocument.Parse(text)));
        Timed("plan", () => Plan(text, document, rng));
        Timed("shell", () => Shell(text, rng));
        Timed("dockerignore", () => Ignore(text, rng));

        void Timed(string name, Action action)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            Expect(action);
            timing?.Invoke(name, System.Diagnostics.Stopwatch.GetElapsedTime(start));
        }
    }

    private static void ParseAndType(string text)
    {
        var result = Parser.Parse(text);
        _ = result.Dump();
        foreach (var node in result.Ast.Children)
            Expect(() => Instructions.Parse(node));
    }

    private static void Plan(string text, DockerfileDocument? document, Random rng)
    {
        var words = Words(text);
        var args = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["HTTP_PROXY"] = "http://proxy", ["FOO"] = "bar", ["BUILDKIT_SYNTAX"] = "x",
        };
        for (var i = rng.Next(4); i > 0 && words.Count > 0; i--)
            args[Pick(words, rng)] = Pick(words, rng);
        string? target = rng.Next(4) switch
        {
            0 => null,
            1 when document is { Stages.Count: > 0 } => document.Stages[rng.Next(document.Stages.Count)].Name ?? "0",
            2 => rng.Next(-1, 5).ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => words.Count > 0 ? Pick(words, rng) : "",
        };
        var options = new BuildOptions
        {
            BuildArgs = args,
            Target = target,
            TargetPlatform = rng.Next(4) == 0 && words.Count > 0 ? PlatformInfo.Parse(Pick(words, rng)) : new("linux", "arm64", "v8"),
        };
        var plan = BuildPlan.Create(text, options);
        _ = plan.UnusedBuildArgs.Count();
        _ = plan.FindStage(target ?? "0");
        foreach (var stage in plan.BuildOrder)
        {
            var scope = plan.CreateScope(stage, ["PATH=/bin", "HOME=/root"]);
            foreach (var ins in stage.Stage.Commands)
                Expect(() => scope.Apply(ins));
            _ = scope.RunEnvironment();
        }
    }

    private static void Shell(string text, Random rng)
    {
        var inputs = new List<string> { text };
        inputs.AddRange(text.Split('\n').Take(50));
        foreach (var escape in new[] { '\\', '`' })
        {
            var lex = new ShellLex(escape)
            {
                RawQuotes = rng.Next(4) == 0,
                RawEscapes = rng.Next(4) == 0,
                SkipUnsetEnv = rng.Next(4) == 0,
                SkipProcessQuotes = rng.Next(8) == 0,
            };
            foreach (var word in inputs)
            {
                Expect(() => lex.ProcessWord(word, ShellEnv));
                Expect(() => lex.ProcessWords(word, ShellEnv));
                Expect(() => lex.ProcessWordWithMatches(word, ShellEnv));
            }
        }
    }

    private static void Ignore(string text, Random rng)
    {
        var ignore = DockerIgnore.Parse(text);
        var words = Words(text);
        for (var i = 0; i < 40; i++)
        {
            var parts = Enumerable.Range(0, rng.Next(1, 6))
                .Select(_ => rng.Next(3) == 0 && words.Count > 0 ? Pick(words, rng) : PathPieces[rng.Next(PathPieces.Length)]);
            var path = string.Join('/', parts);
            _ = ignore.IsExcluded(path);
            _ = ignore.CanSkipDir(path);
        }
    }

    private static List<string> Words(string text) =>
        text.Split([' ', '\n', '\t', '=', '/'], StringSplitOptions.RemoveEmptyEntries).Take(200).ToList();

    private static string Pick(List<string> list, Random rng) => list[rng.Next(list.Count)];

    private static void Expect(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (IsExpected(e))
        {
        }
    }

    private static T? Try<T>(Func<T> func) where T : class
    {
        try
        {
            return func();
        }
        catch (Exception e) when (IsExpected(e))
        {
            return null;
        }
    }

    /// <summary>FNV-1a over the UTF-16 code units: stable across runs, unlike string.GetHashCode.</summary>
    private static int StableHash(string text)
    {
        var h = 2166136261u;
        foreach (var c in text)
            h = (h ^ c) * 16777619u;
        return (int)h;
    }
}
