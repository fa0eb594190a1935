using System.Globalization;

namespace Img.Dockerfile;

/// <summary>
/// EXPOSE port parsing (docker/go-connections nat.ParsePortSpecs): <c>80</c>, <c>80/udp</c>, <c>8000-8010</c>,
/// <c>ip:hostPort:containerPort</c>, IPv6 <c>[::1]:80:80</c>. Produces the config keys <c>port/proto</c>.
/// </summary>
public static class PortSpec
{
    private static readonly string[] Protocols = ["tcp", "udp", "sctp"];

    /// <summary>Expands one EXPOSE word into exposed-port keys such as <c>8000/tcp</c>.</summary>
    public static List<string> Parse(string spec)
    {
        var rawPort = spec;
        // Strip an optional "ip:hostPort:" prefix; the container port is what EXPOSE records.
        var bracketEnd = spec.LastIndexOf(']');
        var colon = spec.LastIndexOf(':');
        if (colon > bracketEnd)
            rawPort = spec[(colon + 1)..];
        var proto = "tcp";
        var slash = rawPort.IndexOf('/');
        if (slash >= 0)
        {
            proto = rawPort[(slash + 1)..].ToLowerInvariant();
            rawPort = rawPort[..slash];
            if (!Protocols.Contains(proto))
                throw new DockerfileException($"invalid proto: {proto}");
        }
        if (rawPort.Length == 0)
            throw new DockerfileException($"no port specified: {spec}<empty>");
        var (start, end) = ParseRange(rawPort);
        var result = new List<string>(end - start + 1);
        for (var p = start; p <= end; p++)
            result.Add(p.ToString(CultureInfo.InvariantCulture) + "/" + proto);
        return result;
    }

    private static (int Start, int End) ParseRange(string raw)
    {
        var dash = raw.IndexOf('-');
        if (dash < 0)
        {
            var p = ParsePort(raw);
            return (p, p);
        }
        var start = ParsePort(raw[..dash]);
        var end = ParsePort(raw[(dash + 1)..]);
        if (end < start)
            throw new DockerfileException($"invalid range specified for container port: {raw}");
        return (start, end);
    }

    private static int ParsePort(string s)
    {
        if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            throw new DockerfileException($"invalid containerPort: {s}");
        return port;
    }
}
