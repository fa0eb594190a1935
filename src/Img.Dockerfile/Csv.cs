using System.Text;

namespace Img.Dockerfile;

/// <summary>One record of Go's encoding/csv (comma separated, RFC 4180 quotes), used for <c>--mount</c> values.</summary>
internal static class Csv
{
    public static List<string> SplitRecord(string line, string errorPrefix)
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        var i = 0;
        while (true)
        {
            sb.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                        throw new DockerfileException($"{errorPrefix}: extraneous or missing \" in quoted-field");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            sb.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    sb.Append(line[i++]);
                }
                if (i < line.Length && line[i] != ',')
                    throw new DockerfileException($"{errorPrefix}: extraneous or missing \" in quoted-field");
            }
            else
            {
                while (i < line.Length && line[i] != ',')
                {
                    if (line[i] == '"')
                        throw new DockerfileException($"{errorPrefix}: bare \" in non-quoted-field");
                    sb.Append(line[i++]);
                }
            }
            fields.Add(sb.ToString());
            if (i >= line.Length)
                return fields;
            i++; // skip ','
        }
    }
}
