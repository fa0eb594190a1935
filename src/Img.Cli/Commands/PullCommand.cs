using Img.Cli.Framework;
using Img.Cli.Output;
using Img.Content;
using Img.Oci;
using Img.Registry;

namespace Img.Cli.Commands;

public sealed class PullCommand : Command
{
    public override string Name => "pull";
    public override string Short => "Pull an image or a repository from a registry.";
    public override string Use => "pull [OPTIONS] NAME[:TAG|@DIGEST]";
    public override bool NeedsUserNamespace => true;
    public override IReadOnlyList<Flag> Flags { get; } =
    [
        new("platform", null, FlagKind.String, "Set platform if server is multi-platform capable"),
        new("insecure-registry", null, FlagKind.Bool, "Pull from insecure registry"),
    ];

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count < 1) throw new UsageException("must pass an image or repository to pull");
        string raw = args.Positionals[0];
        var reference = ImageNames.Parse(raw);
        var platform = Platform.Host;
        if (args.String("platform") is { Length: > 0 } p)
        {
            try { platform = Platform.Parse(p); }
            catch (FormatException e) { throw new UsageException(e.Message); }
        }
        context.Out.WriteLine($"Pulling {raw}...");
        using var store = context.OpenStore();
        var client = new RegistryClient(RegistryOptions.FromEnvironment(
            args.Bool("insecure-registry") ? [reference.Domain] : null, context.Debug ? context.Log : null));
        var result = await client.PullAsync(reference, platform, store.Content, progress: null, ct);
        store.Metadata.PutImage(reference.ToString(), result.Target);
        await RecordPulledLayersAsync(store, reference, result, ct);
        context.Out.WriteLine($"Pulled: {result.Target.Digest}");
        context.Out.WriteLine($"Size: {Units.BytesSize(result.Size)}");
        return 0;
    }

    /// <summary>Each pulled layer becomes a build-cache record, so <c>du</c> accounts for it as the original's did.</summary>
    private static async Task RecordPulledLayersAsync(LocalStore store, Reference reference, PullResult result, CancellationToken ct)
    {
        var manifest = await ContentWalker.ReadManifestAsync(store.Content, result.Manifest, ct);
        string from = $"pulled from {reference.Name}@{result.Manifest.Digest}";
        foreach (var layer in manifest.Layers)
        {
            store.Metadata.PutCacheRecord(new CacheRecord
            {
                Key = layer.Digest.ToString(),
                Kind = "source.image",
                Description = from,
                Result = "",
                Size = layer.Size,
                Blobs = [layer.Digest],
            });
        }
    }
}
