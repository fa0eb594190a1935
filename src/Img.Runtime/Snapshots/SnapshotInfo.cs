using System.Text.Json.Serialization;

namespace Img.Runtime.Snapshots;

/// <summary>Whether a snapshot is being written, is a read-only view, or is committed (immutable, a parent).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SnapshotKind>))]
public enum SnapshotKind { Active, View, Committed }

/// <summary>A snapshot's record in the snapshot table (<c>meta.json</c> in its directory).</summary>
/// <param name="Key">The key (active/view) or name (committed) it is known by.</param>
/// <param name="Id">Its directory name under <c>snapshots/</c>.</param>
/// <param name="Parent">The committed parent's name, or null for a base snapshot.</param>
/// <param name="Owner">
/// For active snapshots and views: the creating process (<see cref="ProcessOwner"/> form), so work of a killed
/// process can be told from work in progress. Null once committed.
/// </param>
public sealed record SnapshotInfo(string Key, string Id, string? Parent, SnapshotKind Kind, DateTimeOffset Created, string? Owner = null);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SnapshotInfo))]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext;
