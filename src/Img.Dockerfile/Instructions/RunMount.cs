namespace Img.Dockerfile;

/// <summary>Kinds of <c>RUN --mount</c>.</summary>
public enum MountType
{
    /// <summary>Bind a directory of the context or another stage/image (read-only by default).</summary>
    Bind,
    /// <summary>Persistent cache directory shared between builds.</summary>
    Cache,
    /// <summary>Empty tmpfs.</summary>
    Tmpfs,
    /// <summary>Secret file (or environment variable).</summary>
    Secret,
    /// <summary>SSH agent socket.</summary>
    Ssh,
}

/// <summary>Concurrency mode of a cache mount.</summary>
public enum CacheSharing
{
    /// <summary>Concurrent writers share the directory.</summary>
    Shared,
    /// <summary>Each concurrent writer gets its own copy.</summary>
    Private,
    /// <summary>Writers wait for each other.</summary>
    Locked,
}

/// <summary>One parsed <c>RUN --mount=...</c>.</summary>
public sealed record RunMount
{
    /// <summary>Mount kind (default bind).</summary>
    public MountType Type { get; init; } = MountType.Bind;
    /// <summary>Stage name/index or image to take <see cref="Source"/> from; null = build context.</summary>
    public string? From { get; init; }
    /// <summary>Path inside <see cref="From"/> (or secret id for secrets).</summary>
    public string? Source { get; init; }
    /// <summary>Mount point in the container.</summary>
    public string? Target { get; init; }
    /// <summary>Read-only; defaults to true except for cache and tmpfs.</summary>
    public bool ReadOnly { get; init; }
    /// <summary>Cache id, or secret/ssh id.</summary>
    public string? Id { get; init; }
    /// <summary>Cache sharing mode (cache mounts only).</summary>
    public CacheSharing? Sharing { get; init; }
    /// <summary>Fail when the secret/ssh agent is missing.</summary>
    public bool Required { get; init; }
    /// <summary>File mode (octal in the Dockerfile).</summary>
    public uint? Mode { get; init; }
    /// <summary>Owner uid.</summary>
    public uint? Uid { get; init; }
    /// <summary>Owner gid.</summary>
    public uint? Gid { get; init; }
    /// <summary>tmpfs size in bytes.</summary>
    public long? SizeBytes { get; init; }
    /// <summary>Secret exposed as this environment variable.</summary>
    public string? Env { get; init; }
}

/// <summary>Parser for the CSV value of <c>RUN --mount</c>, with BuildKit's validation and messages.</summary>
public static class RunMountParser
{
    private static readonly string[] AllKeys =
    [
        "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size", "mode", "uid", "gid",
        "src", "dst", "destination", "ro", "rw", "readwrite", "env",
    ];

    private static readonly string[] TypeNames = ["bind", "cache", "tmpfs", "secret", "ssh"];

    /// <summary>
    /// Parses a mount spec. With an <paramref name="expand"/> function every value is expanded first; without one,
    /// values containing <c>$</c> are left unapplied (they are re-parsed once the environment is known) and
    /// <c>from</c> must not use variables at all.
    /// </summary>
    public static RunMount Parse(string spec, Func<string, string>? expand = null)
    {
        var fields = Csv.SplitRecord(spec, "failed to parse csv mounts");
        var m = new RunMount();
        var roAuto = true;
        foreach (var field in fields)
        {
            var eq = field.IndexOf('=');
            var key = (eq < 0 ? field : field[..eq]).ToLowerInvariant();
            if (eq < 0)
            {
                switch (key)
                {
                    case "readonly" or "ro":
                        m = m with { ReadOnly = true };
                        roAuto = false;
                        continue;
                    case "readwrite" or "rw":
                        m = m with { ReadOnly = false };
                        roAuto = false;
                        continue;
                    case "required":
                        if (m.Type is MountType.Secret or MountType.Ssh)
                        {
                            m = m with { Required = true };
                            continue;
                        }
                        throw new DockerfileException($"unexpected key '{key}' for mount type '{TypeName(m.Type)}'");
                }
                throw new DockerfileException($"invalid field '{field}' must be a key=value pair");
            }

            var value = field[(eq + 1)..];
            if (expand is not null)
            {
                value = expand(value);
            }
            else if (key == "from" && value.Contains('$') && value.IndexOf('$') < value.Length - 1)
            {
                throw new DockerfileException($"'{key}' doesn't support variable expansion, define alias stage instead");
            }
            else if (value.Contains('$') && AllKeys.Contains(key))
            {
                continue; // applied once the environment is known
            }

            switch (key)
            {
                case "type":
                    m = m with { Type = ParseType(value) };
                    break;
                case "from":
                    m = m with { From = value };
                    break;
                case "source" or "src":
                    m = m with { Source = value };
                    break;
                case "target" or "dst" or "destination":
                    m = m with { Target = value };
                    break;
                case "readonly" or "ro":
                    m = m with { ReadOnly = ParseBool(key, value) };
                    roAuto = false;
                    break;
                case "readwrite" or "rw":
                    m = m with { ReadOnly = !ParseBool(key, value) };
                    roAuto = false;
                    break;
                case "required":
                    if (m.Type is not (MountType.Secret or MountType.Ssh))
                        throw new DockerfileException($"unexpected key '{key}' for mount type '{TypeName(m.Type)}'");
                    m = m with { Required = ParseBool(key, value) };
                    break;
                case "id":
                    m = m with { Id = value };
                    break;
                case "sharing":
                    m = m with
                    {
                        Sharing = value.ToLowerInvariant() switch
                        {
                            "shared" => CacheSharing.Shared,
                            "private" => CacheSharing.Private,
                            "locked" => CacheSharing.Locked,
                            _ => throw new DockerfileException($"unsupported sharing value {GoQuote.Quote(value)}"),
                        },
                    };
                    break;
                case "mode":
                    m = m with { Mode = ParseUInt(value, 8, "mode") };
                    break;
                case "uid":
                    m = m with { Uid = ParseUInt(value, 10, "uid") };
                    break;
                case "gid":
                    m = m with { Gid = ParseUInt(value, 10, "gid") };
                    break;
                case "size":
                    if (m.Type != MountType.Tmpfs)
                        throw new DockerfileException($"unexpected key '{key}' for mount type '{TypeName(m.Type)}'");
                    m = m with { SizeBytes = ByteSize.Parse(value) };
                    break;
                case "env":
                    m = m with { Env = value };
                    break;
                default:
                    throw new DockerfileException(Suggest.Wrap($"unexpected key '{key}' in '{field}'", key, AllKeys, true));
            }
        }
        return Validate(m, roAuto);
    }

    private static RunMount Validate(RunMount m, bool roAuto)
    {
        var fileInfoAllowed = m.Type is MountType.Secret or MountType.Ssh or MountType.Cache;
        if (m.Mode is not null && !fileInfoAllowed)
            throw new DockerfileException($"mode not allowed for {GoQuote.Quote(TypeName(m.Type))} type mounts");
        if (m.Uid is not null && !fileInfoAllowed)
            throw new DockerfileException($"uid not allowed for {GoQuote.Quote(TypeName(m.Type))} type mounts");
        if (m.Gid is not null && !fileInfoAllowed)
            throw new DockerfileException($"gid not allowed for {GoQuote.Quote(TypeName(m.Type))} type mounts");
        if (roAuto)
            m = m with { ReadOnly = m.Type is not (MountType.Cache or MountType.Tmpfs) };
        if (m.Sharing is not null && m.Type != MountType.Cache)
            throw new DockerfileException($"invalid cache sharing set for {TypeName(m.Type)} mount");
        if (m.Env is not null && m.Type != MountType.Secret)
            throw new DockerfileException($"unexpected key 'env' for mount type '{TypeName(m.Type)}'");
        if (m.Type == MountType.Secret)
        {
            if (m.From is not null)
                throw new DockerfileException("secret mount should not have a from");
            if (m.Source is null && m.Target is null && m.Id is null && m.Env is null)
                throw new DockerfileException("invalid secret mount. one of source, target required");
            if (m.Source is not null && m.Id is not null)
                throw new DockerfileException("both source and id can't be set");
        }
        return m;
    }

    /// <summary>The Dockerfile spelling of a mount type.</summary>
    public static string TypeName(MountType t) => TypeNames[(int)t];

    private static MountType ParseType(string value)
    {
        var i = Array.IndexOf(TypeNames, value.ToLowerInvariant());
        if (i < 0)
            throw new DockerfileException(Suggest.Wrap($"unsupported mount type {GoQuote.Quote(value)}", value, TypeNames, true));
        return (MountType)i;
    }

    private static bool ParseBool(string key, string value) => value.ToLowerInvariant() switch
    {
        "1" or "t" or "true" => true,
        "0" or "f" or "false" => false,
        _ => throw new DockerfileException($"invalid value for {key}: {value}"),
    };

    private static uint ParseUInt(string value, int radix, string what)
    {
        try
        {
            if (value.Length == 0 || value.StartsWith('-') || value.StartsWith('+'))
                throw new FormatException();
            var v = Convert.ToUInt64(value, radix);
            if (v > uint.MaxValue)
                throw new OverflowException();
            return (uint)v;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new DockerfileException($"invalid value {value} for {what}");
        }
    }
}

/// <summary>Human byte sizes such as <c>128m</c>, <c>1GiB</c> (go-units RAMInBytes semantics: binary multiples).</summary>
public static class ByteSize
{
    /// <summary>Parses a size; throws <see cref="DockerfileException"/> when invalid.</summary>
    public static long Parse(string value)
    {
        var s = value.Trim();
        var i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            i++;
        if (i == 0 || !double.TryParse(s[..i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number))
            throw new DockerfileException($"invalid size: '{value}'");
        var unit = s[i..].Trim().ToLowerInvariant();
        if (unit.EndsWith("ib", StringComparison.Ordinal))
            unit = unit[..^2];
        else if (unit.EndsWith('b'))
            unit = unit[..^1];
        var mult = unit switch
        {
            "" => 1L,
            "k" => 1L << 10,
            "m" => 1L << 20,
            "g" => 1L << 30,
            "t" => 1L << 40,
            "p" => 1L << 50,
            _ => throw new DockerfileException($"invalid size: '{value}'"),
        };
        return (long)(number * mult);
    }
}
