using Img.Content;
using Img.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>Everything one <c>img build</c> asks for; where state lives and the shared parts are the engine's (<see cref="EngineOptions"/>).</summary>
public sealed record BuildRequest
{
    /// <summary>The build context directory.</summary>
    public required string ContextDir { get; init; }

    /// <summary>The Dockerfile's path (its <c>.dockerignore</c> sibling is looked for next to it).</summary>
    public required string DockerfilePath { get; init; }

    /// <summary><c>--build-arg</c> values.</summary>
    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    /// <summary><c>--label</c> values, applied to the final image after the Dockerfile's own LABELs.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary><c>--target</c> stage, or null for the last one.</summary>
    public string? Target { get; init; }

    /// <summary>The platform built for.</summary>
    public Platform Platform { get; init; } = Platform.Host;

    /// <summary>
    /// SOURCE_DATE_EPOCH (build-arg or environment): every history and config time is this, and files in new layers
    /// are no newer than this, so the same Dockerfile and context give the same image digest anywhere.
    /// </summary>
    public DateTimeOffset? SourceDateEpoch { get; init; }

    /// <summary><c>--no-cache</c>: run every step again.</summary>
    public bool NoCache { get; init; }

    /// <summary><c>--cache-from</c>: shared caches asked for steps the local cache lacks.</summary>
    public IReadOnlyList<CacheSharing.CacheImportSpec> CacheFrom { get; init; } = [];

    /// <summary><c>--cache-to</c>: where this build's cache is exported.</summary>
    public IReadOnlyList<CacheSharing.CacheExportSpec> CacheTo { get; init; } = [];

    /// <summary><c>--secret</c>: id to host file.</summary>
    /// <summary>Ceilings on ADD downloads and archive unpacking (the environment's, by default).</summary>
    public InputLimits Limits { get; init; } = InputLimits.FromEnvironment();

    public IReadOnlyDictionary<string, string> Secrets { get; init; } = new Dictionary<string, string>();

    /// <summary><c>--ssh</c>: id to agent socket.</summary>
    public IReadOnlyDictionary<string, string> SshSockets { get; init; } = new Dictionary<string, string>();

    /// <summary>Where the result goes.</summary>
    public OutputSpec Output { get; init; } = OutputSpec.DefaultImage;

    /// <summary>Image names to record (normalised <c>-t</c> values and the exporter's <c>name=</c>).</summary>
    public IReadOnlyList<Reference> Names { get; init; } = [];

    /// <summary><c>--pull</c>: resolve every base image at its registry again instead of using the stored one.</summary>
    public bool Pull { get; init; }

    /// <summary><c>--build-context</c>: named contexts by lower-cased name.</summary>
    public IReadOnlyDictionary<string, NamedContext> NamedContexts { get; init; } = new Dictionary<string, NamedContext>();

    /// <summary><c>--network</c>: the network of every RUN that does not name its own (<c>RUN --network</c>).</summary>
    public Img.Runtime.Oci.RunNetwork Network { get; init; } = Img.Runtime.Oci.RunNetwork.Host;

    /// <summary><c>--add-host</c>: <c>name address</c> pairs added to every RUN's /etc/hosts.</summary>
    public IReadOnlyList<(string Name, string Address)> ExtraHosts { get; init; } = [];

    /// <summary><c>--shm-size</c>: /dev/shm of every RUN, in bytes (null: 64 MiB).</summary>
    public long? ShmSizeBytes { get; init; }

    /// <summary><c>--ulimit</c>: resource limits of every RUN.</summary>
    public IReadOnlyList<Img.Runtime.Oci.Ulimit> Ulimits { get; init; } = [];

    /// <summary><c>--annotation</c>: annotations for the manifest and/or index the build writes.</summary>
    public IReadOnlyList<ImageAnnotation> Annotations { get; init; } = [];

    /// <summary>
    /// Whether manifests and indexes use OCI media types: when the output asks, whenever there are annotations,
    /// which Docker's schema2 manifest has no field for, and with attestations, which only OCI indexes carry.
    /// </summary>
    public bool OciMediaTypes => Output.OciMediaTypes || Annotations.Count > 0 || Provenance is not null;

    /// <summary><c>--provenance</c>/<c>--attest type=provenance</c>: attach an SLSA provenance attestation (the image becomes an index); null for none.</summary>
    public ProvenanceMode? Provenance { get; init; }

    /// <summary>Opens standard output for exporters writing to <c>-</c>.</summary>
    public Func<Stream>? OpenStdout { get; init; }
}

/// <summary>What a build produced.</summary>
/// <param name="Manifest">The image manifest in the content store.</param>
/// <param name="Config">The image config blob.</param>
/// <param name="ImageConfig">The config itself.</param>
public sealed record BuildResult(Descriptor Manifest, Descriptor Config, ImageConfig ImageConfig)
{
    /// <summary><c>--build-arg</c>s that no ARG declares (docker warns about them), sorted.</summary>
    public IReadOnlyList<string> UnusedBuildArgs { get; init; } = [];
}

/// <summary>What the exporter was given: the manifest (one platform) or index (several) and, for one platform, its config.</summary>
/// <param name="Target">The manifest or index descriptor, as stored.</param>
/// <param name="Config">The image config of a single-platform build; null for an index.</param>
public sealed record BuiltImage(Descriptor Target, Descriptor? Config)
{
    /// <summary><c>--build-arg</c>s that no ARG declares (docker warns about them), sorted.</summary>
    public IReadOnlyList<string> UnusedBuildArgs { get; init; } = [];

    /// <summary>docker's image ID: the config digest, or the index digest for several platforms (what <c>--iidfile</c> holds).</summary>
    public Digest ImageId => Config?.Digest ?? Target.Digest;
}
