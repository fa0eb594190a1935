using Img.Archive.ImageArchive;
using Img.Cli.Framework;
using Img.Oci;

namespace Img.Cli.Commands;

/// <summary><c>docker import</c>: a root filesystem tarball becomes a one-layer image.</summary>
public sealed class ImportCommand : Command
{
    public override string Name => "import";
    public override string Short => "Import the contents from a tarball to create a filesystem image.";
    public override string Use => "import [OPTIONS] file|- [REPOSITORY[:TAG]]";
    public override bool NeedsUserNamespace => true;
    public override IReadOnlyList<Flag> Flags { get; } =
    [
        new("message", 'm', FlagKind.String, "Set commit message for imported image"),
        new("platform", null, FlagKind.String, "Set platform if server is multi-platform capable"),
    ];

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count is < 1 or > 2)
            throw new UsageException("\"import\" requires at least 1 and at most 2 arguments");
        string source = args.Positionals[0];
        var name = args.Positionals.Count == 2 ? ImageNames.Parse(args.Positionals[1]) : null;
        var platform = Platform.Host;
        if (args.String("platform") is { Length: > 0 } p)
        {
            try { platform = Platform.Parse(p); }
            catch (FormatException e) { throw new UsageException(e.Message); }
        }
        if (source == "-" && context.StdinIsTerminal)
            throw new UsageException("refusing to read a tarball from a terminal");
        using var store = context.OpenStore();
        Descriptor manifest;
        try
        {
            await using Stream input = source == "-" ? context.OpenStdin() : OpenFile(source);
            manifest = await RootfsImporter.ImportAsync(input, store.Content, platform,
                new ImportOptions { Message = args.String("message") is { Length: > 0 } m ? m : null }, ct);
        }
        catch (InvalidArchiveException e)
        {
            throw new CommandException(e.Message);
        }
        if (name is not null) store.Metadata.PutImage(name.ToString(), manifest);
        context.Out.WriteLine(manifest.Digest.ToString());
        return 0;
    }

    private static FileStream OpenFile(string path)
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
