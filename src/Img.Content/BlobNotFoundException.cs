using Img.Oci;

namespace Img.Content;

public sealed class BlobNotFoundException(Digest digest)
    : Exception($"blob {digest} not found")
{
    public Digest Digest { get; } = digest;
}

/// <summary>Content whose bytes do not match the digest or size it was announced with.</summary>
public sealed class DigestMismatchException(string message) : Exception(message);
