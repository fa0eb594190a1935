using Img.Cli.Framework;
using Img.Content;
using Img.Oci;
using Img.Registry;

namespace Img.Cli.Commands;

public sealed class PushCommand : Command
{
    public override string Name => "push";
    public override string Short => "Push an image or a repository to a registry.";
    public override string Use => "push [OPTIONS] NAME[:TAG]";
    public override bool NeedsUserNamespace => true;
    public override IReadOnlyList<Flag> Flags { get; } =
        [new("insecure-registry", null, FlagKind.Bool, "Push to insecure registry")];

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count < 1) throw new UsageException("must pass an image or repository to push");
        string raw = args.Positionals[0];
        var reference = ImageNames.Parse(raw);
        context.Out.WriteLine($"Pushing {raw}...");
        using var store = context.OpenStore();
        var image = store.Metadata.GetImage(reference.ToString())
            ?? throw new CommandException($"getting image \"{reference}\" failed: image \"{reference}\": not found");
        var client = new RegistryClient(RegistryOptions.FromEnvironment(
            args.Bool("insecure-registry") ? [reference.Domain] : null, context.Debug ? context.Log : null));
        var sources = await MountSourcesAsync(store, reference, ct);
        var result = await client.PushAsync(reference, image.Target, store.Content, progress: null,
            mountSources: d => sources.TryGetValue(d, out var repos) ? repos : [], ct: ct);
        context.Log($"pushed {reference}: {result.Uploaded} uploaded, {result.Existing} already there, {result.Mounted} mounted");
        context.Out.WriteLine($"Successfully pushed {raw}");
        return 0;
    }

    /// <summary>Other repositories of the same registry whose images hold a blob: the registry can mount it instead of an upload.</summary>
    private static async Task<Dictionary<Digest, List<string>>> MountSourcesAsync(LocalStore store, Reference target, CancellationToken ct)
    {
        var map = new Dictionary<Digest, List<string>>();
        foreach (var (digest, images) in await store.ImageBlobsAsync(ct))
        {
            var repos = images
                .Select(name => Reference.TryParse(name, out var r, out _) && r!.Domain == target.Domain && r.Path != target.Path ? r.Path : null)
                .OfType<string>().Distinct().ToList();
            if (repos.Count > 0) map[digest] = repos;
        }
        return map;
    }
}
