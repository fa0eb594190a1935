namespace Img.Fs.Tests;

/// <summary>
/// A file and a directory outside the tree under test, with modes no code of ours would leave as they are
/// (0400, 0500): after the operation every one must be untouched — existence, content, owner, mode, mtime.
/// </summary>
internal sealed class Canary : IDisposable
{
    private readonly List<(string Path, FileStat St, string? Content)> _before = [];

    public Canary()
    {
        Dir = Directory.CreateTempSubdirectory("img-canary").FullName;
        File.WriteAllText(Path.Combine(Dir, "victim"), "precious");
        Directory.CreateDirectory(Path.Combine(Dir, "sub"));
        File.WriteAllText(Path.Combine(Dir, "sub", "x"), "");
        File.SetUnixFileMode(Path.Combine(Dir, "victim"), UnixFileMode.UserRead);
        File.SetUnixFileMode(Path.Combine(Dir, "sub"), UnixFileMode.UserRead | UnixFileMode.UserExecute);
        foreach (var p in new[] { Dir, Path.Combine(Dir, "victim"), Path.Combine(Dir, "sub"), Path.Combine(Dir, "sub", "x") })
            _before.Add((p, Native.Lstat(p)!.Value, File.Exists(p) ? File.ReadAllText(p) : null));
    }

    public string Dir { get; }

    public void AssertUntouched()
    {
        foreach (var (path, st, content) in _before)
        {
            var now = Native.Lstat(path);
            Assert.True(now is not null, $"{path} was removed");
            Assert.Equal((st.Mode, st.Uid, st.Gid, st.MtimeSec, st.MtimeNsec), (now!.Value.Mode, now.Value.Uid, now.Value.Gid, now.Value.MtimeSec, now.Value.MtimeNsec));
            if (content is not null) Assert.Equal(content, File.ReadAllText(path));
        }
    }

    public void Dispose()
    {
        File.SetUnixFileMode(Path.Combine(Dir, "sub"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.Delete(Dir, recursive: true);
    }
}
