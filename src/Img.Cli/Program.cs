using System.Runtime.InteropServices;
using Img.Cli.Commands;
using Img.Cli.Framework;

namespace Img.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Parallel stages (and platforms) each hold a pool thread in blocking work for a while: waiting on runc,
        // applying layers, waiting for a shared base image. The pool starts with one worker per core and adds one
        // only every half second, so on two cores three stages would queue behind thread injection.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), io);
        using var cts = new CancellationTokenSource();
        // Ctrl-C cancels the work in flight; a second one ends the process the default way.
        Console.CancelKeyPress += (_, e) =>
        {
            if (cts.IsCancellationRequested) return;
            e.Cancel = true;
            cts.Cancel();
        };
        // SIGTERM (a CI runner stopping a job, kill) cancels the same way: RUN containers are
        // killed and deleted, snapshots and temp files cleaned, before the process ends.
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            if (cts.IsCancellationRequested) return;
            ctx.Cancel = true;
            cts.Cancel();
        });
        var app = new CliApp(Commands());
        return await app.RunAsync(args, cts.Token).ConfigureAwait(false);
    }

    public static IReadOnlyList<Command> Commands() =>
    [
        new BuildCommand(),
        new DuCommand(),
        new ImportCommand(),
        new InfoCommand(),
        new InspectCommand(),
        new LoadCommand(),
        new LoginCommand(),
        new LogoutCommand(),
        new LsCommand(),
        new PruneCommand(),
        new PullCommand(),
        new PushCommand(),
        new RmCommand(),
        new SaveCommand(),
        new TagCommand(),
        new UnpackCommand(),
        new VersionCommand(),
    ];
}

/// <summary>The flags of <c>img build</c>, as the original declares them.</summary>
public static class BuildFlags
{
    public static IReadOnlyList<Flag> All { get; } =
    [
        new("build-arg", null, FlagKind.List, "Set build-time variables"),
        new("cache-from", null, FlagKind.List, "Buildkit import-cache or Buildx cache-from specification"),
        new("cache-to", null, FlagKind.List, "Buildx cache-to specification"),
        new("file", 'f', FlagKind.String, "Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
        new("label", null, FlagKind.List, "Set metadata for an image"),
        new("no-cache", null, FlagKind.Bool, "Do not use cache when building the image"),
        new("no-console", null, FlagKind.Bool, "Use non-console progress UI"),
        new("output", 'o', FlagKind.String, "BuildKit output specification (e.g. type=tar,dest=build.tar)"),
        new("platform", null, FlagKind.List, "Set platforms for which the image should be built"),
        new("secret", null, FlagKind.List, "Secret value exposed to the build. Format id=secretname,src=filepath"),
        new("ssh", null, FlagKind.List, "Allow forwarding SSH agent to the builder. Format default|<id>[=<socket>|<key>[,<key>]]"),
        new("tag", 't', FlagKind.List, "Name and optionally a tag in the 'name:tag' format"),
        new("target", null, FlagKind.String, "Set the target build stage to build"),
    ];
}
