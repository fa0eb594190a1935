using Img.Cli.Framework;
using Img.Cli.Output;
using Img.Content;
using Img.Oci;

namespace Img.Cli.Commands;

public sealed class LsCommand : Command
{
    public override string Name => "ls";
    public override string Short => "List images and digests.";
    public override string Use => "ls [OPTIONS]";
    public override bool NeedsUserNamespace => true;
    public override IReadOnlyList<Flag> Flags { get; } =
        [new("filter", 'f', FlagKind.List, "Filter output based on conditions provided")];

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 0) throw new UsageException("no arguments expected");
        var filters = args.List("filter").Select(ImageFilter.Parse).ToList();
        var table = new TabWriter().Row("NAME", "SIZE", "CREATED AT", "UPDATED AT", "DIGEST");
        using var store = context.OpenStore();
        var now = DateTimeOffset.UtcNow;
        foreach (var image in store.Metadata.ListImages())
        {
            if (filters.Count > 0 && !filters.Any(f => f.Matches(image))) continue;
            string size;
            try
            {
                size = Units.BytesSize(await store.ImageSizeAsync(image.Target, Platform.Host, ct));
            }
            catch (Exception e) when (e is ContentException or FormatException)
            {
                context.Log($"size of {image.Name}: {e.Message}");
                size = "?";
            }
            table.Row(image.Name, size,
                Units.HumanDuration(now - image.CreatedAt) + " ago",
                Units.HumanDuration(now - image.UpdatedAt) + " ago",
                image.Target.Digest.ToString());
        }
        context.Out.Write(table.ToString());
        return 0;
    }
}
