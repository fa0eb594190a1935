using Img.Oci;

namespace Img.Content;

/// <summary>A named image in the local store: a name pointing at a manifest or index.</summary>
public sealed record ImageRecord(string Name, Descriptor Target, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
