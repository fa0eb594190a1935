using System.Runtime.CompilerServices;
using Img.Cli.Framework;
using Img.Oci;

namespace Img.Cli.Commands;

public sealed class VersionCommand : Command
{
    public override string Name => "version";
    public override string Short => "Show the version information.";
    public override string Use => "version";

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 0) throw new UsageException("no arguments expected");
        var o = context.Out;
        o.WriteLine("img:");
        o.WriteLine($" version     : {BuildInfo.Version}");
        o.WriteLine($" git hash    : {BuildInfo.GitCommit}");
        o.WriteLine($" runtime     : .NET {Environment.Version}");
        o.WriteLine($" compiler    : {(RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "NativeAOT")}");
        o.WriteLine($" platform    : {Platform.Host}");
        var runtime = await RuntimeVersion.DescribeAsync(ct);
        if (runtime is null)
        {
            o.WriteLine("runtime: ");
            o.WriteLine(" error: no OCI runtime found (install crun or runc, or set IMG_RUNTIME)");
            return 0;
        }
        o.WriteLine($"{runtime.Name}:");
        foreach (var (key, value) in runtime.Fields)
            o.WriteLine($" {key,-11} : {value}");
        return 0;
    }
}
