namespace Img.Cli.Framework;

/// <summary>A mistake in how a command was called: printed as <c>Error: …</c>, exit 1.</summary>
public sealed class UsageException(string message, bool showUsage = false) : Exception(message)
{
    public bool ShowUsage { get; } = showUsage;
}

/// <summary>A failure the user can act on: printed as <c>Error: …</c>, exit 1.</summary>
public sealed class CommandException(string message, Exception? inner = null) : Exception(message, inner);
