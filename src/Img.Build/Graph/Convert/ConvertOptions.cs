using Img.Oci;
using Img.Runtime.Oci;

namespace Img.Build.Graph.Convert;

/// <summary>The inputs of a build that shape its graph, besides the Dockerfile.</summary>
public sealed record ConvertOptions
{
    /// <summary>The platforms built for; each gets a graph of its own, sharing the vertices that do not depend on it.</summary>
    public IReadOnlyList<Platform> Platforms { get; init; } = [Platform.Host];

    /// <summary>The platform the build runs on (<c>BUILDPLATFORM</c>); a RUN for another one is emulated.</summary>
    public Platform BuildPlatform { get; init; } = Platform.Host;

    /// <summary><c>--build-arg</c> values.</summary>
    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    /// <summary><c>--target</c> stage, or null for the last one.</summary>
    public string? Target { get; init; }

    /// <summary><c>--build-context</c>: named contexts by lower-cased name.</summary>
    public IReadOnlyDictionary<string, NamedContext> NamedContexts { get; init; } = new Dictionary<string, NamedContext>();

    /// <summary>The <c>.dockerignore</c> patterns: what the context source leaves out.</summary>
    public IReadOnlyList<string> ContextExcludes { get; init; } = [];

    /// <summary>
    /// The configs of the base images, resolved before the conversion (BuildKit's frontend asks its meta resolver
    /// first too): a step sees its base's ENV, WORKDIR, USER and SHELL, and a base's ONBUILD triggers run first.
    /// </summary>
    public IImageMetadata Images { get; init; } = NoImageMetadata.Instance;

    /// <summary><c>--network</c>: the network of every RUN that does not name its own.</summary>
    public RunNetwork Network { get; init; } = RunNetwork.Host;

    /// <summary><c>--add-host</c> pairs for every RUN.</summary>
    public IReadOnlyList<(string Name, string Address)> ExtraHosts { get; init; } = [];

    /// <summary><c>--shm-size</c> of every RUN, in bytes.</summary>
    public long? ShmSizeBytes { get; init; }

    /// <summary><c>--ulimit</c> of every RUN.</summary>
    public IReadOnlyList<Ulimit> Ulimits { get; init; } = [];

    /// <summary><c>--no-cache</c>: every vertex runs even when the cache holds its result.</summary>
    public bool NoCache { get; init; }
}

/// <summary>A base image as resolved for one platform: its reference pinned to the manifest, and its config.</summary>
/// <param name="Reference">The normalised reference with the platform manifest's digest (<c>name@sha256:…</c>).</param>
public sealed record ImageMetadata(string Reference, ImageConfig Config);

/// <summary>Finds what a base image resolved to (<paramref name="reference"/> is normalised, as docker names it).</summary>
public interface IImageMetadata
{
    ImageMetadata? Find(string reference, Platform platform);
}

/// <summary>
/// Nothing resolved: a base is taken as an empty config (so the default PATH, <c>/</c> as working directory) under its
/// normalised reference, unpinned — enough for a graph's shape, not for running it.
/// </summary>
public sealed class NoImageMetadata : IImageMetadata
{
    public static NoImageMetadata Instance { get; } = new();

    public ImageMetadata? Find(string reference, Platform platform) => null;
}
