using Img.Archive.Layers;
using Img.Cli.Framework;
using Img.Content;
using Img.Oci;

namespace Img.Cli.Commands;

public sealed class UnpackCommand : Command
{
    public override string Name => "unpack";
    public override string Short => "Unpack an image to a rootfs directory.";
    public override string Use => "unpack [OPTIONS] IMAGE";
    public override bool NeedsUserNamespace => true;
    public override IReadOnlyList<Flag> Flags { get; } =
        [new("output", 'o', FlagKind.String, "Directory to unpack the rootfs to. (defaults to rootfs/ in the current working directory)")];

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count < 1) throw new UsageException("must pass an image or repository to unpack");
        string raw = args.Positionals[0];
        string dest = Path.GetFullPath(args.String("output") is { Length: > 0 } o ? o : Path.Combine(Environment.CurrentDirectory, "rootfs"));
        if (Directory.Exists(dest) || File.Exists(dest))
            throw new CommandException($"destination directory already exists: {dest}");

        using var store = context.OpenStore();
        var image = ImageNames.Find(store, raw);
        var manifestDesc = await ContentWalker.SelectManifestAsync(store.Content, image.Target, Platform.Host, ct)
            ?? throw new CommandException($"image {image.Name} has no manifest for {Platform.Host}");
        var manifest = await ContentWalker.ReadManifestAsync(store.Content, manifestDesc, ct);

        // Layers land in a private sibling first: a failure leaves no half-unpacked rootfs at dest.
        string temp = Path.Combine(Path.GetDirectoryName(dest)!, $".{Path.GetFileName(dest)}.unpack-{Environment.ProcessId}");
        Directory.CreateDirectory(temp);
        try
        {
            // Like the original (NoLchown): the files belong to the user who ran img, so they can remove them.
            var options = new ApplyOptions { PreserveOwnership = false, Warn = context.Warn };
            foreach (var layer in manifest.Layers)
                await LayerApplier.ApplyBlobAsync(store.Content, layer.Digest, temp, options, ct);
            Directory.Move(temp, dest);
        }
        catch (CorruptBlobException e)
        {
            TryRemove(temp);
            throw new CommandException($"unpacking {raw}: {e.Message}");
        }
        catch
        {
            TryRemove(temp);
            throw;
        }
        context.Out.WriteLine($"Successfully unpacked rootfs for {raw} to: {dest}");
        return 0;
    }

    private static void TryRemove(string dir)
    {
        try { Img.Fs.FileTree.RemoveTree(dir); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
