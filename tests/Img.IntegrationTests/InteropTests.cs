using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>What img writes, skopeo and umoci read; what they write, img reads.</summary>
public sealed class InteropTests
{
    private readonly ImgCli _img = new();

    private async Task<string> SavedAsync(string name, string format)
    {
        var tar = await BusyboxRootfs.TarballAsync();
        await _img.RunAsync("import", tar, name);
        var dir = TestUser.CreateOwnedTempDir("interop");
        var file = Path.Combine(dir, $"{format}.tar");
        await _img.RunAsync("save", "--format", format, "-o", file, name);
        return file;
    }

    [Fact]
    public async Task SkopeoReadsADockerArchive()
    {
        var file = await SavedAsync("interop/docker:v1", "docker");
        var inspect = await ImgCli.AsUserAsync("skopeo", "inspect", $"docker-archive:{file}");
        inspect.EnsureSuccess("skopeo inspect");
        Assert.Contains("\"Architecture\": \"amd64\"", inspect.Stdout);
        var dest = Path.Combine(Path.GetDirectoryName(file)!, "oci");
        (await ImgCli.AsUserAsync("skopeo", "copy", $"docker-archive:{file}", $"oci:{dest}:v1")).EnsureSuccess("skopeo copy");
        Assert.True(File.Exists(Path.Combine(dest, "index.json")));
    }

    [Fact]
    public async Task SkopeoAndUmociReadAnOciArchive()
    {
        var file = await SavedAsync("interop/oci:v1", "oci");
        var dir = Path.GetDirectoryName(file)!;
        var layout = Path.Combine(dir, "layout");
        (await ImgCli.AsUserAsync("skopeo", "copy", $"oci-archive:{file}", $"oci:{layout}:v1")).EnsureSuccess("skopeo copy oci-archive");
        var bundle = Path.Combine(dir, "bundle");
        (await ImgCli.AsUserAsync("umoci", "unpack", "--rootless", "--image", $"{layout}:v1", bundle)).EnsureSuccess("umoci unpack");
        Assert.True(File.Exists(Path.Combine(bundle, "rootfs", "bin", "busybox")));
        Assert.Equal("busybox", new FileInfo(Path.Combine(bundle, "rootfs", "bin", "sh")).LinkTarget);
    }

    [Fact]
    public async Task ImgLoadsWhatSkopeoWrites()
    {
        var file = await SavedAsync("interop/source:v1", "oci");
        var dir = Path.GetDirectoryName(file)!;
        var layout = Path.Combine(dir, "layout");
        (await ImgCli.AsUserAsync("skopeo", "copy", $"oci-archive:{file}", $"oci:{layout}:v1")).EnsureSuccess("skopeo copy");
        var dockerArchive = Path.Combine(dir, "from-skopeo.tar");
        (await ImgCli.AsUserAsync("skopeo", "copy", $"oci:{layout}:v1", $"docker-archive:{dockerArchive}:foo/bar:v1")).EnsureSuccess("skopeo copy to docker-archive");

        var other = new ImgCli();
        var load = await other.RunAsync("load", "-i", dockerArchive);
        Assert.Equal("Loaded image: foo/bar:v1\n", load.Stdout);
        var ls = await other.RunAsync("ls");
        Assert.Contains("docker.io/foo/bar:v1", ls.Stdout);
        var inspect = await other.RunAsync("inspect", "foo/bar:v1");
        Assert.Contains("\"os\": \"linux\"", inspect.Stdout);
        // What img loaded from skopeo, skopeo reads back from img's save.
        var resaved = Path.Combine(dir, "resaved.tar");
        await other.RunAsync("save", "-o", resaved, "foo/bar:v1");
        (await ImgCli.AsUserAsync("skopeo", "inspect", $"docker-archive:{resaved}")).EnsureSuccess("skopeo inspect resaved");
    }

    [Fact]
    public async Task ImgLoadsEveryImageOfTheOciArchivesOtherToolsWrite()
    {
        var saved = await SavedAsync("interop/loadme:v1", "oci");
        var dir = Path.GetDirectoryName(saved)!;
        var loader = new ImgCli();

        // img save: named in full, loaded under its name.
        Assert.Equal("Loaded image: interop/loadme:v1\n", (await loader.RunAsync("load", "-i", saved)).Stdout);

        // skopeo's oci-archive:x.tar:bb names it "bb" only: a short name, so it is loaded as an unnamed image, by ID.
        var fromSkopeo = Path.Combine(dir, "skopeo.tar");
        (await ImgCli.AsUserAsync("skopeo", "copy", $"oci-archive:{saved}", $"oci-archive:{fromSkopeo}:bb")).EnsureSuccess("skopeo copy");
        var skopeoId = LoadedId((await loader.RunAsync("load", "-i", fromSkopeo)).Stdout);
        await loader.RunAsync("tag", skopeoId, "interop/from-skopeo:v1");
        Assert.Contains("\"os\": \"linux\"", (await loader.RunAsync("inspect", "interop/from-skopeo:v1")).Stdout);
        Assert.DoesNotContain("<none>@" + skopeoId, (await loader.RunAsync("ls")).Stdout);

        // umoci's layout tags it "latest"; GNU tar of the layout writes "./"-prefixed names.
        var layout = Path.Combine(dir, "umoci-layout");
        (await ImgCli.AsUserAsync("umoci", "init", "--layout", layout)).EnsureSuccess("umoci init");
        (await ImgCli.AsUserAsync("umoci", "new", "--image", layout + ":latest")).EnsureSuccess("umoci new");
        var fromUmoci = Path.Combine(dir, "umoci.tar");
        (await ImgCli.AsUserAsync("tar", "-C", layout, "-cf", fromUmoci, ".")).EnsureSuccess("tar");
        var umociId = LoadedId((await loader.RunAsync("load", "-i", fromUmoci)).Stdout);
        // Kept until named: listed under its ID, and found by a prefix of it.
        Assert.Contains("<none>@" + umociId, (await loader.RunAsync("ls")).Stdout);
        Assert.Contains("\"os\": \"linux\"", (await loader.RunAsync("inspect", umociId["sha256:".Length..][..12])).Stdout);
        await StoreChecker.AssertConsistentAsync(loader);
    }

    private static string LoadedId(string stdout)
    {
        Assert.StartsWith("Loaded image ID: sha256:", stdout);
        return stdout.Trim()["Loaded image ID: ".Length..];
    }
}
