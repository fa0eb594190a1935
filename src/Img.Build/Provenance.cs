using System.Text;
using System.Text.Json;
using Img.Content;
using Img.Oci;

namespace Img.Build;

/// <summary>How much an SLSA provenance attestation records (<c>--provenance mode=min|max</c>).</summary>
public enum ProvenanceMode
{
    /// <summary>Builder, materials (base images), entry point and platform; no build arguments.</summary>
    Min,
    /// <summary>As min, plus the build arguments, labels and target, and the Dockerfile itself.</summary>
    Max,
}

/// <summary>A base image a platform's build used: the attestation's materials.</summary>
/// <param name="Name">The name as resolved (a reference, or a named context).</param>
/// <param name="Digest">The platform manifest it resolved to.</param>
internal sealed record Material(string Name, Digest Digest);

/// <summary>
/// BuildKit's provenance attestation: an in-toto statement (SLSA provenance v0.2 predicate) about one platform's
/// manifest, stored as the single layer of an OCI "attestation manifest" whose index entry says which manifest it is
/// about (<c>vnd.docker.reference.digest</c>, <c>vnd.docker.reference.type=attestation-manifest</c>) and has the
/// platform <c>unknown/unknown</c>, so runtimes and platform selection pass it by.
/// </summary>
internal static class Provenance
{
    public const string InTotoMediaType = "application/vnd.in-toto+json";
    public const string PredicateType = "https://slsa.dev/provenance/v0.2";
    public const string ReferenceDigest = "vnd.docker.reference.digest";
    public const string ReferenceType = "vnd.docker.reference.type";
    public const string AttestationManifest = "attestation-manifest";

    /// <summary>Writes the statement about <paramref name="solved"/>, its config and manifest; returns the index entry for the attestation manifest.</summary>
    public static async Task<Descriptor> WriteAsync(ContentStore content, BuildRequest request, SolvedPlatform solved,
        DateTimeOffset started, DateTimeOffset finished, CancellationToken ct)
    {
        var statement = Statement(request, solved, started, finished);
        var layer = await content.WriteBytesAsync(statement, InTotoMediaType, ct).ConfigureAwait(false);
        var config = await content.WriteBytesAsync(Encoding.UTF8.GetBytes(
            $$$"""{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":["{{{layer.Digest}}}"]}}"""),
            MediaTypes.OciConfig, ct).ConfigureAwait(false);
        var manifest = new Manifest
        {
            SchemaVersion = 2,
            MediaType = MediaTypes.OciManifest,
            Config = config,
            Layers = [layer with { Annotations = new Dictionary<string, string> { ["in-toto.io/predicate-type"] = PredicateType } }],
        };
        var stored = await content.WriteBytesAsync(OciJson.Serialize(manifest), MediaTypes.OciManifest, ct).ConfigureAwait(false);
        return stored with
        {
            Platform = new Platform { OS = "unknown", Architecture = "unknown" },
            Annotations = new Dictionary<string, string>
            {
                [ReferenceDigest] = solved.Result.Manifest.Digest.ToString(),
                [ReferenceType] = AttestationManifest,
            },
        };
    }

    private static byte[] Statement(BuildRequest request, SolvedPlatform solved, DateTimeOffset started, DateTimeOffset finished)
    {
        var platform = solved.Platform;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("_type", "https://in-toto.io/Statement/v0.1");
            w.WriteString("predicateType", PredicateType);
            w.WriteStartArray("subject");
            var names = request.Names.Count > 0 ? request.Names.Select(n => Purl(n.ToString(), platform)) : [Purl(null, platform)];
            foreach (var name in names.Distinct()) WriteDigested(w, "name", name, solved.Result.Manifest.Digest);
            w.WriteEndArray();

            w.WriteStartObject("predicate");
            w.WriteStartObject("builder");
            w.WriteString("id", "");
            w.WriteEndObject();
            w.WriteString("buildType", "https://mobyproject.org/buildkit@v1");
            w.WriteStartArray("materials");
            foreach (var m in solved.Materials.DistinctBy(m => (m.Name, m.Digest))) WriteDigested(w, "uri", Purl(m.Name, platform), m.Digest);
            w.WriteEndArray();
            WriteInvocation(w, request, platform);
            WriteMetadata(w, request, solved.Dockerfile, started, finished);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>A subject or material: <c>{"name": …, "digest": {"sha256": …}}</c>.</summary>
    private static void WriteDigested(Utf8JsonWriter w, string nameField, string name, Digest digest)
    {
        w.WriteStartObject();
        w.WriteString(nameField, name);
        w.WriteStartObject("digest");
        w.WriteString("sha256", digest.Hex);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>How the build was asked for: the Dockerfile's name, the frontend, with <c>mode=max</c> its arguments.</summary>
    private static void WriteInvocation(Utf8JsonWriter w, BuildRequest request, Platform platform)
    {
        w.WriteStartObject("invocation");
        w.WriteStartObject("configSource");
        w.WriteString("entryPoint", Path.GetFileName(request.DockerfilePath));
        w.WriteEndObject();
        w.WriteStartObject("parameters");
        w.WriteString("frontend", "dockerfile.v0");
        if (request.Provenance == ProvenanceMode.Max)
        {
            w.WriteStartObject("args");
            foreach (var (k, v) in request.BuildArgs.OrderBy(p => p.Key, StringComparer.Ordinal)) w.WriteString("build-arg:" + k, v);
            foreach (var (k, v) in request.Labels.OrderBy(p => p.Key, StringComparer.Ordinal)) w.WriteString("label:" + k, v);
            if (request.Target is { } target) w.WriteString("target", target);
            w.WriteEndObject();
        }
        w.WriteStartArray("locals");
        foreach (var local in new[] { "context", "dockerfile" })
        {
            w.WriteStartObject();
            w.WriteString("name", local);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("environment");
        w.WriteString("platform", platform.ToString());
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The build's times and completeness; with <c>mode=max</c> the Dockerfile the build read.</summary>
    private static void WriteMetadata(Utf8JsonWriter w, BuildRequest request, byte[] dockerfile, DateTimeOffset started, DateTimeOffset finished)
    {
        var max = request.Provenance == ProvenanceMode.Max;
        w.WriteStartObject("metadata");
        w.WriteString("buildStartedOn", started.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("buildFinishedOn", finished.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
        w.WriteStartObject("completeness");
        w.WriteBoolean("parameters", max);
        w.WriteBoolean("environment", true);
        w.WriteBoolean("materials", false);
        w.WriteEndObject();
        w.WriteBoolean("reproducible", false);
        if (max)
        {
            w.WriteStartObject("https://mobyproject.org/buildkit@v1#metadata");
            w.WriteStartObject("source");
            w.WriteStartArray("infos");
            w.WriteStartObject();
            w.WriteString("filename", Path.GetFileName(request.DockerfilePath));
            w.WriteString("language", "Dockerfile");
            w.WriteBase64String("data", dockerfile);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>A package URL as BuildKit writes it: <c>pkg:docker/NAME@TAG?platform=linux%2Famd64</c> (docker.io names in their short form).</summary>
    internal static string Purl(string? reference, Platform platform)
    {
        var query = "?platform=" + Uri.EscapeDataString(platform.ToString());
        if (reference is null) return "pkg:docker/image" + query;
        if (!Reference.TryParse(reference, out var r, out _)) return "pkg:docker/" + reference + query;
        var name = r!.Domain == "docker.io" ? r.Path.StartsWith("library/", StringComparison.Ordinal) ? r.Path["library/".Length..] : r.Path : r.Domain + "/" + r.Path;
        var version = r.Tag ?? r.Digest?.ToString() ?? Reference.DefaultTag;
        return $"pkg:docker/{name}@{version}{query}";
    }
}
