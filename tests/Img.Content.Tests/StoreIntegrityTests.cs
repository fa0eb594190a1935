using System.Text;
using Img.Content;
using Img.Oci;

namespace Img.Content.Tests;

/// <summary>
/// Blobs are checked against their digest as they are read (a flipped byte or a truncation is found, named and
/// removed), documents are read with a cap, a damaged metadata database is named and rebuilt, and temp files
/// of killed writers are reclaimed by the next store opening.
/// </summary>
public sealed class StoreIntegrityTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("integrity-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    private static async Task<Digest> PutAsync(ContentStore store, int size)
    {
        var data = new byte[size];
        new Random(size).NextBytes(data);
        return (await store.WriteBytesAsync(data, "x")).Digest;
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("truncate")]
    public async Task DamagedBlobFailsItsReadAndIsRemoved(string damage)
    {
        using var store = LocalStore.Open(_state);
        var digest = await PutAsync(store.Content, 300_000);
        var path = store.Content.BlobPath(digest);
        if (damage == "flip")
        {
            var bytes = await File.ReadAllBytesAsync(path);
            bytes[123_456] ^= 0x01;
            await File.WriteAllBytesAsync(path, bytes);
        }
        else
        {
            await using var f = new FileStream(path, FileMode.Open);
            f.SetLength(200_000);
        }

        var e = await Assert.ThrowsAsync<CorruptBlobException>(async () =>
        {
            await using var s = store.Content.OpenRead(digest);
            await s.CopyToAsync(Stream.Null);
        });
        Assert.Equal(digest, e.Digest);
        Assert.Contains(digest.ToString(), e.Message);
        Assert.Contains("img fsck", e.Message);
        Assert.False(store.Content.Exists(digest), "a damaged blob stays in the store");
    }

    [Fact]
    public async Task SoundBlobReadsWholeAndAPartialReadGivesNoVerdict()
    {
        using var store = LocalStore.Open(_state);
        var digest = await PutAsync(store.Content, 100_000);
        await using (var s = store.Content.OpenRead(digest))
        {
            var head = new byte[4];
            await s.ReadExactlyAsync(head);
        }
        await using (var s = store.Content.OpenRead(digest))
        {
            var ms = new MemoryStream();
            await s.CopyToAsync(ms);
            Assert.Equal(100_000, ms.Length);
            await s.VerifyToEndAsync();
        }
        Assert.True(store.Content.Exists(digest));
    }

    [Fact]
    public async Task DocumentsAreReadWithACapAndVerified()
    {
        using var store = LocalStore.Open(_state);
        var big = await PutAsync(store.Content, ContentStore.MaxDocumentSize + 1);
        var e = await Assert.ThrowsAsync<DocumentTooLargeException>(() => store.Content.ReadAllBytesAsync(big));
        Assert.Contains(ContentStore.MaxDocumentSize.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);

        var small = await PutAsync(store.Content, 1000);
        var bytes = await File.ReadAllBytesAsync(store.Content.BlobPath(small));
        bytes[0] ^= 0xff;
        await File.WriteAllBytesAsync(store.Content.BlobPath(small), bytes);
        await Assert.ThrowsAsync<CorruptBlobException>(() => store.Content.ReadAllBytesAsync(small));
        Assert.False(store.Content.Exists(small));
    }

    [Fact]
    public async Task FileThatIsNoDatabaseIsNamedWithTheCommandThatRebuildsIt()
    {
        await File.WriteAllBytesAsync(Path.Combine(_state, "metadata.db"), Encoding.ASCII.GetBytes(new string('x', 8192)));
        using var store = LocalStore.Open(_state);
        var e = Assert.Throws<StateDirectoryException>(() => store.Metadata.ListImages());
        Assert.Contains(Path.Combine(_state, "metadata.db"), e.Message);
        Assert.Contains("img fsck", e.Message);

        var check = MetadataRecovery.CheckAndRepair(Path.Combine(_state, "metadata.db"));
        Assert.NotNull(check.Damage);
        Assert.True(File.Exists(check.MovedTo));
        using var again = LocalStore.Open(_state);
        Assert.Empty(again.Metadata.ListImages());
    }

    [Fact]
    public async Task PageDamageIsFoundAndTheReadableImageRecordsAreKept()
    {
        var target = new Descriptor(MediaTypes.OciManifest, Digest.Compute("m"u8), 10);
        using (var store = LocalStore.Open(_state))
        {
            for (int i = 0; i < 400; i++) store.Metadata.PutImage($"docker.io/library/image{i:D3}:latest", target);
        }
        var db = Path.Combine(_state, "metadata.db");
        // Scribble over one page in the middle: some rows (or an index) are lost, most are not.
        var bytes = await File.ReadAllBytesAsync(db);
        int page = 4096, victim = bytes.Length / page / 2;
        for (int i = victim * page + 100; i < victim * page + 3000; i++) bytes[i] = 0x5a;
        await File.WriteAllBytesAsync(db, bytes);

        Assert.NotNull(MetadataRecovery.FindDamage(db));
        using (var store = LocalStore.Open(_state))
            Assert.Throws<StateDirectoryException>(() => store.Metadata.ListImages());

        var check = MetadataRecovery.CheckAndRepair(db);
        Assert.InRange(check.ImagesRecovered, 300, 400);
        using var repaired = LocalStore.Open(_state);
        Assert.Equal(check.ImagesRecovered, repaired.Metadata.ListImages().Count);
        Assert.Null(MetadataRecovery.FindDamage(db));
    }

    [Fact]
    public async Task TempFileOfAKilledWriterGoesWithTheNextOpening()
    {
        var outDir = Directory.CreateTempSubdirectory("pending-").FullName;
        try
        {
            using var dead = System.Diagnostics.Process.Start("true")!;
            await dead.WaitForExitAsync();
            var temp = Path.Combine(outDir, $".image.tar.tmp-{dead.Id}");
            await File.WriteAllTextAsync(temp, "half an archive");
            var notes = Path.Combine(_state, "pending-outputs");
            Directory.CreateDirectory(notes);
            await File.WriteAllTextAsync(Path.Combine(notes, $"{dead.Id}-0123"), temp);
            // A note naming anything but that process's temp file is never followed.
            var keep = Path.Combine(outDir, "precious");
            await File.WriteAllTextAsync(keep, "x");
            await File.WriteAllTextAsync(Path.Combine(notes, $"{dead.Id}-4567"), keep);

            using (LocalStore.Open(_state)) { }
            Assert.False(File.Exists(temp), "the killed writer's temp file is still there");
            Assert.True(File.Exists(keep));
            Assert.Empty(Directory.GetFiles(notes));
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Theory]
    [InlineData("1234", 1234L)]
    [InlineData("10M", 10L << 20)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("1t", 1L << 40)]
    [InlineData("x", null)]
    [InlineData("10Q", null)]
    [InlineData("99999999999T", null)]
    public void SizesParse(string text, long? bytes) => Assert.Equal(bytes, InputLimits.ParseSize(text));
}
