using Img.Cli.Framework;

namespace Img.Cli.Commands;

/// <summary>
/// A command of the original whose engine has not landed yet: its flags parse and its help
/// prints, and running it says plainly that it cannot work yet rather than pretending.
/// </summary>
public sealed class EngineMissingCommand(string name, string shortText, string use, IReadOnlyList<Flag> flags, string engine) : Command
{
    public override string Name => name;
    public override string Short => shortText;
    public override string Use => use;
    public override IReadOnlyList<Flag> Flags => flags;

    public override Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct) =>
        throw new CommandException($"{name} is not available yet in this version of img: {engine} has not landed");
}
