using Img.Cli.Framework;

namespace Img.Cli.Commands;

public sealed class TagCommand : Command
{
    public override string Name => "tag";
    public override string Short => "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.";
    public override string Use => "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]";
    public override bool NeedsUserNamespace => true;

    public override Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count < 2) throw new UsageException("must pass an image or repository and target to tag");
        string src = args.Positionals[0], dest = args.Positionals[1];
        var target = ImageNames.Parse(dest);
        using var store = context.OpenStore();
        var source = ImageNames.Find(store, src);
        store.Metadata.PutImage(target.ToString(), source.Target);
        // Named now, the image is no longer kept under its ID alone.
        store.Metadata.DeleteImage(ImageNames.Dangling(source.Target.Digest));
        context.Out.WriteLine($"Successfully tagged {src} as {dest}");
        return Task.FromResult(0);
    }
}
