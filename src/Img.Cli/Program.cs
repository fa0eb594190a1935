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
        NativeHeap.UnmapLargeBlocks();
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
        new FsckCommand(),
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
        new("add-host", null, FlagKind.List, "Add a custom host-to-IP mapping (format: \"host:ip\") to the /etc/hosts of every RUN"),
        new("annotation", null, FlagKind.List, "Add annotation to the image, [type[,type]:]key=value (types: manifest, index, manifest-descriptor); implies OCI media types"),
        new("attest", null, FlagKind.List, "Attestation parameters (format: \"type=provenance,mode=min|max\")"),
        new("build-arg", null, FlagKind.List, "Set build-time variables"),
        new("build-context", null, FlagKind.List, "Additional build contexts (e.g., name=path): a directory, docker-image://REF or oci-layout://PATH[:TAG|@DIGEST]"),
        new("call", null, FlagKind.String, "Set method for evaluating build (\"build\", \"check\")", "build"),
        new("check", null, FlagKind.Bool, "Shorthand for \"--call=check\": run the build checks, print what they find, build nothing"),
        new("cache-from", null, FlagKind.List, "Buildkit import-cache or Buildx cache-from specification"),
        new("cache-to", null, FlagKind.List, "Buildx cache-to specification"),
        new("file", 'f', FlagKind.String, "Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
        new("iidfile", null, FlagKind.String, "Write the image ID to the file (the index digest for several platforms)"),
        new("label", null, FlagKind.List, "Set metadata for an image"),
        new("load", null, FlagKind.Bool, "Accepted for docker compatibility: the image already lands in img's store"),
        new("metadata-file", null, FlagKind.String, "Write build result metadata to the file"),
        new("network", null, FlagKind.String, "Set the networking mode for the RUN instructions during build (default, host, none)", "default"),
        new("no-cache", null, FlagKind.Bool, "Do not use cache when building the image"),
        new("no-console", null, FlagKind.Bool, "Use non-console progress UI (same as --progress plain)"),
        new("output", 'o', FlagKind.String, "BuildKit output specification (e.g. type=tar,dest=build.tar; type=registry pushes)"),
        new("platform", null, FlagKind.List, "Set platforms for which the image should be built"),
        new("progress", null, FlagKind.String, "Set type of progress output (auto, plain, tty, quiet, rawjson). Use plain to show container output", "auto"),
        new("provenance", null, FlagKind.String, "Shorthand for \"--attest=type=provenance\" (true, false, mode=min|max); off unless given, so the image stays one manifest rather than an index"),
        new("pull", null, FlagKind.Bool, "Always attempt to pull all referenced images (without it a stored base image is used)"),
        new("push", null, FlagKind.Bool, "Shorthand for \"--output=type=registry\": push every tag after the build"),
        new("quiet", 'q', FlagKind.Bool, "Suppress the build output and print image ID on success"),
        new("sbom", null, FlagKind.String, "Accepted as false only: img generates no SBOM attestation"),
        new("secret", null, FlagKind.List, "Secret exposed to the build. Format [type=file|env,]id=ID[,src=PATH][,env=VARIABLE]"),
        new("shm-size", null, FlagKind.String, "Shared memory size (/dev/shm) of every RUN, e.g. 128m (default 64m)"),
        new("ssh", null, FlagKind.List, "Allow forwarding SSH agent to the builder. Format default|<id>[=<socket>|<key>[,<key>]]"),
        new("tag", 't', FlagKind.List, "Name and optionally a tag in the 'name:tag' format"),
        new("target", null, FlagKind.String, "Set the target build stage to build"),
        new("ulimit", null, FlagKind.List, "Ulimit options of every RUN, NAME=SOFT[:HARD]; an unprivileged build cannot raise a hard limit"),
    ];
}
