using Img.Content;

namespace Img.Content.Tests;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task CommittedFileAppearsWhole()
    {
        var dest = Path.Combine(_dir, "out.tar");
        await using (var f = new AtomicFile(dest))
        {
            await f.Stream.WriteAsync(new byte[] { 1, 2, 3 });
            Assert.False(File.Exists(dest), "nothing under the final name before commit");
            await f.CommitAsync(CancellationToken.None);
        }
        Assert.Equal(new byte[] { 1, 2, 3 }, await File.ReadAllBytesAsync(dest));
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task AbandonedFileLeavesTheOldContentAndNoTemp()
    {
        var dest = Path.Combine(_dir, "out.tar");
        await File.WriteAllTextAsync(dest, "previous");
        await using (var f = new AtomicFile(dest))
            await f.Stream.WriteAsync(new byte[100]);
        Assert.Equal("previous", await File.ReadAllTextAsync(dest));
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task TempFilesOfDeadWritersAreRemoved()
    {
        var dest = Path.Combine(_dir, "out.tar");
        var stale = Path.Combine(_dir, ".out.tar.tmp-999999999");
        await File.WriteAllTextAsync(stale, "killed half way");
        await using (var f = new AtomicFile(dest))
            await f.CommitAsync(CancellationToken.None);
        Assert.False(File.Exists(stale));
    }

    [Fact]
    public void ADirectoryIsNotAFile()
    {
        var e = Assert.Throws<IOException>(() => new AtomicFile(_dir));
        Assert.Contains("destination file is a directory", e.Message);
    }
}
