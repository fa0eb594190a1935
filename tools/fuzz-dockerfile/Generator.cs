using System.Text;

namespace FuzzDockerfile;

/// <summary>Makes inputs: token soup biased to Dockerfile syntax, and mutations of the conformance corpora.</summary>
internal sealed class Generator(Random rng, IReadOnlyList<string> dockerfiles, IReadOnlyList<string> shellWords)
{
    private static readonly string[] Tokens =
    [
        "FROM ", "RUN ", "COPY ", "ADD ", "ARG ", "ENV ", "ONBUILD ", "HEALTHCHECK ", "SHELL ", "CMD ", "ENTRYPOINT ",
        "EXPOSE ", "LABEL ", "WORKDIR ", "USER ", "VOLUME ", "STOPSIGNAL ", "MAINTAINER ", " AS ", " as ", "scratch",
        "alpine", "stage", "0", "1", "\\", "\\\n", "`", "$", "${", "}", ":-", ":+", ":?", "-", "+", "?", "#", "%", "%%",
        "##", "/", "//", "*", "**", "!", "<<EOF", "<<-EOF", "<<'EOF'", "<<\"EOF\"", "EOF", "\nEOF\n", "[", "]", "\"", "'",
        ",", "=", "--mount=", "--mount=type=cache,target=/x", "type=secret,id=a", "type=bind,source=/,from=", "--from=",
        "--chmod=", "--chown=", "--link", "--platform=", "--network=", "--security=", "--interval=", "--start-period=",
        "--retries=", "--exclude=", "--parents", "--keep-git-dir=", "--checksum=", "NONE", "0755", "1s", "10ms",
        "# escape=`\n", "# escape=\\\n", "# syntax=docker/dockerfile:1\n", "# check=skip=all\n", "\n", "\n\n", "\r\n",
        "\t", " ", "  ", "é", "日本", "\u00a0", "\uFEFF", "\U0001F600", "\0", "\ud800", "FOO", "BAR", "PWD",
        "TARGETPLATFORM", "BUILDPLATFORM", "TARGETARCH", "HTTP_PROXY", "linux/amd64", "linux/arm/v7", "${FOO}", "$FOO",
        "${FOO:-x}", "${FOO#*}", "${FOO%%a*}", "${FOO/a/b}", "[\"a\"]", "[\"sh\", \"-c\"]", "{}", "@sha256:", ":latest",
    ];

    public string Next() => rng.Next(10) switch
    {
        < 3 => Soup(),
        < 8 when dockerfiles.Count > 0 => Mutate(dockerfiles[rng.Next(dockerfiles.Count)]),
        _ when shellWords.Count > 0 => Mutate(shellWords[rng.Next(shellWords.Count)]),
        _ => Soup(),
    };

    private string Soup()
    {
        var sb = new StringBuilder();
        var n = rng.Next(1, 120);
        for (var i = 0; i < n; i++)
        {
            switch (rng.Next(20))
            {
                case 0:
                    sb.Append((char)rng.Next(0, 0x80));
                    break;
                case 1:
                    sb.Append((char)rng.Next(0x80, 0x10000));
                    break;
                case 2 when rng.Next(30) == 0:
                    // Very long line: around and past the parser's 64 KiB line limit.
                    sb.Append(Tokens[rng.Next(Tokens.Length)][0], rng.Next(60_000, 70_000));
                    break;
                default:
                    sb.Append(Tokens[rng.Next(Tokens.Length)]);
                    break;
            }
        }
        return sb.ToString();
    }

    private string Mutate(string seed)
    {
        if (rng.Next(2) == 0)
            return MutateChars(seed);
        var bytes = Encoding.UTF8.GetBytes(seed).ToList();
        for (var k = rng.Next(1, 8); k > 0; k--)
        {
            var at = bytes.Count == 0 ? 0 : rng.Next(bytes.Count + 1);
            switch (rng.Next(4))
            {
                case 0 when at < bytes.Count:
                    bytes[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    bytes.Insert(at, (byte)rng.Next(256));
                    break;
                case 2 when at < bytes.Count:
                    bytes.RemoveRange(at, Math.Min(rng.Next(1, 16), bytes.Count - at));
                    break;
                default:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(Tokens[rng.Next(Tokens.Length)]));
                    break;
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private string MutateChars(string seed)
    {
        var text = seed;
        for (var k = rng.Next(1, 6); k > 0; k--)
        {
            var lines = text.Split('\n').ToList();
            switch (rng.Next(5))
            {
                case 0: // duplicate a line
                    var d = rng.Next(lines.Count);
                    lines.Insert(d, lines[d]);
                    text = string.Join('\n', lines);
                    break;
                case 1: // splice with another corpus file
                    var other = dockerfiles.Count > 0 ? dockerfiles[rng.Next(dockerfiles.Count)] : Soup();
                    text = text[..rng.Next(text.Length + 1)] + other[rng.Next(other.Length + 1)..];
                    break;
                case 2: // delete a line
                    if (lines.Count > 1)
                        lines.RemoveAt(rng.Next(lines.Count));
                    text = string.Join('\n', lines);
                    break;
                case 3: // delete a range
                    var from = rng.Next(text.Length + 1);
                    text = text.Remove(from, rng.Next(Math.Min(32, text.Length - from) + 1));
                    break;
                default: // insert tokens
                    var at = rng.Next(text.Length + 1);
                    var soup = Soup();
                    text = text.Insert(at, soup[..Math.Min(soup.Length, rng.Next(1, 40))]);
                    break;
            }
        }
        return text;
    }
}
