using System.Net.Http.Headers;
using System.Text;

namespace Img.Registry;

/// <summary>A parsed <c>WWW-Authenticate</c> challenge: <c>Bearer realm="…",service="…",scope="…"</c> or <c>Basic realm="…"</c>.</summary>
public sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public bool IsBearer => Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase);

    public bool IsBasic => Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase);

    public string? Realm => Parameters.GetValueOrDefault("realm");

    public string? Service => Parameters.GetValueOrDefault("service");

    public string? Scope => Parameters.GetValueOrDefault("scope");

    public string? Error => Parameters.GetValueOrDefault("error");

    /// <summary>The challenge to answer among a response's headers: Bearer preferred over Basic.</summary>
    public static AuthChallenge? From(HttpResponseHeaders headers)
    {
        AuthChallenge? basic = null;
        foreach (var value in headers.WwwAuthenticate)
        {
            var c = Parse(value.Scheme + (value.Parameter is null ? "" : " " + value.Parameter));
            if (c is null) continue;
            if (c.IsBearer) return c;
            if (c.IsBasic) basic ??= c;
        }
        return basic;
    }

    /// <summary>Parses one challenge; null when it has no scheme.</summary>
    public static AuthChallenge? Parse(string header)
    {
        header = header.Trim();
        int space = header.IndexOf(' ');
        string scheme = space < 0 ? header : header[..space];
        if (scheme.Length == 0) return null;
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int i = space < 0 ? header.Length : space + 1;
        while (i < header.Length)
        {
            while (i < header.Length && (header[i] == ' ' || header[i] == ',')) i++;
            int eq = header.IndexOf('=', i);
            if (eq < 0) break;
            string key = header[i..eq].Trim();
            i = eq + 1;
            var value = new StringBuilder();
            if (i < header.Length && header[i] == '"')
            {
                i++;
                while (i < header.Length && header[i] != '"')
                {
                    if (header[i] == '\\' && i + 1 < header.Length) i++;
                    value.Append(header[i++]);
                }
                i++; // closing quote
            }
            else
            {
                while (i < header.Length && header[i] != ',') value.Append(header[i++]);
            }
            if (key.Length > 0) parameters[key] = value.ToString().Trim();
        }
        return new AuthChallenge(scheme, parameters);
    }
}
