using Img.Cli.Framework;

namespace Img.Cli.Commands;

public sealed class RmCommand : Command
{
    public override string Name => "rm";
    public override string Short => "Remove one or more images.";
    public override string Use => "rm [OPTIONS] IMAGE [IMAGE...]";
    public override bool NeedsUserNamespace => true;

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count < 1) throw new UsageException("must pass an image or repository to remove");
        using var store = context.OpenStore();
        foreach (var raw in args.Positionals)
        {
            context.Out.WriteLine($"Removing {raw}...");
            var reference = ImageNames.Parse(raw);
            if (!store.Metadata.DeleteImage(reference.ToString()))
                throw new CommandException($"removing image failed: image \"{reference}\": not found");
            context.Out.WriteLine($"Successfully removed {raw}");
        }
        // Synchronous delete, as the original: blobs no other image or cache record needs go now.
        var gc = await store.CollectGarbageAsync(ct: ct);
        context.Log($"garbage collection removed {gc.BlobsRemoved} blobs ({gc.BytesFreed} bytes)");
        return 0;
    }
}
