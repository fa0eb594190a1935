namespace SandboxProbe;

/// <summary>What the probe runs: steps chained on snapshots of one backend.</summary>
public sealed class Scenario
{
    public string State { get; set; } = "";
    public string Backend { get; set; } = "auto";
    public string Rootfs { get; set; } = "";
    public List<Step> Steps { get; set; } = [];
}

public sealed class Step
{
    public List<string> Args { get; set; } = [];
    public string? User { get; set; }
    public List<string> Env { get; set; } = [];
    public string Cwd { get; set; } = "/";
    public List<MountRequest> Mounts { get; set; } = [];
    public int? CancelAfterMs { get; set; }
}

public sealed class MountRequest
{
    public string Type { get; set; } = "";
    public string? Id { get; set; }
    public string? Source { get; set; }
    public string? Target { get; set; }
    public string? Sharing { get; set; }
    public uint Uid { get; set; }
    public uint Gid { get; set; }
    public string? Mode { get; set; }
    public long? Size { get; set; }
    public bool ReadWrite { get; set; }
}

public sealed class StepResult
{
    public int? ExitCode { get; set; }
    public string Stdout { get; set; } = "";
    public string Stderr { get; set; } = "";
    public string? Error { get; set; }
    public bool Cancelled { get; set; }
    public string? FsDir { get; set; }
    public string? UpperDir { get; set; }
    public long Usage { get; set; }
    public List<string> MountsLeft { get; set; } = [];
}

public sealed class ScenarioResult
{
    public string Backend { get; set; } = "";
    public bool RenamesLowerDirectories { get; set; }
    public string Namespace { get; set; } = "";
    public List<StepResult> Steps { get; set; } = [];
}
