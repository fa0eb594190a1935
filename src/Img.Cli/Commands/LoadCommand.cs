using Img.Archive.ImageArchive;
using Img.Cli.Framework;

namespace Img.Cli.Commands;

public sealed class LoadCommand : Command
{
    public override string Name => "load";
    public override string Short => "Load an image from a tar archive or STDIN.";
    public override string Use => "load [OPTIONS]";
    public override bool NeedsUserNamespace => true;
    public override IReadOnlyList<Flag> Flags { get; } =
    [
        new("input", 'i', FlagKind.String, "Read from tar archive file, instead of STDIN"),
        new("quiet", 'q', FlagKind.Bool, "Suppress the load output"),
    ];

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 0) throw new UsageException("no arguments expected");
        string input = args.String("input");
        if (input.Length == 0 && context.StdinIsTerminal)
            throw new UsageException("requested load from stdin, but stdin is empty");
        using var store = context.OpenStore();
        LoadResult result;
        try
        {
            await using Stream source = input.Length > 0 ? OpenInput(input) : context.OpenStdin();
            result = await ImageArchiveReader.LoadAsync(source, store.Content, ct);
        }
        catch (InvalidArchiveException e)
        {
            throw new CommandException(e.Message);
        }
        foreach (var image in result.Images)
        {
            store.Metadata.PutImage(image.Name.ToString(), image.Target);
            if (!args.Bool("quiet")) context.Out.WriteLine($"Loaded image: {image.Name.Familiar}");
        }
        // As docker for an image without a name: kept under its ID until `img tag <id> NAME` names it.
        foreach (var target in result.Unnamed)
        {
            store.Metadata.PutImage(ImageNames.Dangling(target.Digest), target);
            if (!args.Bool("quiet")) context.Out.WriteLine($"Loaded image ID: {target.Digest}");
        }
        return 0;
    }

    private static FileStream OpenInput(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CommandException($"open {path}: no such file or directory");
        }
    }
}
