namespace Img.Cli.Framework;

/// <summary>One <c>img</c> subcommand: its flags, its help text and what it does.</summary>
public abstract class Command
{
    public abstract string Name { get; }

    /// <summary>The one-line description shown in the command list.</summary>
    public abstract string Short { get; }

    /// <summary>The usage line after <c>img </c>, e.g. <c>ls [OPTIONS]</c>.</summary>
    public abstract string Use { get; }

    public virtual IReadOnlyList<Flag> Flags => [];

    /// <summary>Whether the command touches images and so runs inside the user namespace.</summary>
    public virtual bool NeedsUserNamespace => false;

    public abstract Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct);
}
