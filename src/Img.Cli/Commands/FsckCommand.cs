using Img.Build;
using Img.Cli.Framework;
using Img.Cli.Output;

namespace Img.Cli.Commands;

/// <summary>
/// Checks the whole state directory and repairs what can be repaired (see <see cref="StoreCheck"/>). Exits 1
/// when an image lost content, which only a pull or a build brings back.
/// </summary>
public sealed class FsckCommand : Command
{
    public override string Name => "fsck";
    public override string Short => "Check the image store and repair it.";
    public override string Use => "fsck [OPTIONS]";
    public override bool NeedsUserNamespace => true;

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 0) throw new UsageException("no arguments expected");
        StoreCheckReport report;
        try { report = await StoreCheck.RunAsync(context.StateDir, ct); }
        catch (Content.StateDirectoryException e) { throw new CommandException(e.Message); }
        context.Out.WriteLine($"checked {report.BlobsChecked} blobs ({Units.BytesSize(report.BytesChecked)}), {report.Images} images, {report.CacheRecords} cache records");
        if (report.Clean)
        {
            context.Out.WriteLine("no problems found");
            return 0;
        }
        var table = new TabWriter();
        foreach (var f in report.Findings) table.Row(f.Subject, f.Finding);
        context.Out.Write(table.ToString());
        int damagedImages = report.Findings.Where(f => f.Finding.StartsWith("lost ", StringComparison.Ordinal)).Select(f => f.Subject).Distinct().Count();
        if (damagedImages > 0)
            throw new CommandException($"{damagedImages} image(s) lost content: pull or build them again");
        return 0;
    }
}
