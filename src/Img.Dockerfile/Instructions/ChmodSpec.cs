namespace Img.Dockerfile;

/// <summary>
/// A <c>--chmod</c> value: an octal mode (<c>0644</c>) or chmod(1) symbolic clauses (<c>u=rw,g=r,o=r</c>, <c>go-w</c>,
/// <c>a+X</c>). <see cref="Apply"/> computes the resulting permission bits for a file or directory.
/// </summary>
public sealed class ChmodSpec
{
    private readonly uint? _octal;
    private readonly List<Clause> _clauses;

    private ChmodSpec(uint? octal, List<Clause> clauses)
    {
        _octal = octal;
        _clauses = clauses;
    }

    /// <summary>The octal mode, or null for a symbolic spec.</summary>
    public uint? Octal => _octal;

    /// <summary>True for a symbolic spec, whose result depends on the existing mode.</summary>
    public bool IsSymbolic => _octal is null;

    /// <summary>Parses a chmod value; throws BuildKit's "invalid chmod parameter" error when invalid.</summary>
    public static ChmodSpec Parse(string value)
    {
        if (value.Length > 0 && value.All(c => c is >= '0' and <= '7'))
        {
            var mode = value.Length > 11 ? uint.MaxValue : (uint)Convert.ToUInt64(value, 8);
            if (mode <= 0xFFF) // 07777
                return new ChmodSpec(mode, []);
        }
        else if (TryParseSymbolic(value, out var clauses))
        {
            return new ChmodSpec(null, clauses);
        }
        throw new DockerfileException($"invalid chmod parameter: '{value}'. it should be octal string and between 0 and 07777");
    }

    /// <summary>The mode after applying this spec to a file with <paramref name="current"/> permission bits.</summary>
    public uint Apply(uint current, bool isDirectory)
    {
        if (_octal is { } o)
            return o;
        var mode = current & 0xFFF;
        foreach (var c in _clauses)
        {
            uint perm = 0;
            foreach (var p in c.Perms)
            {
                perm |= p switch
                {
                    'r' => 0x124u, // 0444
                    'w' => 0x92u,  // 0222
                    'x' => 0x49u,  // 0111
                    'X' => isDirectory || (current & 0x49) != 0 ? 0x49u : 0,
                    's' => 0xC00u, // setuid|setgid
                    't' => 0x200u, // sticky
                    _ => 0,
                };
            }
            foreach (var copy in c.CopyFrom)
            {
                var bits = copy switch
                {
                    'u' => (mode >> 6) & 7,
                    'g' => (mode >> 3) & 7,
                    _ => mode & 7,
                };
                perm |= (bits << 6) | (bits << 3) | bits;
            }
            var who = c.Who == 0 ? 0xFFFu : c.Who;
            // Without an explicit "who", chmod honours the umask; builds run with umask 022.
            var mask = c.Who == 0 && c.Op != '=' ? who & ~0x12u : who;
            var effective = perm & mask;
            mode = c.Op switch
            {
                '+' => mode | effective,
                '-' => mode & ~effective,
                _ => (mode & ~who) | effective,
            };
        }
        return mode;
    }

    private sealed record Clause(uint Who, char Op, string Perms, string CopyFrom);

    private static bool TryParseSymbolic(string value, out List<Clause> clauses)
    {
        clauses = [];
        if (value.Length == 0)
            return false;
        foreach (var part in value.Split(','))
        {
            var i = 0;
            uint who = 0;
            for (; i < part.Length && part[i] is 'u' or 'g' or 'o' or 'a'; i++)
            {
                who |= part[i] switch
                {
                    'u' => 0x9C0u, // 04700
                    'g' => 0x438u, // 02070
                    'o' => 0x207u, // 01007
                    _ => 0xFFFu,
                };
            }
            if (i >= part.Length)
                return false;
            while (i < part.Length)
            {
                var op = part[i];
                if (op is not ('+' or '-' or '='))
                    return false;
                i++;
                var start = i;
                while (i < part.Length && part[i] is 'r' or 'w' or 'x' or 'X' or 's' or 't')
                    i++;
                var perms = part[start..i];
                var copy = "";
                if (perms.Length == 0 && i < part.Length && part[i] is 'u' or 'g' or 'o')
                    copy = part[i++].ToString();
                clauses.Add(new Clause(who, op, perms, copy));
            }
        }
        return true;
    }
}
