namespace Img.Archive.Layers;

/// <summary>A layer that is not a readable tar, or that uses a feature layers must not (sparse files, volumes).</summary>
public class LayerFormatException(string message) : IOException(message);

/// <summary>A layer entry that would write outside the root, or exceed a configured bound.</summary>
public sealed class LayerSecurityException(string message) : LayerFormatException(message);
