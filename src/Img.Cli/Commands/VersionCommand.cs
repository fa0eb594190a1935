using System.Runtime.CompilerServices;
using Img.Cli.Framework;
using Img.Oci;
using Img.Runtime.Namespaces;
using Img.Runtime.Oci;

namespace Img.Cli.Commands;

public sealed class VersionCommand : Command
{
    public override string Name => "version";
    public override string Short => "Show the version information.";
    public override string Use => "version";

    public override Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 0) throw new UsageException("no arguments expected");
        var o = context.Out;
        o.WriteLine("img:");
        o.WriteLine($" version     : {BuildInfo.Version}");
        o.WriteLine($" git hash    : {BuildInfo.GitCommit}");
        o.WriteLine($" runtime     : .NET {Environment.Version}");
        o.WriteLine($" compiler    : {(RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "NativeAOT")}");
        o.WriteLine($" platform    : {Platform.Host}");
        RuntimeInfo runtime;
        try
        {
            runtime = RuntimeInfo.Find();
        }
        catch (InvalidOperationException e)
        {
            o.WriteLine("runtime: ");
            o.WriteLine($" error: {e.Message}");
            return Task.FromResult(0);
        }
        o.WriteLine($"{runtime.Name}:");
        o.WriteLine($" path        : {runtime.Path}");
        foreach (var line in runtime.VersionLines)
        {
            // "runc version 1.1.5", "commit: abc", "spec: 1.0.2-dev", "+SYSTEMD +SELINUX …"
            int v = line.IndexOf(" version ", StringComparison.Ordinal);
            int colon = line.IndexOf(':');
            var (key, value) = v >= 0 && colon < 0 ? ("version", line[(v + 9)..])
                : colon > 0 ? (line[..colon].Trim(), line[(colon + 1)..].Trim())
                : ("features", line);
            o.WriteLine($" {key,-11} : {value}");
        }
        o.WriteLine($"user namespace: {UserNamespace.Describe()}");
        return Task.FromResult(0);
    }
}
