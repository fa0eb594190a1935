using Img.Cli.Framework;
using Img.Registry;

namespace Img.Cli.Commands;

public sealed class LogoutCommand : Command
{
    public override string Name => "logout";
    public override string Short => "Log out from a Docker registry.";
    public override string Use => "logout [SERVER]";

    public override Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 1) throw new UsageException($"logout expects zero or one arguments, found {args.Positionals.Count}");
        string? server = args.Positionals.Count == 1 ? args.Positionals[0] : null;
        var options = RegistryOptions.FromEnvironment(log: context.Debug ? context.Log : null);
        var config = options.DockerConfig ?? new DockerConfig();
        string key = ServerAddress.NormalizeLoginServer(server);
        if (!config.HasLogin(key))
        {
            context.Out.WriteLine($"Not logged in to {key}");
            return Task.FromResult(0);
        }
        context.Out.WriteLine($"Removing login credentials for {key}");
        var result = new RegistryClient(options).Logout(server);
        if (result.Warning is not null) context.Out.WriteLine($"WARNING: could not erase credentials: {result.Warning}");
        context.Out.WriteLine("Logout succeeded.");
        return Task.FromResult(0);
    }
}
