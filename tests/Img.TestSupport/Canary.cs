using System.Security.Cryptography;
using System.Text;

namespace Img.TestSupport;

/// <summary>
/// Files outside a build that an attack aims at: a directory the test user owns (img runs as that user, so only
/// that user's files are at risk) holding a secret file, a read-only directory (0500) with a 0400 secret, a private
/// directory (0700) and any empty files or directories an attack needs to find there. <see cref="Create"/> snapshots
/// every entry — existence, type, content, owner, mode, link count, mtime and ctime — and
/// <see cref="AssertUntouched"/> proves nothing changed: a chmod put back, a chown, a new hard link or an added
/// entry all show.
/// </summary>
public sealed class Canary : IDisposable
{
    private readonly IReadOnlyList<string> _snapshot;

    private Canary(string root, string secret)
    {
        Root = root;
        Secret = secret;
        _snapshot = Snapshot();
    }

    /// <summary>The canary directory (mode 0755, owned by the test user).</summary>
    public string Root { get; }

    /// <summary>The content of <c>canary.txt</c> and <c>locked/secret.txt</c>: must never appear inside a build.</summary>
    public string Secret { get; }

    /// <summary>A regular file holding <see cref="Secret"/> (0644).</summary>
    public string File => Path.Combine(Root, "canary.txt");

    /// <summary>
    /// A new canary under the temp directory. <paramref name="emptyEntries"/> are relative paths created empty:
    /// a name ending in '/' is a directory, anything else a file.
    /// </summary>
    public static Canary Create(string prefix = "canary", params string[] emptyEntries)
    {
        var root = TestUser.CreateOwnedTempDir(prefix);
        var secret = "canary-secret-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        System.IO.File.WriteAllText(Path.Combine(root, "canary.txt"), secret);
        Directory.CreateDirectory(Path.Combine(root, "locked"));
        System.IO.File.WriteAllText(Path.Combine(root, "locked", "secret.txt"), secret);
        Directory.CreateDirectory(Path.Combine(root, "open"));
        System.IO.File.WriteAllText(Path.Combine(root, "open", "note.txt"), "note");
        foreach (var entry in emptyEntries)
        {
            var path = Path.Combine(root, entry);
            if (entry.EndsWith('/')) Directory.CreateDirectory(path);
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                System.IO.File.WriteAllBytes(path, []);
            }
        }
        if (TestUser.RunningAsRoot) Run("chown", "-R", $"{TestUser.Name}:{TestUser.Name}", root);
        Run("chmod", "0644", Path.Combine(root, "canary.txt"));
        Run("chmod", "0400", Path.Combine(root, "locked", "secret.txt"));
        Run("chmod", "0500", Path.Combine(root, "locked"));
        Run("chmod", "0600", Path.Combine(root, "open", "note.txt"));
        Run("chmod", "0700", Path.Combine(root, "open"));
        // An old mtime on every entry: a write, however quick, shows.
        Run("find", root, "-depth", "-exec", "touch", "-h", "-d", "@1000000000", "{}", "+");
        return new Canary(root, secret);
    }

    /// <summary>Fails naming every entry that appeared, disappeared or changed since <see cref="Create"/>.</summary>
    public void AssertUntouched(string after = "the attack")
    {
        var now = Snapshot();
        var before = _snapshot.ToHashSet(StringComparer.Ordinal);
        var current = now.ToHashSet(StringComparer.Ordinal);
        var changes = _snapshot.Where(l => !current.Contains(l)).Select(l => "- " + l)
            .Concat(now.Where(l => !before.Contains(l)).Select(l => "+ " + l)).ToList();
        Assert.True(changes.Count == 0,
            $"the canary {Root} changed after {after} (path type uid:gid mode links mtime ctime target sha256):\n  " + string.Join("\n  ", changes));
    }

    /// <summary>Fails when any regular file under <paramref name="dir"/> (links not followed) holds <see cref="Secret"/>.</summary>
    public void AssertSecretNotIn(string dir)
    {
        if (!Directory.Exists(dir)) return;
        var needle = Encoding.UTF8.GetBytes(Secret);
        // find lists regular files only: reading a FIFO or device a hostile build left there would block.
        var files = Run("find", dir, "-type", "f").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var holders = files.Where(f => System.IO.File.ReadAllBytes(f).AsSpan().IndexOf(needle) >= 0).ToList();
        Assert.True(holders.Count == 0, "the canary's secret was read into the build's output:\n  " + string.Join("\n  ", holders));
    }

    private IReadOnlyList<string> Snapshot()
    {
        // ctime catches a change put back (chmod then chmod again); link count a hard link made to a canary file.
        var r = Run("find", Root, "-printf", @"%P\t%y\t%U:%G\t%#m\t%n\t%T@\t%C@\t%l\n");
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t') is [var rel, "f", ..] ? line + "\t" + Sha256(Path.Combine(Root, rel)) : line)
            .Order(StringComparer.Ordinal).ToList();
    }

    private static string Sha256(string path)
    {
        try { return Convert.ToHexStringLower(SHA256.HashData(System.IO.File.ReadAllBytes(path))); }
        catch (UnauthorizedAccessException) { return "unreadable"; }
    }

    private static ProcessResult Run(string file, params string[] args) =>
        ProcessRunner.RunAsync(file, args, timeout: TimeSpan.FromMinutes(1)).GetAwaiter().GetResult().EnsureSuccess(file);

    public void Dispose()
    {
        // Attacks may have left entries owned by other ids or without write permission.
        ProcessRunner.RunAsync("chmod", ["-R", "u+rwx", Root]).GetAwaiter().GetResult();
        try { Directory.Delete(Root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
