using Img.Archive.ImageArchive;
using Img.Cli.Framework;
using Img.Content;
using Img.Oci;

namespace Img.Cli.Commands;

public sealed class SaveCommand : Command
{
    public override string Name => "save";
    public override string Short => "Save an image to a tar archive (streamed to STDOUT by default).";
    public override string Use => "save [OPTIONS] IMAGE [IMAGE...]";
    public override bool NeedsUserNamespace => true;
    public override IReadOnlyList<Flag> Flags { get; } =
    [
        new("format", null, FlagKind.String, "image output format (docker|oci)", "docker"),
        new("output", 'o', FlagKind.String, "write to a file, instead of STDOUT"),
    ];

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count < 1) throw new UsageException("must pass an image or repository to save");
        string formatName = args.String("format", "docker");
        var format = formatName switch
        {
            "docker" => ArchiveFormat.Docker,
            "oci" => ArchiveFormat.Oci,
            _ => throw new UsageException($"\"{formatName}\" is not a valid format"),
        };
        string output = args.String("output");
        if (output.Length == 0 && context.StdoutIsTerminal)
            throw new UsageException("cowardly refusing to save to a terminal. Use the -o flag or redirect");

        using var store = context.OpenStore();
        var images = args.Positionals
            .Select(raw => (Raw: raw, Record: ImageNames.Find(store, raw)))
            .Select(r => Reference.TryParse(r.Record.Name, out var name, out _)
                ? new ArchiveImage(name!, r.Record.Target)
                : throw new CommandException($"image {r.Raw} has no name to save it under: name it first (img tag {r.Raw} NAME)"))
            .ToList();
        try
        {
            if (output.Length == 0)
            {
                await using var stdout = context.OpenStdout();
                await ImageArchiveWriter.WriteAsync(stdout, store.Content, images, format, Platform.Host, ct);
                return 0;
            }
            await using var file = new AtomicFile(output, store);
            await ImageArchiveWriter.WriteAsync(file.Stream, store.Content, images, format, Platform.Host, ct);
            await file.CommitAsync(ct);
            return 0;
        }
        catch (CorruptBlobException e)
        {
            // The store only knows the blob; here the image that needs it is known too.
            throw new CommandException($"saving {string.Join(", ", args.Positionals)}: {e.Message}");
        }
    }
}
