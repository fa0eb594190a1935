using Img.Oci;

namespace Img.Build;

/// <summary>
/// A built target as the exporters take it: the committed snapshot holding its rootfs, the cache key of that
/// filesystem, its layers and its image config.
/// </summary>
internal sealed class StageState
{
    public required string Key { get; init; }
    public string? Snapshot { get; init; }
    public required List<LayerRef> Layers { get; init; }
    public required ImageConfig Config { get; init; }
}
