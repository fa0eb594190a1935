using System.Text;

namespace Img.Dockerfile;

/// <summary>
/// One node of BuildKit's Dockerfile parse tree. The root's <see cref="Children"/> are the instructions;
/// an instruction's arguments hang off <see cref="Next"/> as a linked list; an ONBUILD argument holds its
/// nested instruction as its single child.
/// </summary>
public sealed class Node
{
    /// <summary>Instruction name (lower-cased) for instruction nodes, argument text for argument nodes.</summary>
    public string Value { get; set; } = "";

    /// <summary>Next argument in the list.</summary>
    public Node? Next { get; set; }

    /// <summary>Instructions (root) or the nested instruction (ONBUILD argument).</summary>
    public List<Node> Children { get; } = [];

    /// <summary>Heredoc bodies attached to RUN/COPY/ADD.</summary>
    public List<Heredoc> Heredocs { get; } = [];

    /// <summary>True when the arguments were written as a JSON array (exec form).</summary>
    public bool IsJson { get; set; }

    /// <summary>The instruction's text after joining continuation lines.</summary>
    public string Original { get; set; } = "";

    /// <summary><c>--flag[=value]</c> words that preceded the arguments.</summary>
    public IReadOnlyList<string> Flags { get; set; } = [];

    /// <summary>1-based first line of the instruction.</summary>
    public int StartLine { get; set; }

    /// <summary>1-based last line of the instruction (incl. continuation and heredoc lines).</summary>
    public int EndLine { get; set; }

    /// <summary>Comment lines directly above the instruction (stage/ARG descriptions).</summary>
    public IReadOnlyList<string> PrevComment { get; set; } = [];

    /// <summary>The argument nodes in order.</summary>
    public IEnumerable<Node> Arguments
    {
        get
        {
            for (var n = Next; n is not null; n = n.Next)
                yield return n;
        }
    }

    /// <summary>Argument values in order; a nested ONBUILD instruction contributes its name and its arguments.</summary>
    public List<string> ArgumentValues()
    {
        var result = new List<string>();
        foreach (var arg in Arguments)
        {
            if (arg.Children.Count == 0)
            {
                result.Add(arg.Value);
            }
            else if (arg.Children.Count == 1)
            {
                result.Add(arg.Children[0].Value);
                result.AddRange(arg.Children[0].ArgumentValues());
            }
        }
        return result;
    }

    internal void AddChild(Node child, int startLine, int endLine)
    {
        child.StartLine = startLine;
        child.EndLine = endLine;
        if (StartLine < 0)
            StartLine = startLine;
        EndLine = endLine;
        Children.Add(child);
    }

    /// <summary>S-expression dump in BuildKit's format, e.g. <c>(copy ["--from=a"] "x" "/y")</c> per instruction.</summary>
    public string Dump()
    {
        var sb = new StringBuilder();
        sb.Append(Value.ToLowerInvariant());
        if (Flags.Count > 0)
            sb.Append(' ').Append(GoQuote.QuoteList(Flags));
        foreach (var child in Children)
            sb.Append('(').Append(child.Dump()).Append(")\n");
        foreach (var arg in Arguments)
        {
            sb.Append(' ');
            sb.Append(arg.Children.Count > 0 ? arg.Dump() : GoQuote.Quote(arg.Value));
        }
        return GoTrimSpace(sb.ToString());
    }

    private static string GoTrimSpace(string s) => s.Trim();

    /// <inheritdoc/>
    public override string ToString() => Dump();
}

/// <summary>A heredoc attached to an instruction: <c>&lt;&lt;[-]NAME</c> and its body.</summary>
/// <param name="Name">Delimiter word with quotes removed; for COPY/ADD also the file name.</param>
/// <param name="FileDescriptor">Leading digits of <c>3&lt;&lt;EOF</c>, 0 when absent.</param>
/// <param name="Expand">False when any part of the delimiter was quoted: the body is then taken literally.</param>
/// <param name="Chomp"><c>&lt;&lt;-</c>: leading tabs are stripped from body lines.</param>
/// <param name="Content">Body lines including their line endings (not chomped yet).</param>
public sealed record Heredoc(string Name, uint FileDescriptor, bool Expand, bool Chomp, string Content)
{
    /// <summary>The body with <see cref="Chomp"/> applied.</summary>
    public string EffectiveContent => Chomp ? HeredocSyntax.ChompContent(Content) : Content;
}
