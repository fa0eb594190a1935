using Img.Oci;

namespace Img.Archive.ImageArchive;

/// <summary>An image to put in, or found in, an archive: its name and its root manifest or index.</summary>
public sealed record ArchiveImage(Reference Name, Descriptor Target);

public enum ArchiveFormat
{
    /// <summary>docker load's layout (manifest.json with RepoTags), which also carries an OCI index.</summary>
    Docker,
    /// <summary>An OCI image layout (index.json, oci-layout, blobs/) with no RepoTags.</summary>
    Oci,
}

/// <summary>An archive that cannot be read as an image archive.</summary>
public sealed class InvalidArchiveException(string message, Exception? inner = null) : Exception(message, inner);
