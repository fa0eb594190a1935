using System.Text;

namespace Img.Build;

/// <summary>Splits one CSV record the way Go's encoding/csv does for a single line: commas separate, double quotes group, "" is a quote.</summary>
public static class CsvFields
{
    /// <summary>The fields of <paramref name="line"/>.</summary>
    /// <exception cref="FormatException">A quote is not closed or stray text follows a closing quote.</exception>
    public static List<string> Split(string line)
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        int i = 0;
        while (true)
        {
            sb.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new FormatException($"parse error on line 1, column {i + 1}: extraneous or missing \" in quoted-field");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    sb.Append(line[i++]);
                }
                if (i < line.Length && line[i] != ',') throw new FormatException($"parse error on line 1, column {i + 1}: extraneous or missing \" in quoted-field");
            }
            else
            {
                while (i < line.Length && line[i] != ',')
                {
                    if (line[i] == '"') throw new FormatException($"parse error on line 1, column {i + 1}: bare \" in non-quoted-field");
                    sb.Append(line[i++]);
                }
            }
            fields.Add(sb.ToString());
            if (i >= line.Length) return fields;
            i++; // the comma
        }
    }
}
