using Img.Oci;

namespace Img.Registry;

/// <summary>What is happening to one piece of content during a pull or push.</summary>
public enum RegistryProgressKind
{
    /// <summary>Looking up the manifest of a reference.</summary>
    Resolving,
    /// <summary>Bytes are flowing; <see cref="RegistryProgress.Current"/> counts them.</summary>
    Transferring,
    /// <summary>The transfer finished and was verified.</summary>
    Done,
    /// <summary>Already present where it was going (local store on pull, registry on push).</summary>
    Exists,
    /// <summary>Pushed by mounting it from another repository of the same registry.</summary>
    Mounted,
    /// <summary>A transfer failed and is tried again.</summary>
    Retrying,
}

/// <summary>A progress report for one descriptor (or, for <see cref="RegistryProgressKind.Resolving"/>, a reference).</summary>
public sealed record RegistryProgress(RegistryProgressKind Kind, string Subject, Descriptor? Descriptor, long Current, long Total);

/// <summary>The outcome of <see cref="RegistryClient.PullAsync"/>.</summary>
/// <param name="Target">What the reference points at: the index when it named one, else the manifest. Record this as the image.</param>
/// <param name="Manifest">The manifest chosen for the platform.</param>
/// <param name="Config">The image config of that manifest.</param>
/// <param name="Size">Bytes of the manifest, config and layers of the platform (plus the index, when there is one).</param>
/// <param name="Source">Where it came from (a mirror or the origin).</param>
public sealed record PullResult(Descriptor Target, Descriptor Manifest, Descriptor Config, long Size, RegistryEndpoint Source);

/// <summary>The outcome of <see cref="RegistryClient.PushAsync"/>.</summary>
/// <param name="Root">The descriptor pushed under the tag.</param>
/// <param name="Uploaded">Blobs whose bytes were sent.</param>
/// <param name="Existing">Blobs the registry already had.</param>
/// <param name="Mounted">Blobs mounted from another repository.</param>
public sealed record PushResult(Descriptor Root, int Uploaded, int Existing, int Mounted);

/// <summary>A manifest as the registry served it: its descriptor and its exact bytes.</summary>
public sealed record FetchedManifest(Descriptor Descriptor, byte[] Bytes);

/// <summary>The outcome of <see cref="RegistryClient.LoginAsync"/>.</summary>
/// <param name="ServerKey">The key the credentials were stored under.</param>
/// <param name="IdentityTokenStored">True when a refresh token was stored instead of the password.</param>
public sealed record LoginResult(string ServerKey, bool IdentityTokenStored);

/// <summary>The outcome of <see cref="RegistryClient.Logout"/>.</summary>
/// <param name="ServerKey">The normalised server.</param>
/// <param name="WasLoggedIn">False means "Not logged in to &lt;server&gt;".</param>
/// <param name="Warning">A credential helper's erase failure, if any (the login is removed anyway).</param>
public sealed record LogoutResult(string ServerKey, bool WasLoggedIn, string? Warning);
