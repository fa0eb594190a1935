using System.Text;

namespace Img.Cli.Output;

/// <summary>
/// Go's text/tabwriter with minwidth 1, tabwidth 8, padding 1 and tabs as padding, the
/// settings of the original's tables: each cell is followed by enough tabs to reach the
/// column's width rounded up to a tab stop. The last cell of a line is not padded.
/// </summary>
public sealed class TabWriter
{
    private const int TabWidth = 8;
    private const int Padding = 1;
    private readonly List<string[]> _rows = [];

    public TabWriter Row(params string[] cells)
    {
        _rows.Add(cells);
        return this;
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        // Go aligns a column over each run of consecutive lines that have a cell there.
        var widths = new int[_rows.Count][];
        int maxCols = _rows.Count == 0 ? 0 : _rows.Max(r => r.Length);
        for (int i = 0; i < _rows.Count; i++) widths[i] = new int[_rows[i].Length];
        for (int col = 0; col < maxCols - 1; col++)
        {
            int start = 0;
            while (start < _rows.Count)
            {
                if (_rows[start].Length - 1 <= col) { start++; continue; }
                int end = start;
                int width = 1;
                while (end < _rows.Count && _rows[end].Length - 1 > col)
                {
                    width = Math.Max(width, TextWidth(_rows[end][col]) + Padding);
                    end++;
                }
                width = (width + TabWidth - 1) / TabWidth * TabWidth;
                for (int r = start; r < end; r++) widths[r][col] = width;
                start = end;
            }
        }
        for (int i = 0; i < _rows.Count; i++)
        {
            var row = _rows[i];
            for (int c = 0; c < row.Length; c++)
            {
                sb.Append(row[c]);
                if (c == row.Length - 1) break;
                int n = widths[i][c] - TextWidth(row[c]);
                sb.Append('\t', (n + TabWidth - 1) / TabWidth);
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static int TextWidth(string s) => s.EnumerateRunes().Count();
}
