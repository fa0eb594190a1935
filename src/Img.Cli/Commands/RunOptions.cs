using System.Net;
using Img.Cli.Framework;
using Img.Runtime.Oci;

namespace Img.Cli.Commands;

/// <summary>The <c>img build</c> flags that shape every RUN step's container: <c>--network</c>, <c>--add-host</c>, <c>--shm-size</c>, <c>--ulimit</c>.</summary>
public static class RunOptions
{
    /// <summary><c>--network default|host|none</c>; BuildKit's default for img is the host network.</summary>
    public static RunNetwork Network(string value) => value switch
    {
        "" or "default" or "host" => RunNetwork.Host,
        "none" => RunNetwork.None,
        _ => throw new CommandException($"network mode \"{value}\" not supported: use default, host or none"),
    };

    /// <summary><c>--shm-size</c> in docker's units (<c>64m</c>, <c>1g</c>, <c>2048</c> bytes), or null when not given.</summary>
    public static long? ShmSize(string value)
    {
        if (value.Length == 0) return null;
        var m = System.Text.RegularExpressions.Regex.Match(value, @"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$");
        if (!m.Success) throw new CommandException($"invalid argument \"{value}\" for \"--shm-size\" flag: invalid size: '{value}'");
        var number = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var unit = m.Groups[2].Success ? "kmgtp".IndexOf(char.ToLowerInvariant(m.Groups[2].Value[0]), StringComparison.Ordinal) + 1 : 0;
        var bytes = (long)(number * Math.Pow(1024, unit));
        if (bytes <= 0) throw new CommandException($"invalid argument \"{value}\" for \"--shm-size\" flag: the size must be positive");
        return bytes;
    }

    /// <summary><c>--ulimit NAME=SOFT[:HARD]</c> values.</summary>
    public static IReadOnlyList<Ulimit> Ulimits(IReadOnlyList<string> values)
    {
        try { return values.Select(Ulimit.Parse).ToList(); }
        catch (FormatException e) { throw new CommandException($"invalid argument for \"--ulimit\" flag: {e.Message}"); }
    }

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
