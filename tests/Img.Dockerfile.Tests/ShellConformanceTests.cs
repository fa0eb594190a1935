namespace Img.Dockerfile.Tests;

/// <summary>BuildKit lex_test.go: TestShellParser4EnvVars and TestShellParser4Words over the shared corpus.</summary>
public class ShellConformanceTests
{
    private static readonly Dictionary<string, string> EnvVarTestEnv = new()
    {
        ["PWD"] = "/home",
        ["SHELL"] = "bash",
        ["KOREAN"] = "한국어",
        ["NULL"] = "",
    };

    public static TheoryData<int, string, string> EnvVarCases()
    {
        var data = new TheoryData<int, string, string>();
        var lineNo = 0;
        foreach (var line in Corpus.Read(Path.Combine(Corpus.Shell, "envVarTest")).Split('\n'))
        {
            lineNo++;
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
                continue;
            var fields = line.Split('|');
            Assert.Equal(3, fields.Length);
            var platform = fields[0].Trim();
            if (platform == "W")
                continue;
            data.Add(lineNo, fields[1].Trim(), fields[2].Trim());
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EnvVarCases))]
    public void TestShellParser4EnvVars(int line, string input, string expected)
    {
        var lex = new ShellLex('\\');
        if (expected == "error")
        {
            Assert.Throws<ShellExpansionException>(() => lex.ProcessWord(input, EnvVarTestEnv));
            return;
        }
        Assert.True(line > 0);
        Assert.Equal(expected, lex.ProcessWord(input, EnvVarTestEnv));
    }

    public static TheoryData<int, string[], string, string[]> WordsCases()
    {
        var data = new TheoryData<int, string[], string, string[]>();
        var env = new List<string>();
        var lineNo = 0;
        foreach (var raw in Corpus.Read(Path.Combine(Corpus.Shell, "wordsTest")).Split('\n'))
        {
            lineNo++;
            var line = raw.TrimEnd('\r');
            if (line.StartsWith('#') || line.Trim().Length == 0)
                continue;
            if (line.StartsWith("ENV ", StringComparison.Ordinal))
            {
                env.Add(line[4..].TrimStart());
                continue;
            }
            var fields = line.Split('|');
            Assert.Equal(2, fields.Length);
            data.Add(lineNo, [.. env], fields[0].Trim(), fields[1].TrimStart().Split(','));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(WordsCases))]
    public void TestShellParser4Words(int line, string[] env, string input, string[] expected)
    {
        var envMap = new Dictionary<string, string>();
        foreach (var kv in env)
        {
            var eq = kv.IndexOf('=');
            envMap[kv[..eq]] = kv[(eq + 1)..];
        }
        string[] words;
        try
        {
            words = [.. new ShellLex('\\').ProcessWords(input, envMap)];
        }
        catch (ShellExpansionException)
        {
            words = ["error"];
        }
        Assert.True(line > 0);
        Assert.Equal(expected, words);
    }
}
