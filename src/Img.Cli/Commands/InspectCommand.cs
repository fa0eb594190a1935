using System.Text.Json;
using Img.Cli.Framework;
using Img.Content;
using Img.Oci;

namespace Img.Cli.Commands;

public sealed class InspectCommand : Command
{
    public override string Name => "inspect";
    public override string Short => "Return low-level information on a container image.";
    public override string Use => "inspect NAME[:TAG]";
    public override bool NeedsUserNamespace => true;

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count < 1) throw new UsageException("must pass an image to inspect");
        using var store = context.OpenStore();
        var image = ImageNames.Find(store, args.Positionals[0]);
        var manifestDesc = await ContentWalker.SelectManifestAsync(store.Content, image.Target, Platform.Host, ct)
            ?? await FirstManifestAsync(store.Content, image.Target, ct)
            ?? throw new CommandException($"image \"{image.Name}\" has no manifest");
        var manifest = await ContentWalker.ReadManifestAsync(store.Content, manifestDesc, ct);
        var config = await ContentWalker.ReadConfigAsync(store.Content, manifest.Config, ct);
        context.Out.WriteLine(JsonSerializer.Serialize(config, OciJsonContext.Indented.ImageConfig));
        return 0;
    }

    private static async Task<Descriptor?> FirstManifestAsync(ContentStore store, Descriptor target, CancellationToken ct)
    {
        foreach (var child in await ContentWalker.ChildrenAsync(store, target, ct))
            if (MediaTypes.IsManifest(child.MediaType) && store.Exists(child.Digest)) return child;
        return null;
    }
}
