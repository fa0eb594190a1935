namespace Img.Build;

/// <summary>Where a <c>--secret</c>'s value comes from: a file on the host, or an environment variable of img's own.</summary>
/// <param name="File">The host file's full path, or null.</param>
/// <param name="Variable">The environment variable's name, or null.</param>
public sealed record SecretSource(string? File, string? Variable)
{
    /// <summary>A secret read from a host file.</summary>
    public static SecretSource FromFile(string path) => new(path, null);

    /// <summary>A secret read from an environment variable.</summary>
    public static SecretSource FromEnvironment(string name) => new(null, name);
}

/// <summary>Parses <c>--secret</c> and <c>--ssh</c> values like buildctl does.</summary>
public static class SessionSpecs
{
    /// <summary>
    /// <c>[type=file|env,]id=ID[,src|source=PATH][,env=VAR]</c> values (buildctl and buildx) → id to where its value
    /// comes from. The id defaults to the file's base name; <c>type=env</c> reads <c>src</c> as the variable's name;
    /// with neither <c>src</c> nor <c>env</c>, the variable named like the id is used when it is set, else the file of
    /// that name, as buildx does.
    /// </summary>
    /// <exception cref="ArgumentException">Message <c>could not parse secrets: …</c>.</exception>
    public static IReadOnlyDictionary<string, SecretSource> ParseSecrets(IEnumerable<string> values, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var result = new Dictionary<string, SecretSource>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            string? id = null, src = null, env = null, type = null;
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
                        if (v is not ("file" or "env")) throw new ArgumentException($"could not parse secrets: unsupported secret type \"{v}\"");
                        type = v;
                        break;
                    case "id": id = v; break;
                    case "source" or "src": src = v; break;
                    case "env": env = v; break;
                    default: throw new ArgumentException($"could not parse secrets: unexpected key '{key}' in '{field}'");
                }
            }
            if (type == "env" && env is null)
            {
                env = src ?? id;
                src = null;
            }
            if (env is not null && src is not null) throw new ArgumentException($"could not parse secrets: secret {id ?? value} names both a file and a variable");
            if (env is null && src is null)
            {
                if (string.IsNullOrEmpty(id)) throw new ArgumentException($"could not parse secrets: secret {value} has no id, file (src=PATH) or variable (env=NAME)");
                if (type != "file" && environment(id) is not null) env = id;
                else src = id;
            }
            if (env is not null)
            {
                if (string.IsNullOrEmpty(id)) id = env;
                if (environment(env) is null) throw new ArgumentException($"could not parse secrets: secret {id}: environment variable {env} is not set");
                result[id] = SecretSource.FromEnvironment(env);
                continue;
            }
            if (string.IsNullOrEmpty(src)) throw new ArgumentException($"could not parse secrets: secret {id ?? value} has no source file (src=PATH)");
            id ??= Path.GetFileName(src);
            result[id] = SecretSource.FromFile(Path.GetFullPath(src));
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
