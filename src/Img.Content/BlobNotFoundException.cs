using Img.Oci;

namespace Img.Content;

/// <summary>What the content store cannot give: a blob it does not hold, one found damaged, a document too large.</summary>
public abstract class ContentException(string message) : Exception(message);

public sealed class BlobNotFoundException(Digest digest)
    : ContentException($"blob {digest} not found")
{
    public Digest Digest { get; } = digest;
}

/// <summary>Content whose bytes do not match the digest or size it was announced with.</summary>
public sealed class DigestMismatchException(string message) : Exception(message);

/// <summary>A document blob too large to read into memory (<see cref="ContentStore.MaxDocumentSize"/>).</summary>
public sealed class DocumentTooLargeException(string message) : ContentException(message);
