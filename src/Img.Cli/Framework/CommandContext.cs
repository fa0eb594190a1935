using Img.Content;
using Img.Runtime.Snapshots;

namespace Img.Cli.Framework;

/// <summary>What every command gets: the global options and the process's streams.</summary>
public sealed class CommandContext
{
    public required string StateDir { get; init; }
    public required BackendChoice Backend { get; init; }
    public required bool Debug { get; init; }
    public TextWriter Out { get; init; } = Console.Out;
    public TextWriter Err { get; init; } = Console.Error;
    public Func<Stream> OpenStdout { get; init; } = Console.OpenStandardOutput;
    public Func<Stream> OpenStdin { get; init; } = Console.OpenStandardInput;
    public bool StdoutIsTerminal { get; init; } = !Console.IsOutputRedirected;
    public bool StdinIsTerminal { get; init; } = !Console.IsInputRedirected;
    public bool StderrIsTerminal { get; init; } = !Console.IsErrorRedirected;

    /// <summary>A debug line on stderr, in the original's logrus shape; silent without --debug.</summary>
    public void Log(string message)
    {
        if (!Debug) return;
        Err.WriteLine($"time=\"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ}\" level=debug msg=\"{message.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
    }

    public void Warn(string message) =>
        Err.WriteLine($"time=\"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ}\" level=warning msg=\"{message.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");

    public LocalStore OpenStore()
    {
        try
        {
            return LocalStore.Open(StateDir);
        }
        catch (StateDirectoryException e)
        {
            throw new CommandException(e.Message);
        }
    }
}
