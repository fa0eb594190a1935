namespace Img.Runtime.Oci;

/// <summary>One RUN step: what to run, as whom, where, with which mounts.</summary>
public sealed record RunSpec
{
    /// <summary>The mounted, writable snapshot that becomes <c>/</c>.</summary>
    public required string RootFs { get; init; }

    /// <summary>argv (already shell-wrapped for the shell form).</summary>
    public required IReadOnlyList<string> Args { get; init; }

    /// <summary><c>KEY=value</c> entries; PATH gets the docker default when absent, HOME the user's.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];

    /// <summary>
    /// <c>KEY=value</c> entries that carry secrets (<c>RUN --mount=type=secret,env=…</c>): added after <see cref="Env"/>,
    /// and written only to the in-memory bundle the runtime reads, never to a disk.
    /// </summary>
    public IReadOnlyList<string> SecretEnv { get; init; } = [];

    /// <summary>The working directory inside the container.</summary>
    public string Cwd { get; init; } = "/";

    /// <summary><c>user</c>, <c>uid</c>, <c>user:group</c> or <c>uid:gid</c>, resolved through the rootfs; empty means root.</summary>
    public string? User { get; init; }

    /// <summary>The container's hostname (BuildKit's default).</summary>
    public string Hostname { get; init; } = "buildkitsandbox";

    /// <summary>Extra <c>name ip</c> pairs for /etc/hosts (<c>--add-host</c>).</summary>
    public IReadOnlyList<(string Name, string Address)> ExtraHosts { get; init; } = [];

    /// <summary>RUN --mount requests.</summary>
    public IReadOnlyList<RunMount> Mounts { get; init; } = [];

    /// <summary><c>--shm-size</c>: the size of /dev/shm in bytes, or null for docker's 64 MiB.</summary>
    public long? ShmSizeBytes { get; init; }

    /// <summary><c>--ulimit</c>: resource limits of the process (they replace the default open-files limit when they name it).</summary>
    public IReadOnlyList<Ulimit> Ulimits { get; init; } = [];

    /// <summary>RUN --network: the host's network (default) or a namespace of its own with only loopback.</summary>
    public RunNetwork Network { get; init; } = RunNetwork.Host;
}

/// <summary>The network a RUN step sees.</summary>
public enum RunNetwork
{
    /// <summary>The host's network stack (no network namespace), as the original's default.</summary>
    Host,

    /// <summary>A network namespace of its own: loopback only, which the runtime brings up.</summary>
    None,
}
