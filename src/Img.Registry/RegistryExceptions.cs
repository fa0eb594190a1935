using System.Net;

namespace Img.Registry;

/// <summary>A registry refused or failed a request. The message says what and where.</summary>
public class RegistryException : Exception
{
    public RegistryException(string message, HttpStatusCode? statusCode = null, string? errorCode = null, Exception? inner = null)
        : base(message, inner)
    {
        StatusCode = statusCode;
        ErrorCode = errorCode;
    }

    /// <summary>The HTTP status of the failing response, when there was one.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The distribution error code (<c>MANIFEST_UNKNOWN</c>, <c>UNAUTHORIZED</c> …), when the registry sent one.</summary>
    public string? ErrorCode { get; }

    /// <summary>The TLS certificate was not trusted (as opposed to the peer not speaking TLS at all).</summary>
    internal bool IsCertificateRejection { get; init; }
}

/// <summary>The repository, tag or digest does not exist in the registry: <c>&lt;ref&gt;: not found</c>.</summary>
public sealed class ImageNotFoundException(string reference, Exception? inner = null)
    : RegistryException($"{reference}: not found", HttpStatusCode.NotFound, "NOT_FOUND", inner)
{
    public string Reference { get; } = reference;
}

/// <summary>Credentials were missing, wrong or insufficient for a registry.</summary>
public sealed class RegistryAuthException(string registry, string message, HttpStatusCode? statusCode = null, string? errorCode = null)
    : RegistryException(message, statusCode, errorCode)
{
    /// <summary>The registry host (or login server) that refused.</summary>
    public string Registry { get; } = registry;
}
