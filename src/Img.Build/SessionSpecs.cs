namespace Img.Build;

/// <summary>Parses <c>--secret</c> and <c>--ssh</c> values like buildctl does.</summary>
public static class SessionSpecs
{
    /// <summary>
    /// <c>id=ID,src|source=PATH[,type=file]</c> values → id to host file. The id defaults to the file's base name.
    /// </summary>
    /// <exception cref="ArgumentException">Message <c>could not parse secrets: …</c>.</exception>
    public static IReadOnlyDictionary<string, string> ParseSecrets(IEnumerable<string> values)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            string? id = null, src = null;
            List<string> fields;
            try { fields = CsvFields.Split(value); }
            catch (FormatException e) { throw new ArgumentException("could not parse secrets: " + e.Message); }
            foreach (var field in fields)
            {
                var eq = field.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0) throw new ArgumentException($"could not parse secrets: invalid field '{field}' must be a key=value pair");
                var key = field[..eq].ToLowerInvariant();
                var v = field[(eq + 1)..];
                switch (key)
                {
                    case "type":
                        if (v != "file") throw new ArgumentException($"could not parse secrets: unsupported secret type \"{v}\"");
                        break;
                    case "id": id = v; break;
                    case "source" or "src": src = v; break;
                    default: throw new ArgumentException($"could not parse secrets: unexpected key '{key}' in '{field}'");
                }
            }
            if (string.IsNullOrEmpty(src)) throw new ArgumentException($"could not parse secrets: secret {id ?? value} has no source file (src=PATH)");
            id ??= Path.GetFileName(src);
            result[id] = Path.GetFullPath(src);
        }
        return result;
    }

    /// <summary>
    /// <c>default</c> or <c>ID[=SOCKET|KEY[,KEY...]]</c> values → id to agent socket paths (only agent sockets are forwarded).
    /// </summary>
    /// <exception cref="ArgumentException">Empty <c>SSH_AUTH_SOCK</c>, duplicate ids, or key files (which need an agent).</exception>
    public static IReadOnlyDictionary<string, string> ParseSsh(IEnumerable<string> values, string? sshAuthSock)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            var eq = value.IndexOf('=', StringComparison.Ordinal);
            var id = eq < 0 ? value : value[..eq];
            var paths = eq < 0 ? [] : value[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries);
            if (id.Length == 0) throw new ArgumentException($"invalid ssh spec {value}: empty id");
            if (result.ContainsKey(id)) throw new ArgumentException($"duplicate ssh id {id}");
            string socket;
            if (paths.Length == 0)
            {
                if (string.IsNullOrEmpty(sshAuthSock)) throw new ArgumentException("invalid empty ssh agent socket, make sure SSH_AUTH_SOCK is set");
                socket = sshAuthSock;
            }
            else if (paths.Length == 1 && Posix.IsSocket(paths[0]))
            {
                socket = Path.GetFullPath(paths[0]);
            }
            else
            {
                throw new ArgumentException($"ssh {id}: {string.Join(",", paths)} is not an agent socket; forwarding private key files is not supported, load them into ssh-agent and pass its socket");
            }
            result[id] = socket;
        }
        return result;
    }
}
