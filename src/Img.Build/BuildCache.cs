using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Img.Content;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>What a cached step produced: its layer (absent for an empty diff).</summary>
public sealed record StepOutcome
{
    /// <summary>Layer blob digest (<c>sha256:…</c>) or null when the step changed nothing.</summary>
    public string? Layer { get; init; }
    /// <summary>Layer media type as stored.</summary>
    public string? MediaType { get; init; }
    /// <summary>Compressed size.</summary>
    public long Size { get; init; }
    /// <summary>Uncompressed tar digest.</summary>
    public string? DiffId { get; init; }
    /// <summary>When the step first ran: its history entry's time, so a rebuild from cache yields the same image.</summary>
    public DateTimeOffset? Created { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StepOutcome))]
internal sealed partial class BuildJsonContext : JsonSerializerContext;

/// <summary>Cache keys and the cache records the build leaves in the metadata store.</summary>
public static class BuildCache
{
    /// <summary>Record kind of a step result.</summary>
    public const string StepKind = "regular";

    /// <summary>Record kind of an image's unpacked layer snapshot.</summary>
    public const string LayerKind = "source.image";

    /// <summary>A cache key: sha256 over the parts, each length-prefixed so no two part lists collide.</summary>
    public static string Key(params string[] parts)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in parts)
        {
            var bytes = Encoding.UTF8.GetBytes(p);
            h.AppendData(BitConverter.GetBytes(bytes.Length));
            h.AppendData(bytes);
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    /// <summary>Serialises a step outcome for <see cref="CacheRecord.Result"/>.</summary>
    public static string Serialize(StepOutcome outcome) => JsonSerializer.Serialize(outcome, BuildJsonContext.Default.StepOutcome);

    /// <summary>Reads a step outcome back; null when the record is not one.</summary>
    public static StepOutcome? Deserialize(string json)
    {
        try { return JsonSerializer.Deserialize(json, BuildJsonContext.Default.StepOutcome); }
        catch (JsonException) { return null; }
    }

    /// <summary>The <see cref="CacheRecord.Snapshot"/> value for snapshot <paramref name="key"/> of <paramref name="backend"/>.</summary>
    public static string SnapshotRef(SnapshotterKind backend, string key) => backend.Name + "/" + key;

    /// <summary>The store and snapshot a <see cref="CacheRecord.Snapshot"/> value names; null for none, or a store img does not know.</summary>
    public static (SnapshotterKind Backend, string Key)? ParseSnapshotRef(string? reference)
    {
        if (string.IsNullOrEmpty(reference)) return null;
        var slash = reference.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || SnapshotterKind.FromName(reference[..slash]) is not { } backend) return null;
        return (backend, reference[(slash + 1)..]);
    }

    /// <summary>
    /// Removes what a cache record holds besides its row (its snapshot), for <c>img prune</c>; call inside the
    /// user namespace. Returns false when the snapshot is still the parent of another one and was kept.
    /// The record itself and its blobs are the caller's (delete the record, then collect garbage).
    /// </summary>
    public static async Task<bool> RemoveRecordArtifactsAsync(string stateDir, CacheRecord record, CancellationToken ct = default)
    {
        if (ParseSnapshotRef(record.Snapshot) is not var (backend, key)) return true;
        var snapshotter = backend.Open(stateDir);
        if (snapshotter.Stat(key) is null) return true;
        try
        {
            await snapshotter.RemoveAsync(key, ct).ConfigureAwait(false);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
