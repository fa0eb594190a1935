using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Graph.Convert;

/// <summary>
/// The part of a stage's image config that its filesystem steps read — environment, working directory, user, shell,
/// the platform of its files — and the ONBUILD triggers a stage built from it runs first. Immutable: each instruction
/// gives a new value.
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

    public IReadOnlyList<string> OnBuild { get; init; } = [];

    /// <summary>Where a step runs: the working directory, <c>/</c> when none is set.</summary>
    public string Cwd => WorkingDir.Length > 0 ? WorkingDir : "/";

    /// <summary>The shell of shell-form commands.</summary>
    public IReadOnlyList<string> EffectiveShell => Shell is { Count: > 0 } shell ? shell : ImageConfigRules.DefaultShell(Platform.OS);

    /// <summary>BuildKit's empty image (<c>FROM scratch</c>): the default PATH and <c>/</c> as working directory.</summary>
    public static StageConfig Scratch(Platform platform) =>
        new() { Platform = platform, Env = ImageConfigRules.DefaultEnv(platform.OS), WorkingDir = "/" };

    /// <summary>A base image's config; its own platform wins over the one asked for when it names one.</summary>
    public static StageConfig FromImage(ImageConfig config, Platform requested)
    {
        var platform = config.Architecture.Length == 0 ? requested : Platform.Normalize(new Platform
        {
            OS = config.OS.Length > 0 ? config.OS : requested.OS,
            Architecture = config.Architecture,
            Variant = config.Variant,
        });
        var c = config.Config;
        return new StageConfig
        {
            Platform = platform,
            Env = [.. c.Env ?? []],
            WorkingDir = c.WorkingDir ?? "",
            User = c.User ?? "",
            Shell = c.Shell is { Count: > 0 } shell ? [.. shell] : null,
            OnBuild = [.. c.OnBuild ?? []],
        };
    }

    /// <summary>The config a stage starts its instructions with: PATH added when missing, as BuildKit does on Linux.</summary>
    public StageConfig Started() => this with { Env = ImageConfigRules.WithDefaultPath(Env, Platform.OS), OnBuild = [] };

    /// <summary>
    /// After <c>WORKDIR</c>: an absolute path is kept as written, a relative one joined onto the current directory
    /// and cleaned (as BuildKit); <see cref="WorkdirPath"/> gives the directory to make.
    /// </summary>
    public StageConfig WithWorkdir(string path) => this with { WorkingDir = path.StartsWith('/') ? path : WorkdirPath(path) };

    /// <summary>The clean absolute directory a <c>WORKDIR</c> (or a relative path) names from here.</summary>
    public string WorkdirPath(string path) => Paths.Absolute(path.StartsWith('/') ? path : Cwd + "/" + path);
}

/// <summary>Container paths as the Dockerfile frontend cleans them.</summary>
internal static class Paths
{
    /// <summary><c>/</c> and the cleaned path (no <c>.</c>, <c>..</c> or doubled slashes).</summary>
    public static string Absolute(string path) => "/" + SourcePattern.Clean(path);

    /// <summary>A path relative to <paramref name="cwd"/> made absolute and clean.</summary>
    public static string Resolve(string path, string cwd) => Absolute(path.StartsWith('/') ? path : cwd + "/" + path);
}
