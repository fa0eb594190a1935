using Img.Oci;

namespace Img.Build;

/// <summary>
/// A stage's filesystem and image config at one point of its build: the committed snapshot holding the rootfs,
/// the cache key of that filesystem (the chain of every step that made it), its layers and the config so far.
/// </summary>
internal sealed class StageState
{
    public required string Key { get; init; }
    public string? Snapshot { get; init; }
    public required List<LayerRef> Layers { get; init; }
    public required ImageConfig Config { get; init; }

    /// <summary>
    /// When the filesystem last changed: the time the latest step first ran (kept in its cache record), or the base
    /// image's creation time. History entries take it, so a build answered from cache reproduces the same image.
    /// </summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>The stage's ARGs when it ended; a stage built <c>FROM</c> it starts with them (set once the stage is done).</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Args { get; init; } = [];

    public StageState With(string key, string? snapshot, LayerRef? layer, DateTimeOffset? created) => new()
    {
        Key = key,
        Snapshot = snapshot,
        Layers = layer is null ? Layers : [.. Layers, layer],
        Config = Config,
        Created = created,
    };

    /// <summary>The same filesystem with <paramref name="config"/> (a new value: configs are not changed in place once shared).</summary>
    public StageState WithConfig(ImageConfig config) => new()
    {
        Key = Key,
        Snapshot = Snapshot,
        Layers = Layers,
        Config = config,
        Created = Created,
        Args = Args,
    };

    public static ImageConfig Clone(ImageConfig config) => OciJson.Deserialize<ImageConfig>(OciJson.Serialize(config));
}
