namespace Img.Runtime.Oci;

/// <summary>A mount a RUN step asks for (Dockerfile <c>RUN --mount=…</c>).</summary>
/// <param name="Target">The absolute path inside the container.</param>
public abstract record RunMount(string Target);

/// <summary>A host directory or file (a stage snapshot or the context); read-only unless <paramref name="ReadWrite"/>, whose writes are discarded.</summary>
public sealed record BindMount(string Source, string Target, bool ReadWrite = false) : RunMount(Target);

/// <summary>How concurrent builds share a cache mount.</summary>
public enum CacheSharing { Shared, Private, Locked }

/// <summary>A persistent directory <c>&lt;state&gt;/cache-mounts/&lt;id&gt;</c>, created with <paramref name="Uid"/>/<paramref name="Gid"/>/<paramref name="Mode"/>.</summary>
/// <param name="OwnerGiven">
/// The mount named uid, gid or mode: as in BuildKit, where these make a base directory the cache starts from, the
/// cache is then a different one for each uid:gid:mode (and different from the same id without them).
/// </param>
public sealed record CacheMount(string Id, string Target, CacheSharing Sharing = CacheSharing.Shared, uint Uid = 0, uint Gid = 0,
    UnixFileMode Mode = (UnixFileMode)0b111_101_101, bool ReadOnly = false, bool OwnerGiven = false) : RunMount(Target)
{
    /// <summary>What tells one persistent cache directory from another.</summary>
    public string StorageKey => OwnerGiven ? $"{Id}\0{Uid}:{Gid}:{Convert.ToString((int)Mode, 8)}" : Id;
}

/// <summary>A tmpfs, gone after the step; <paramref name="SizeBytes"/> limits it.</summary>
public sealed record TmpfsMount(string Target, long? SizeBytes = null) : RunMount(Target);

/// <summary>
/// A secret file from the host, copied into a tmpfs outside the snapshot and bind-mounted read-only
/// at <paramref name="Target"/> (default <c>/run/secrets/&lt;id&gt;</c>); it never lands in the snapshot.
/// </summary>
public sealed record SecretMount(string Id, string SourceFile, string? Target = null, uint Uid = 0, uint Gid = 0,
    UnixFileMode Mode = UnixFileMode.UserRead) : RunMount(Target ?? "/run/secrets/" + Id);

/// <summary>An ssh-agent socket bound at <paramref name="Target"/> (default <c>/run/buildkit/ssh_agent.N</c>) with SSH_AUTH_SOCK pointing at it.</summary>
public sealed record SshMount(string AgentSocket, string? Target = null) : RunMount(Target ?? "");
