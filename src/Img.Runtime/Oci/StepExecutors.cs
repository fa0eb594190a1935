using Img.Runtime.Namespaces;
using Img.Runtime.Proot;

namespace Img.Runtime.Oci;

/// <summary>Chooses the RUN executor of this process's isolation rung.</summary>
public static class StepExecutors
{
    /// <summary>proot without mounts (<see cref="Isolation.WithoutMounts"/>), else the OCI runtime.</summary>
    public static IStepExecutor Open(string stateDir, Action<string>? log)
    {
        var isolation = Isolation.Current;
        if (isolation.WithoutMounts)
        {
            log?.Invoke($"RUN steps run under proot, without namespaces: {isolation.Why}");
            return new ProotExecutor(Isolation.ProotBinary ?? throw new InvalidOperationException("proot is not installed: apt-get install proot"), stateDir) { Log = log };
        }
        return new OciRuntime(RuntimeInfo.Find(), stateDir) { Log = log };
    }
}
