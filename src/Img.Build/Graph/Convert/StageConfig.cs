using System.Collections.Immutable;
using Img.Dockerfile;
using Img.Oci;
using HealthConfig = Img.Dockerfile.HealthConfig;

namespace Img.Build.Graph.Convert;

/// <summary>
/// A stage's image config as its instructions leave it: what its filesystem steps read — environment, working
/// directory, user, shell, the platform of its files — and what only the image records. Immutable: each instruction
/// gives a new value (<see cref="ConfigInstructions"/>); <see cref="OciStageConfig"/> converts from and to the OCI config.
/// </summary>
public sealed record StageConfig
{
    public required Platform Platform { get; init; }

    /// <summary><c>KEY=value</c> entries, in order.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];

    /// <summary>The working directory as the config holds it (an absolute WORKDIR is kept as written).</summary>
    public string WorkingDir { get; init; } = "";

    public string User { get; init; } = "";

    /// <summary><c>SHELL</c>, or null for the platform's default.</summary>
    public IReadOnlyList<string>? Shell { get; init; }

    /// <summary>ONBUILD triggers: a stage built from this one runs them first.</summary>
    public IReadOnlyList<string> OnBuild { get; init; } = [];

    public IReadOnlyList<string>? Entrypoint { get; init; }

    public IReadOnlyList<string>? Cmd { get; init; }

    /// <summary>Whether this stage set CMD itself: a later ENTRYPOINT then keeps it (an inherited one is reset).</summary>
    public bool CmdSet { get; init; }

    public ImmutableSortedDictionary<string, string> Labels { get; init; } = ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal);

    public ImmutableSortedSet<string> ExposedPorts { get; init; } = ImmutableSortedSet.Create<string>(StringComparer.Ordinal);

    public ImmutableSortedSet<string> Volumes { get; init; } = ImmutableSortedSet.Create<string>(StringComparer.Ordinal);

    public string? StopSignal { get; init; }

    public HealthConfig? Healthcheck { get; init; }

    /// <summary><c>MAINTAINER</c>, or the base's author.</summary>
    public string? Author { get; init; }

    /// <summary>What the base's config holds that no instruction sets (ArgsEscaped, unknown fields), passed on as it was.</summary>
    public OciStageConfig.Untouched Untouched { get; init; } = OciStageConfig.Untouched.None;

    /// <summary>
    /// The history entries the Dockerfile added, in order (a stage built from another continues its list; an image
    /// base's own history comes before them).
    /// </summary>
    public IReadOnlyList<StageHistory> History { get; init; } = [];

    /// <summary>Where a step runs: the working directory, <c>/</c> when none is set.</summary>
    public string Cwd => WorkingDir.Length > 0 ? WorkingDir : "/";

    /// <summary>The shell of shell-form commands.</summary>
    public IReadOnlyList<string> EffectiveShell => Shell is { Count: > 0 } shell ? shell : ImageConfigRules.DefaultShell(Platform.OS);

    /// <summary>BuildKit's empty image (<c>FROM scratch</c>): the default PATH and <c>/</c> as working directory.</summary>
    public static StageConfig Scratch(Platform platform) =>
        new() { Platform = platform, Env = ImageConfigRules.DefaultEnv(platform.OS), WorkingDir = "/" };

    /// <summary>
    /// The config a stage starts its instructions with: PATH added when missing, as BuildKit does on Linux; the
    /// triggers taken (they run now, and are not passed on); CMD not yet set by this stage.
    /// </summary>
    public StageConfig Started() => this with { Env = ImageConfigRules.WithDefaultPath(Env, Platform.OS), OnBuild = [], CmdSet = false };

    /// <summary>
    /// After <c>WORKDIR</c>: an absolute path is kept as written, a relative one joined onto the current directory
    /// and cleaned (as BuildKit); <see cref="WorkdirPath"/> gives the directory to make.
    /// </summary>
    public StageConfig WithWorkdir(string path) => this with { WorkingDir = path.StartsWith('/') ? path : WorkdirPath(path) };

    /// <summary>The clean absolute directory a <c>WORKDIR</c> (or a relative path) names from here.</summary>
    public string WorkdirPath(string path) => Paths.Absolute(path.StartsWith('/') ? path : Cwd + "/" + path);

    /// <summary>With one more history entry: <paramref name="step"/> is the vertex whose layer it describes, null for none.</summary>
    public StageConfig WithHistory(string createdBy, Vertex? step = null) => this with { History = [.. History, new StageHistory(createdBy, step)] };

    /// <summary>The last history entry (a config instruction's) made on filesystem <paramref name="at"/>.</summary>
    public StageConfig WithLastHistoryAt(Vertex? at) =>
        History.Count == 0 ? this : this with { History = [.. History.Take(History.Count - 1), History[^1] with { At = at }] };
}

/// <summary>
/// One history entry a Dockerfile instruction adds. <see cref="Step"/> is the vertex of a filesystem step: whether its
/// layer is empty, and when it was made, are known once it is solved; a config instruction has none (an empty layer).
/// </summary>
public sealed record StageHistory(string CreatedBy, Vertex? Step)
{
    /// <summary>
    /// The stage's filesystem when a config instruction ran (null while empty): the entry takes the time that
    /// filesystem last changed, so a build answered from the cache makes the same image.
    /// </summary>
    public Vertex? At { get; init; }
}

/// <summary>Container paths as the Dockerfile frontend cleans them.</summary>
internal static class Paths
{
    /// <summary><c>/</c> and the cleaned path (no <c>.</c>, <c>..</c> or doubled slashes).</summary>
    public static string Absolute(string path) => "/" + SourcePattern.Clean(path);

    /// <summary>A path relative to <paramref name="cwd"/> made absolute and clean.</summary>
    public static string Resolve(string path, string cwd) => Absolute(path.StartsWith('/') ? path : cwd + "/" + path);
}
