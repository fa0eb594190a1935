using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Graph.Convert;

/// <summary>A vertex that starts a filesystem, with the config of what it holds.</summary>
internal sealed record SourceVertex(Vertex Vertex, StageConfig Config);

/// <summary>
/// The source vertices of one build: the context, base images (pinned by the resolved metadata), named contexts and
/// the empty filesystem. Sources do not depend on the stage that reads them, so each is made once.
/// </summary>
internal sealed class SourceVertices(ConvertOptions options)
{
    private readonly Dictionary<string, SourceVertex> _made = new(StringComparer.Ordinal);
    private Vertex? _context;

    /// <summary>The empty filesystem: the root of a RUN, or the source of a COPY, in a stage that has no files yet.</summary>
    public static Vertex Scratch { get; } = new("scratch", new FileOp([]) { BaseInput = null });

    /// <summary>The build context without what <c>.dockerignore</c> excludes.</summary>
    public Vertex Context => _context ??=
        new Vertex("[internal] load build context", new LocalSource("context") { Exclude = options.ContextExcludes }, ignoreCache: options.NoCache);

    /// <summary>
    /// What a name means where no stage has it (<c>FROM</c>, <c>COPY --from</c>, <c>RUN --mount from=</c>): a named
    /// context when <c>--build-context</c> gives one, else an image (or the empty filesystem for <c>scratch</c>).
    /// </summary>
    public SourceVertex Named(string name, Platform platform, int line)
    {
        if (options.NamedContexts.TryGetValue(name.ToLowerInvariant(), out var named))
            return NamedContext(name.ToLowerInvariant(), named, platform, line);
        if (name.Equals("scratch", StringComparison.OrdinalIgnoreCase))
            return new SourceVertex(Scratch, StageConfig.Scratch(platform));
        return Image(name, platform, line);
    }

    private SourceVertex NamedContext(string name, NamedContext context, Platform platform, int line) => context.Kind switch
    {
        NamedContextKind.Image => Image(context.Location, platform, line),
        NamedContextKind.OciLayout => Once($"oci\0{context.Location}\0{context.Selector}\0{platform}", () =>
        {
            var identifier = $"oci-layout://{context.Location}" + (context.Selector is { } s ? (s.Contains(':') ? "@" : ":") + s : "");
            var config = options.Images.Find(identifier, platform)?.Config;
            var source = new OciLayoutSource(context.Location, context.Selector, platform);
            return new SourceVertex(new Vertex($"[context {name}] load {identifier}", source, ignoreCache: options.NoCache),
                config is null ? StageConfig.Scratch(platform) : OciStageConfig.FromImage(config, platform));
        }),
        _ => Once("local\0" + name, () => new SourceVertex(
            new Vertex($"[context {name}] load from {context.Location}", new LocalSource(name), ignoreCache: options.NoCache),
            StageConfig.Scratch(platform))),
    };

    private SourceVertex Image(string name, Platform platform, int line)
    {
        if (!Reference.TryParse(name, out var reference, out var error))
            throw new DockerfileException($"failed to parse stage name \"{name}\": {error}", line);
        var normalised = reference!.ToString();
        return Once($"image\0{normalised}\0{platform}\0{platform.OSVersion}", () =>
        {
            var resolved = options.Images.Find(normalised, platform);
            var source = new ImageSource(resolved?.Reference ?? normalised, platform);
            return new SourceVertex(new Vertex($"[internal] load metadata for {normalised}", source, ignoreCache: options.NoCache),
                resolved is null ? new StageConfig { Platform = platform } : OciStageConfig.FromImage(resolved.Config, platform));
        });
    }

    private SourceVertex Once(string key, Func<SourceVertex> make)
    {
        if (!_made.TryGetValue(key, out var made))
            _made[key] = made = make();
        return made;
    }
}
