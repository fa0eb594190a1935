using System.Text;

namespace Img.Dockerfile;

/// <summary>Outcome of a word expansion, with the variables that were looked up.</summary>
/// <param name="Result">The expanded word (single-word mode keeps inner whitespace).</param>
/// <param name="Words">The expansion split into words (multi-word mode).</param>
/// <param name="Matched">Variables that were referenced and set.</param>
/// <param name="Unmatched">Variables that were referenced but not set.</param>
public sealed record ShellWordResult(string Result, IReadOnlyList<string> Words, IReadOnlySet<string> Matched, IReadOnlySet<string> Unmatched);

/// <summary>
/// Dockerfile word expansion as BuildKit's shell lexer does it: quotes, escapes, <c>$VAR</c>, <c>${VAR}</c> and
/// the <c>${VAR:-x}</c> family including the pattern operators <c>#</c>, <c>##</c>, <c>%</c>, <c>%%</c>, <c>/</c>, <c>//</c>.
/// Errors are reported as <see cref="ShellExpansionException"/>. Instances are cheap and not thread-safe.
/// </summary>
public sealed class ShellLex
{
    /// <summary>
    /// The longest expansion of one word, in characters. BuildKit has none, and a chain of
    /// <c>ARG A2=$A1$A1</c> lines doubles its way to gigabytes; one mebibyte is eight times Linux's limit on
    /// a single argument or environment string (MAX_ARG_STRLEN, 128 KiB), which a value reaching RUN must pass.
    /// </summary>
    public const int MaxWordLength = 1 << 20;

    /// <summary>Creates a lexer for the Dockerfile's escape token (<c>\</c> or <c>`</c>).</summary>
    public ShellLex(char escapeToken = '\\') => EscapeToken = escapeToken;

    /// <summary>The escape character.</summary>
    public char EscapeToken { get; }

    /// <summary>Keep quote characters in the output.</summary>
    public bool RawQuotes { get; set; }

    /// <summary>Keep escape characters in the output.</summary>
    public bool RawEscapes { get; set; }

    /// <summary>Treat quotes as ordinary characters.</summary>
    public bool SkipProcessQuotes { get; set; }

    /// <summary>Leave references to unset variables as written instead of expanding them to "".</summary>
    public bool SkipUnsetEnv { get; set; }

    /// <summary>Expands <paramref name="word"/> as one word.</summary>
    public string ProcessWord(string word, IReadOnlyDictionary<string, string> env) => Process(word, env).Result;

    /// <summary>Expands <paramref name="word"/> and splits it into words; unquoted variable values split on whitespace.</summary>
    public IReadOnlyList<string> ProcessWords(string word, IReadOnlyDictionary<string, string> env) => Process(word, env).Words;

    /// <summary>Expands <paramref name="word"/> and reports which variables were used.</summary>
    public ShellWordResult ProcessWordWithMatches(string word, IReadOnlyDictionary<string, string> env) => Process(word, env);

    private ShellWordResult Process(string word, IReadOnlyDictionary<string, string> env)
    {
        var state = new ShellWordState(this, word, env);
        try
        {
            var (result, words) = state.ProcessStopOn(-1, RawEscapes);
            return new ShellWordResult(result, words, state.Matched, state.Unmatched);
        }
        catch (ShellExpansionException e)
        {
            throw new ShellExpansionException($"failed to process {GoQuote.Quote(word)}: {e.Message}");
        }
    }
}

/// <summary>The scanner state of one expansion.</summary>
internal sealed class ShellWordState
{
    private const int Eof = -1;
    private readonly ShellLex _lex;
    private readonly int[] _runes;
    private readonly IReadOnlyDictionary<string, string> _env;
    private int _pos;
    private bool _rawEscapes;

    public ShellWordState(ShellLex lex, string word, IReadOnlyDictionary<string, string> env)
    {
        _lex = lex;
        _env = env;
        _rawEscapes = lex.RawEscapes;
        var runes = new List<int>(word.Length);
        foreach (var r in word.EnumerateRunes())
            runes.Add(r.Value);
        _runes = [.. runes];
    }

    public HashSet<string> Matched { get; } = [];
    public HashSet<string> Unmatched { get; } = [];

    private int Peek() => _pos < _runes.Length ? _runes[_pos] : Eof;

    private int Next() => _pos < _runes.Length ? _runes[_pos++] : Eof;

    private static void Append(StringBuilder sb, int rune) => sb.Append(char.ConvertFromUtf32(rune));

    /// <summary>Stops an expansion that outgrows <see cref="ShellLex.MaxWordLength"/> before it takes the memory.</summary>
    private static void Bounded(StringBuilder sb)
    {
        if (sb.Length > ShellLex.MaxWordLength)
            throw new ShellExpansionException($"expansion longer than {ShellLex.MaxWordLength} characters (the limit of one word)");
    }

    private static bool IsSpace(int r) => Rune.IsWhiteSpace(new Rune(r));

    public (string Result, List<string> Words) ProcessStopOn(int stopChar, bool rawEscapes)
    {
        var result = new StringBuilder();
        var words = new WordSplitter();
        var saved = _rawEscapes;
        _rawEscapes = rawEscapes;
        try
        {
            while (Peek() != Eof)
            {
                var ch = Peek();
                if (stopChar != Eof && ch == stopChar)
                {
                    Next();
                    return (result.ToString(), words.Finish());
                }
                if (ch == '$')
                {
                    var value = ProcessDollar();
                    Bounded(result.Append(value));
                    words.AddString(value);
                    continue;
                }
                if (!_lex.SkipProcessQuotes && (ch == '\'' || ch == '"'))
                {
                    var value = ch == '\'' ? ProcessSingleQuote() : ProcessDoubleQuote();
                    Bounded(result.Append(value));
                    words.AddRaw(value);
                    continue;
                }
                ch = Next();
                if (ch == _lex.EscapeToken)
                {
                    if (_rawEscapes)
                    {
                        words.AddRawChar(ch);
                        Append(result, ch);
                    }
                    ch = Next();
                    if (ch == Eof)
                        break;
                    words.AddRawChar(ch);
                }
                else
                {
                    words.AddChar(ch);
                }
                Append(result, ch);
            }
            if (stopChar != Eof)
                throw new ShellExpansionException($"unexpected end of statement while looking for matching {char.ConvertFromUtf32(stopChar)}");
            return (result.ToString(), words.Finish());
        }
        finally
        {
            _rawEscapes = saved;
        }
    }

    private string ProcessSingleQuote()
    {
        // Everything up to the next ' is literal; ' itself cannot be escaped.
        var sb = new StringBuilder();
        var ch = Next();
        if (_lex.RawQuotes)
            Append(sb, ch);
        while (true)
        {
            ch = Next();
            if (ch == Eof)
                throw new ShellExpansionException("unexpected end of statement while looking for matching single-quote");
            if (ch == '\'')
            {
                if (_lex.RawQuotes)
                    Append(sb, ch);
                return sb.ToString();
            }
            Append(sb, ch);
        }
    }

    private string ProcessDoubleQuote()
    {
        // Literal except $ and the escape token, which only escapes " $ and itself.
        var sb = new StringBuilder();
        var ch = Next();
        if (_lex.RawQuotes)
            Append(sb, ch);
        while (true)
        {
            switch (Peek())
            {
                case Eof:
                    throw new ShellExpansionException("unexpected end of statement while looking for matching double-quote");
                case '"':
                    ch = Next();
                    if (_lex.RawQuotes)
                        Append(sb, ch);
                    return sb.ToString();
                case '$':
                    Bounded(sb.Append(ProcessDollar()));
                    break;
                default:
                    ch = Next();
                    if (ch == _lex.EscapeToken)
                    {
                        if (_rawEscapes)
                            Append(sb, ch);
                        var next = Peek();
                        if (next == Eof)
                            continue;
                        if (next == '"' || next == '$' || next == _lex.EscapeToken)
                            ch = Next();
                    }
                    Append(sb, ch);
                    break;
            }
        }
    }

    private string ProcessDollar()
    {
        Next();
        if (Peek() != '{')
        {
            var plain = ProcessName();
            if (plain.Length == 0)
                return "$";
            var (v, found) = GetEnv(plain);
            return !found && _lex.SkipUnsetEnv ? "$" + plain : v;
        }

        Next();
        switch (Peek())
        {
            case Eof:
                throw new ShellExpansionException("syntax error: missing '}'");
            case '{' or '}' or ':':
                throw new ShellExpansionException("syntax error: bad substitution");
        }
        var name = ProcessName();
        var ch = Next();
        var modifier = ch == Eof ? "" : char.ConvertFromUtf32(ch);
        var nullIsUnset = false;
        switch (ch)
        {
            case '}':
            {
                var (value, set) = GetEnv(name);
                return !set && _lex.SkipUnsetEnv ? "${" + name + "}" : value;
            }
            case ':' or '+' or '-' or '?' or '#' or '%':
            {
                if (ch == ':')
                {
                    nullIsUnset = true;
                    ch = Next();
                    modifier += ch == Eof ? "" : char.ConvertFromUtf32(ch);
                }
                var patternOp = ch == '#' || ch == '%';
                if (nullIsUnset && patternOp)
                    throw new ShellExpansionException($"unsupported modifier ({modifier}) in substitution");
                var word = StopOnBrace(patternOp);
                var (value, set) = GetEnv(name);
                if (_lex.SkipUnsetEnv && !set)
                    return "${" + name + modifier + word + "}";
                switch (ch)
                {
                    case '-':
                        return !set || (nullIsUnset && value.Length == 0) ? word : value;
                    case '+':
                        return !set || (nullIsUnset && value.Length == 0) ? "" : word;
                    case '?':
                        if (!set)
                            throw new ShellExpansionException($"{name}: {(word.Length > 0 ? word : "is not allowed to be unset")}");
                        if (nullIsUnset && value.Length == 0)
                            throw new ShellExpansionException($"{name}: {(word.Length > 0 ? word : "is not allowed to be empty")}");
                        return value;
                    case '#' or '%':
                    {
                        // #/% remove the shortest match, ##/%% the longest.
                        var greedy = word.Length > 0 && word[0] == ch;
                        if (greedy)
                            word = word[1..];
                        return ch == '%' ? ShellPattern.TrimSuffix(value, word, greedy) : ShellPattern.TrimPrefix(value, word, greedy);
                    }
                    default:
                        throw new ShellExpansionException($"unsupported modifier ({modifier}) in substitution");
                }
            }
            case '/':
            {
                var replaceAll = Peek() == '/';
                if (replaceAll)
                    Next();
                string pattern;
                try
                {
                    pattern = ProcessStopOn('/', true).Result;
                }
                catch (ShellExpansionException) when (Peek() == Eof)
                {
                    throw new ShellExpansionException("syntax error: missing '/' in ${}");
                }
                var replacement = StopOnBrace(true);
                var (value, set) = GetEnv(name);
                if (_lex.SkipUnsetEnv && !set)
                    return "${" + name + "/" + pattern + "/" + replacement + "}";
                return ShellPattern.Replace(value, pattern, replacement, replaceAll);
            }
            default:
                throw new ShellExpansionException($"unsupported modifier ({modifier}) in substitution");
        }
    }

    private string StopOnBrace(bool rawEscapes)
    {
        try
        {
            return ProcessStopOn('}', rawEscapes).Result;
        }
        catch (ShellExpansionException) when (Peek() == Eof)
        {
            throw new ShellExpansionException("syntax error: missing '}'");
        }
    }

    private string ProcessName()
    {
        // A name is letters/digits/_; a leading digit reads a positional parameter; one special char is a special parameter.
        var sb = new StringBuilder();
        while (Peek() != Eof)
        {
            var ch = Peek();
            if (sb.Length == 0 && Rune.IsDigit(new Rune(ch)))
            {
                while (Peek() != Eof && Rune.IsDigit(new Rune(Peek())))
                    Append(sb, Next());
                return sb.ToString();
            }
            if (sb.Length == 0 && IsSpecialParam(ch))
                return char.ConvertFromUtf32(Next());
            var r = new Rune(ch);
            if (!Rune.IsLetter(r) && !Rune.IsDigit(r) && ch != '_')
                break;
            Append(sb, Next());
        }
        return sb.ToString();
    }

    private static bool IsSpecialParam(int ch) => ch is '@' or '*' or '#' or '?' or '-' or '$' or '!' or '0';

    private (string Value, bool Set) GetEnv(string name)
    {
        if (_env.TryGetValue(name, out var v))
        {
            Matched.Add(name);
            return (v, true);
        }
        Unmatched.Add(name);
        return ("", false);
    }

    /// <summary>Accumulates words: characters from variable values split on whitespace, quoted text never does.</summary>
    private sealed class WordSplitter
    {
        private readonly StringBuilder _buf = new();
        private readonly List<string> _words = [];
        private bool _inWord;

        public void AddChar(int ch)
        {
            if (IsSpace(ch))
            {
                if (_inWord && _buf.Length != 0)
                {
                    _words.Add(_buf.ToString());
                    _buf.Clear();
                    _inWord = false;
                }
            }
            else
            {
                AddRawChar(ch);
            }
        }

        public void AddRawChar(int ch)
        {
            Append(_buf, ch);
            _inWord = true;
        }

        public void AddString(string s)
        {
            foreach (var r in s.EnumerateRunes())
                AddChar(r.Value);
        }

        public void AddRaw(string s)
        {
            _buf.Append(s);
            _inWord = true;
        }

        public List<string> Finish()
        {
            if (_buf.Length > 0)
            {
                _words.Add(_buf.ToString());
                _buf.Clear();
                _inWord = false;
            }
            return _words;
        }
    }
}
