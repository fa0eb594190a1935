using Img.Archive.Layers;
using Img.Build;
using Img.Build.CacheSharing;
using Img.Cli.Framework;
using Img.Cli.Progress;
using Img.Oci;
using Img.Registry;

namespace Img.Cli.Commands;

/// <summary><c>img build</c>: validates the flags like the original, then runs the build engine (inside the user namespace <c>CliApp</c> entered).</summary>
public sealed class BuildCommand : Command
{
    public override string Name => "build";
    public override string Short => "Build an image from a Dockerfile";
    public override string Use => "build [OPTIONS] PATH";
    public override IReadOnlyList<Flag> Flags => BuildFlags.All;
    public override bool NeedsUserNamespace => true;

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count == 0) throw new UsageException("must pass a path to build");
        var path = args.Positionals[0];

        OutputSpec? output = null;
        try
        {
            if (args.String("output") is { Length: > 0 } o) output = OutputSpec.Parse(o, context.StdoutIsTerminal);
            if (args.Bool("push")) output = (output ?? OutputSpec.DefaultImage).WithPush();
        }
        catch (OutputSpecException e) { throw new CommandException(e.Message); }
        var mode = ProgressModes.Choose(args, context.StderrIsTerminal);
        var checkOnly = CallIsCheck(args);
        var tags = args.List("tag").Select(Normalise).ToList();
        if (output is null && tags.Count == 0 && !checkOnly) throw new CommandException("please specify an image tag with `-t` or an output spec with `-o`");
        Reference? outputName = output?.Name is { } n ? Normalise(n) : null;
        var buildArgs = KeyValues(args.List("build-arg"), "build-arg");
        var labels = KeyValues(args.List("label"), "label");
        IReadOnlyDictionary<string, SecretSource> secrets;
        IReadOnlyDictionary<string, string> ssh;
        try
        {
            secrets = SessionSpecs.ParseSecrets(args.List("secret"));
            ssh = SessionSpecs.ParseSsh(args.List("ssh"), Environment.GetEnvironmentVariable("SSH_AUTH_SOCK"));
        }
        catch (ArgumentException e) { throw new CommandException(e.Message); }
        var platforms = ParsePlatforms(args.List("platform"));
        var sourceDateEpoch = SourceDateEpoch(buildArgs);
        IReadOnlyList<CacheExportSpec> cacheTo;
        IReadOnlyList<CacheImportSpec> cacheFrom;
        try
        {
            cacheTo = CacheSpecs.ParseExports(args.List("cache-to"));
            cacheFrom = CacheSpecs.ParseImports(args.List("cache-from"));
        }
        catch (CacheSpecException e) { throw new CommandException(e.Message); }
        var network = RunOptions.Network(args.String("network"));
        var hosts = RunOptions.ExtraHosts(args.List("add-host"));
        var shmSize = RunOptions.ShmSize(args.String("shm-size"));
        var ulimits = RunOptions.Ulimits(args.List("ulimit"));
        var provenance = AttestationOptions.Provenance(args.String("provenance"), args.List("attest"), args.String("sbom"));
        if (provenance is not null && output?.Type is "local" or "tar")
            throw new CommandException($"a provenance attestation is attached to an image: use -o type=image, registry, docker or oci, not {output!.Type}");
        IReadOnlyList<ImageAnnotation> annotations;
        try { annotations = args.List("annotation").Select(ImageAnnotation.Parse).ToList(); }
        catch (FormatException e) { throw new CommandException(e.Message); }
        var results = new BuildResultFiles(args.String("iidfile"), args.String("metadata-file"));
        var namedContexts = new Dictionary<string, NamedContext>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, named) in args.List("build-context").Select(NamedContext.Parse)) namedContexts[name] = named;
        }
        catch (FormatException e) { throw new CommandException(e.Message); }

        var temps = new List<string>();
        SecretFiles? secretFiles = null;
        try
        {
            var (contextDir, dockerfile) = await PrepareInputsAsync(context, path, args.String("file"), temps, ct);
            var name = tags.Count > 0 ? tags[0].ToString() : outputName?.ToString() ?? "image";
            var names = new List<Reference>(tags);
            if (outputName is not null && !names.Contains(outputName)) names.Add(outputName);
            try { secretFiles = SecretFiles.Open(secrets); }
            catch (Exception e) when (e is ArgumentException or IOException) { throw new CommandException(e.Message); }

            BuildChecks? checks;
            using (var store = context.OpenStore())
                checks = await BuildChecks.RunAsync(dockerfile, contextDir, buildArgs, store, platforms[0], checkOnly, ct);
            if (checkOnly)
            {
                checks!.WriteReport(context.Out);
                return checks.Warnings.Count > 0 ? 1 : 0;
            }
            if (checks is { IsError: true })
            {
                checks.WriteSummary(context.Err);
                throw new CommandException(checks.ErrorMessage);
            }

            if (mode.ShowsHeadings)
            {
                context.Err.Write($"Building {name}\n");
                context.Err.Write("Setting up the rootfs... this may take a bit.\n");
                context.Err.Flush();
            }

            var request = new BuildRequest
            {
                ContextDir = contextDir,
                DockerfilePath = dockerfile,
                BuildArgs = buildArgs,
                Labels = labels,
                Target = args.String("target") is { Length: > 0 } t ? t : null,
                Platform = platforms[0],
                NoCache = args.Bool("no-cache"),
                SourceDateEpoch = sourceDateEpoch,
                CacheFrom = cacheFrom,
                CacheTo = cacheTo,
                Secrets = secretFiles.Paths,
                SshSockets = ssh,
                Output = output ?? OutputSpec.DefaultImage,
                Names = names,
                OpenStdout = context.OpenStdout,
                Pull = args.Bool("pull"),
                Network = network,
                ExtraHosts = hosts,
                ShmSizeBytes = shmSize,
                Ulimits = ulimits,
                Annotations = annotations,
                NamedContexts = namedContexts,
                Provenance = provenance,
            };
            Action<string>? log = context.Debug ? context.Log : null;
            var engine = new BuildEngine(new EngineOptions
            {
                StateDir = context.StateDir,
                Backend = context.Backend,
                // One client for every registry request of the build, ADD <url> included, with the -d log.
                Registry = new RegistryClient(RegistryOptions.FromEnvironment(log: log)),
                Log = log,
            });
            var tty = mode.Kind == ProgressKind.Tty ? new TtyProgress(context.Err) : null;
            var quiet = mode.Kind == ProgressKind.Quiet ? new QuietProgress() : null;
            IBuildProgress progress = mode.Kind switch
            {
                ProgressKind.Tty => tty!,
                ProgressKind.Quiet => quiet!,
                ProgressKind.RawJson => new RawJsonProgress(context.Err),
                _ => new PlainProgress(context.Err),
            };
            BuiltImage built;
            try
            {
                built = await engine.BuildAsync(request, platforms, progress, ct);
            }
            catch (BuildFailedException e)
            {
                if (tty is not null) await tty.DisposeAsync();
                tty = null;
                // Quiet shows nothing while it works; a failure shows what the steps printed, as docker -q does.
                if (quiet is not null) context.Err.Write(quiet.Transcript);
                throw new CommandException(e.Message);
            }
            finally
            {
                if (tty is not null) await tty.DisposeAsync();
            }
            await results.WriteAsync(built, request, ct);
            if (checks is not null)
            {
                if (progress is RawJsonProgress raw) raw.ReportWarnings(checks.Warnings);
                else if (mode.ShowsHeadings) checks.WriteSummary(context.Err);
            }
            // docker's warning, where docker prints it: after the steps, before the closing line.
            if (mode.ShowsHeadings && built.UnusedBuildArgs.Count > 0)
                context.Err.Write($"[Warning] One or more build-args [{string.Join(' ', built.UnusedBuildArgs)}] were not consumed\n");
            if (mode.Kind == ProgressKind.Quiet) context.Out.WriteLine(built.ImageId.ToString());
            if (mode.ShowsHeadings) context.Err.Write($"Successfully built {name}\n");
            return 0;
        }
        finally
        {
            secretFiles?.Dispose();
            foreach (var t in temps)
            {
                try
                {
                    if (Directory.Exists(t)) Img.Fs.FileTree.RemoveTree(t);
                    else File.Delete(t);
                }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary><c>--check</c>, or buildx's <c>--call=check</c>: run the build checks instead of the build.</summary>
    private static bool CallIsCheck(ParsedArgs args)
    {
        var call = args.String("call", "build");
        if (call is not ("build" or "check"))
            throw new CommandException($"invalid --call value \"{call}\": img supports build and check");
        return args.Bool("check") || call == "check";
    }

    private static Reference Normalise(string raw)
    {
        var r = ImageNames.Parse(raw);
        return r.Tag is null && r.Digest is null ? r.WithTag(Reference.DefaultTag) : r;
    }

    private static Dictionary<string, string> KeyValues(IReadOnlyList<string> values, string what)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var v in values)
        {
            var eq = v.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0) throw new CommandException($"invalid {what} value {v}");
            map[v[..eq]] = v[(eq + 1)..];
        }
        return map;
    }

    /// <summary>
    /// SOURCE_DATE_EPOCH from <c>--build-arg</c>, else from the environment (then also passed on as a build-arg, so
    /// an <c>ARG SOURCE_DATE_EPOCH</c> sees it, as buildx does).
    /// </summary>
    private static DateTimeOffset? SourceDateEpoch(Dictionary<string, string> buildArgs)
    {
        const string Name = "SOURCE_DATE_EPOCH";
        if (!buildArgs.TryGetValue(Name, out var value))
        {
            value = Environment.GetEnvironmentVariable(Name);
            if (string.IsNullOrEmpty(value)) return null;
            buildArgs[Name] = value;
        }
        if (value.Length == 0) return null;
        if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            || seconds > 253402300799)
            throw new CommandException($"invalid SOURCE_DATE_EPOCH: {value}: want whole seconds since 1970-01-01 UTC");
        return DateTimeOffset.FromUnixTimeSeconds(seconds);
    }

    /// <summary><c>--platform</c>, repeatable and comma-separated: normalised, duplicates dropped, in the order given; the host when none.</summary>
    private static List<Platform> ParsePlatforms(IReadOnlyList<string> values)
    {
        var all = new List<Platform>();
        foreach (var v in values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            Platform parsed;
            try { parsed = Platform.Normalize(Platform.Parse(v)); }
            catch (FormatException e) { throw new CommandException(e.Message); }
            if (!all.Contains(parsed)) all.Add(parsed);
        }
        return all.Count > 0 ? all : [Platform.Host];
    }

    /// <summary>The context directory and Dockerfile path, reading stdin for <c>-f -</c> or context <c>-</c>.</summary>
    private static async Task<(string Context, string Dockerfile)> PrepareInputsAsync(CommandContext context, string path, string file, List<string> temps, CancellationToken ct)
    {
        if (path.Length == 0) throw new CommandException("please specify build context (e.g. \".\" for the current directory)");
        string? dockerfile = null;
        if (file == "-")
        {
            var dir = Directory.CreateTempSubdirectory("img-build-dockerfile-").FullName;
            temps.Add(dir);
            dockerfile = Path.Combine(dir, "Dockerfile");
            if (path != "-")
            {
                var stdin = context.OpenStdin();
                await using var fs = File.Create(dockerfile);
                await stdin.CopyToAsync(fs, ct);
            }
        }
        string contextDir;
        if (path == "-")
        {
            contextDir = Directory.CreateTempSubdirectory("img-build-context-").FullName;
            temps.Add(contextDir);
            var spool = Path.Combine(contextDir, ".img-stdin");
            await using (var fs = File.Create(spool))
            await using (var stdin = context.OpenStdin())
                await stdin.CopyToAsync(fs, ct);
            if (await IsArchiveAsync(spool, ct))
            {
                var extract = Path.Combine(contextDir, "ctx");
                Directory.CreateDirectory(extract);
                try { await LayerApplier.ApplyFileAsync(spool, extract, new ApplyOptions { PreserveOwnership = false }, ct); }
                catch (LayerFormatException e) { throw new CommandException($"invalid build context archive: {e.Message}"); }
                File.Delete(spool);
                contextDir = extract;
            }
            else
            {
                if (file == "-") throw new CommandException("build context is not an archive");
                var name = file.Length > 0 ? Path.GetFileName(file) : "Dockerfile";
                dockerfile = Path.Combine(contextDir, name);
                File.Move(spool, dockerfile);
                return (contextDir, dockerfile);
            }
        }
        else
        {
            contextDir = Path.GetFullPath(path);
            if (!Directory.Exists(contextDir)) throw new CommandException($"unable to prepare context: path \"{path}\" not found");
        }
        dockerfile ??= file.Length > 0 ? Path.GetFullPath(file) : Path.Combine(contextDir, "Dockerfile");
        return (contextDir, dockerfile);
    }

    private static async Task<bool> IsArchiveAsync(string path, CancellationToken ct)
    {
        var head = new byte[512];
        int n;
        await using (var fs = File.OpenRead(path))
            n = await fs.ReadAtLeastAsync(head, head.Length, false, ct);
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return true;
        if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) return true;
        if (n >= 3 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h') return true;
        return n >= 262 && System.Text.Encoding.ASCII.GetString(head, 257, 5) == "ustar";
    }
}
