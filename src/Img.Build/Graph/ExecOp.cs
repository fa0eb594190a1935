using Img.Dockerfile;
using Img.Oci;
using Img.Runtime.Oci;
using MountCacheSharing = Img.Dockerfile.CacheSharing;

namespace Img.Build.Graph;

/// <summary>
/// A process run in a root filesystem (<c>RUN</c>): input 0 is the root, and mounts name further inputs by index.
/// </summary>
public sealed record ExecOp(IReadOnlyList<string> Args) : IOpDefinition
{
    /// <summary><c>KEY=value</c> lines in the order the step sees them.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];

    public string Cwd { get; init; } = "/";

    /// <summary>The user as the Dockerfile names it (<c>name</c>, <c>uid</c>, <c>uid:gid</c>); empty is root.</summary>
    public string User { get; init; } = "";

    public RunNetwork Network { get; init; } = RunNetwork.Host;

    /// <summary>The platform a foreign step runs for (emulation), null for the host's.</summary>
    public Platform? Platform { get; init; }

    public IReadOnlyList<ExecMount> Mounts { get; init; } = [];

    /// <summary><c>--add-host</c>: <c>name</c>, <c>address</c> pairs added to the step's /etc/hosts.</summary>
    public IReadOnlyList<(string Name, string Address)> ExtraHosts { get; init; } = [];

    /// <summary><c>--shm-size</c> in bytes; null for the runtime's default.</summary>
    public long? ShmSizeBytes { get; init; }

    /// <summary><c>--ulimit</c>: resource limits of the process.</summary>
    public IReadOnlyList<Ulimit> Ulimits { get; init; } = [];

    public string Kind => "exec";

    public void WriteTo(DefinitionWriter writer)
    {
        writer
            .Field("args", Args)
            .Field("env", Env)
            .Field("cwd", Cwd)
            .Field("user", User)
            .Field("network", Network.ToString())
            .Field("platform", Platform?.ToString())
            .Field("hosts", [.. ExtraHosts.Select(h => h.Name + "=" + h.Address)])
            .Field("shm", ShmSizeBytes)
            .Field("ulimits", [.. Ulimits.Select(u => $"{u.Name}={u.Soft}:{u.Hard}")])
            .Field("mounts", Mounts.Count);
        foreach (var mount in Mounts)
            mount.WriteTo(writer);
    }
}

/// <summary>
/// One <c>RUN --mount</c>: its kind, where it goes, and per kind what it is made of. <see cref="Input"/> is the index of
/// the vertex input a bind (or a cache's <c>from</c>) reads, <see cref="Selector"/> the path inside that input.
/// </summary>
public sealed record ExecMount(MountType Type, string Target)
{
    public int? Input { get; init; }

    public string Selector { get; init; } = "";

    public bool ReadOnly { get; init; }

    /// <summary>The cache's id, or the secret's or ssh agent's id.</summary>
    public string? Id { get; init; }

    public MountCacheSharing Sharing { get; init; } = MountCacheSharing.Shared;

    public uint? Uid { get; init; }

    public uint? Gid { get; init; }

    public uint? Mode { get; init; }

    public long? SizeBytes { get; init; }

    /// <summary>A secret exposed as this environment variable rather than a file.</summary>
    public string? Env { get; init; }

    public bool Required { get; init; }

    internal void WriteTo(DefinitionWriter writer) => writer
        .Field("mount.type", RunMountParser.TypeName(Type))
        .Field("mount.target", Target)
        .Field("mount.input", Input)
        .Field("mount.selector", Selector)
        .Field("mount.readonly", ReadOnly)
        .Field("mount.id", Id)
        .Field("mount.sharing", Sharing.ToString())
        .Field("mount.uid", Uid)
        .Field("mount.gid", Gid)
        .Field("mount.mode", Mode)
        .Field("mount.size", SizeBytes)
        .Field("mount.env", Env)
        .Field("mount.required", Required);
}
