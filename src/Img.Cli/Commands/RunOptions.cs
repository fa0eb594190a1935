using System.Net;
using Img.Cli.Framework;
using Img.Runtime.Oci;

namespace Img.Cli.Commands;

/// <summary>The <c>img build</c> flags that shape every RUN step's container: <c>--network</c>, <c>--add-host</c>.</summary>
public static class RunOptions
{
    /// <summary><c>--network default|host|none</c>; BuildKit's default for img is the host network.</summary>
    public static RunNetwork Network(string value) => value switch
    {
        "" or "default" or "host" => RunNetwork.Host,
        "none" => RunNetwork.None,
        _ => throw new CommandException($"network mode \"{value}\" not supported: use default, host or none"),
    };

    /// <summary><c>--add-host NAME:IP</c> (or <c>NAME=IP</c>) values → (name, address) in the order given.</summary>
    public static IReadOnlyList<(string Name, string Address)> ExtraHosts(IReadOnlyList<string> values)
    {
        var hosts = new List<(string, string)>();
        foreach (var v in values)
        {
            // docker splits at the first separator, so an IPv6 address keeps its colons.
            var sep = v.IndexOfAny([':', '=']);
            if (sep <= 0) throw new CommandException($"invalid argument \"{v}\" for \"--add-host\" flag: bad format for add-host: \"{v}\"");
            var name = v[..sep];
            var address = v[(sep + 1)..].Trim('[', ']');
            if (address == "host-gateway")
                throw new CommandException($"invalid argument \"{v}\" for \"--add-host\" flag: host-gateway needs a daemon's bridge network; give the address itself");
            if (!IPAddress.TryParse(address, out _))
                throw new CommandException($"invalid argument \"{v}\" for \"--add-host\" flag: invalid IP address in add-host: \"{address}\"");
            hosts.Add((name, address));
        }
        return hosts;
    }
}
