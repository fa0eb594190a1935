using System.Collections.Immutable;
using System.Text.Json;
using Img.Oci;
using DockerfileHealth = Img.Dockerfile.HealthConfig;
using OciHealth = Img.Oci.HealthConfig;

namespace Img.Build.Graph.Convert;

/// <summary>
/// A <see cref="StageConfig"/> from a base image's OCI config, and back: new values both ways, the OCI config read and
/// made, never changed in place.
/// </summary>
public static class OciStageConfig
{
    /// <summary>What of a base's config no Dockerfile instruction sets: passed on to the image as it came.</summary>
    public sealed record Untouched(bool ArgsEscaped, string? OSVersion, IReadOnlyDictionary<string, JsonElement>? ConfigExtra,
        IReadOnlyDictionary<string, JsonElement>? Extra)
    {
        public static Untouched None { get; } = new(false, null, null, null);
    }

    /// <summary>A base image's config; its own platform wins over the one asked for when it names one.</summary>
    public static StageConfig FromImage(ImageConfig config, Platform requested)
    {
        var c = config.Config;
        return new StageConfig
        {
            Platform = config.Architecture.Length == 0 ? requested : Platform.Normalize(new Platform
            {
                OS = config.OS.Length > 0 ? config.OS : requested.OS,
                Architecture = config.Architecture,
                Variant = config.Variant,
            }),
            Env = [.. c.Env ?? []],
            WorkingDir = c.WorkingDir ?? "",
            User = c.User ?? "",
            Shell = c.Shell is { Count: > 0 } shell ? [.. shell] : null,
            OnBuild = [.. c.OnBuild ?? []],
            Entrypoint = c.Entrypoint is null ? null : [.. c.Entrypoint],
            Cmd = c.Cmd is null ? null : [.. c.Cmd],
            Labels = (c.Labels ?? []).ToImmutableSortedDictionary(StringComparer.Ordinal),
            ExposedPorts = (c.ExposedPorts?.Keys ?? Enumerable.Empty<string>()).ToImmutableSortedSet(StringComparer.Ordinal),
            Volumes = (c.Volumes?.Keys ?? Enumerable.Empty<string>()).ToImmutableSortedSet(StringComparer.Ordinal),
            StopSignal = c.StopSignal,
            Healthcheck = c.Healthcheck is { } h ? FromOci(h) : null,
            Author = config.Author,
            Untouched = new Untouched(c.ArgsEscaped, config.OSVersion, c.Extra?.ToImmutableDictionary(), config.Extra?.ToImmutableDictionary()),
        };
    }

    /// <summary>
    /// The stage's OCI image config without what only solving tells — <c>created</c>, history, the layers' diff IDs —
    /// which the exporter adds.
    /// </summary>
    public static ImageConfig ToImageConfig(StageConfig stage) => new()
    {
        Author = stage.Author,
        OS = stage.Platform.OS,
        Architecture = stage.Platform.Architecture,
        Variant = stage.Platform.Variant,
        OSVersion = stage.Untouched.OSVersion,
        Extra = stage.Untouched.Extra is { } extra ? new(extra) : null,
        Config = new ContainerConfig
        {
            User = stage.User.Length == 0 ? null : stage.User,
            Env = [.. stage.Env],
            WorkingDir = stage.WorkingDir.Length == 0 ? null : stage.WorkingDir,
            Shell = stage.Shell is null ? null : [.. stage.Shell],
            OnBuild = stage.OnBuild.Count == 0 ? null : [.. stage.OnBuild],
            Entrypoint = stage.Entrypoint is null ? null : [.. stage.Entrypoint],
            Cmd = stage.Cmd is null ? null : [.. stage.Cmd],
            Labels = stage.Labels.IsEmpty ? null : new(stage.Labels, StringComparer.Ordinal),
            ExposedPorts = Set(stage.ExposedPorts),
            Volumes = Set(stage.Volumes),
            StopSignal = stage.StopSignal,
            Healthcheck = stage.Healthcheck is { } h ? ToOci(h) : null,
            ArgsEscaped = stage.Untouched.ArgsEscaped,
            Extra = stage.Untouched.ConfigExtra is { } configExtra ? new(configExtra) : null,
        },
    };

    private static SortedDictionary<string, EmptyObject>? Set(ImmutableSortedSet<string> keys) =>
        keys.IsEmpty ? null : new(keys.ToDictionary(k => k, _ => EmptyObject.Instance), StringComparer.Ordinal);

    // The OCI config counts durations in nanoseconds, a TimeSpan in ticks of 100.
    private static OciHealth ToOci(DockerfileHealth h) => new()
    {
        Test = [.. h.Test],
        Interval = h.Interval.Ticks * 100,
        Timeout = h.Timeout.Ticks * 100,
        StartPeriod = h.StartPeriod.Ticks * 100,
        StartInterval = h.StartInterval.Ticks * 100,
        Retries = h.Retries,
    };

    private static DockerfileHealth FromOci(OciHealth h) => new([.. h.Test ?? []],
        TimeSpan.FromTicks(h.Interval / 100), TimeSpan.FromTicks(h.Timeout / 100), TimeSpan.FromTicks(h.StartPeriod / 100),
        TimeSpan.FromTicks(h.StartInterval / 100), h.Retries);
}
