using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// Build secrets and registry passwords never land anywhere: not in the state directory, not in the
/// exported image, not in img's output with --debug, not in temp files img made.
/// </summary>
public sealed class SecretsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task BuildSecretAppearsNowhere()
    {
        string secret = "img-secret-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var img = new ImgCli();
        var tmp = TestUser.CreateOwnedTempDir("secret-tmp");
        img.Env["TMPDIR"] = tmp;
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "secretbase");

        var secretDir = TestUser.CreateOwnedTempDir("secret-src");
        var secretFile = Path.Combine(secretDir, "s.txt");
        await File.WriteAllTextAsync(secretFile, secret);
        var ctx = TestUser.CreateOwnedTempDir("secret-ctx");
        await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"),
            "FROM secretbase\n" +
            "RUN --mount=type=secret,id=s cat /run/secrets/s > /dev/null && wc -c < /run/secrets/s > /secret-length\n" +
            "RUN --mount=type=secret,id=s,target=/etc/app-secret,required=true test -s /etc/app-secret && echo used > /used\n" +
            // env= only: the value is in the environment and no file is mounted.
            "RUN --mount=type=secret,id=s,env=APP_TOKEN printf '%s' \"$APP_TOKEN\" | wc -c > /env-length && { test -e /run/secrets/s && echo mounted || echo absent; } > /env-file\n" +
            // env= and a target: both.
            "RUN --mount=type=secret,id=s,env=APP_TOKEN,target=/etc/both test \"$(cat /etc/both)\" = \"$APP_TOKEN\" && echo same > /both\n");
        await CrashData.ChownAsync(secretDir);
        await CrashData.ChownAsync(ctx);

        var build = await img.RunAsync("--debug", "build", "--no-console", "--secret", $"id=s,src={secretFile}", "-t", "secretive", ctx);
        var exportDir = TestUser.CreateOwnedTempDir("secret-export");
        var archive = Path.Combine(exportDir, "image.tar");
        var save = await img.RunAsync("--debug", "save", "-o", archive, "secretive");
        var rootfs = Path.Combine(exportDir, "rootfs");
        await img.RunAsync("unpack", "-o", rootfs, "secretive");
        Assert.Equal(secret.Length.ToString(), (await File.ReadAllTextAsync(Path.Combine(rootfs, "secret-length"))).Trim());
        Assert.Equal("used\n", await File.ReadAllTextAsync(Path.Combine(rootfs, "used")));
        Assert.Equal(secret.Length.ToString(), (await File.ReadAllTextAsync(Path.Combine(rootfs, "env-length"))).Trim());
        Assert.Equal("absent\n", await File.ReadAllTextAsync(Path.Combine(rootfs, "env-file")));
        Assert.Equal("same\n", await File.ReadAllTextAsync(Path.Combine(rootfs, "both")));

        var found = new List<string>();
        var needle = Encoding.UTF8.GetBytes(secret);
        Check("build stdout/stderr", Encoding.UTF8.GetBytes(build.Combined));
        Check("save stdout/stderr", Encoding.UTF8.GetBytes(save.Combined));
        int files = 0;
        foreach (var dir in new[] { img.StateDir, tmp, rootfs })
            foreach (var file in AllFiles(dir))
            {
                files++;
                Check(file, await File.ReadAllBytesAsync(file));
            }
        files += await CheckArchiveAsync(archive, archive);
        output.WriteLine($"searched {files} files, the archive's decompressed layers and {build.Combined.Length + save.Combined.Length} characters of output for the secret");
        Assert.True(found.Count == 0, "the build secret appears in:\n  " + string.Join("\n  ", found));

        void Check(string where, byte[] bytes)
        {
            if (bytes.AsSpan().IndexOf(needle) >= 0) found.Add(where);
        }

        // Every member of the archive, and gzip members decompressed (layers are gzip tars).
        async Task<int> CheckArchiveAsync(string path, string label)
        {
            int count = 0;
            await using var fs = File.OpenRead(path);
            using var reader = new TarReader(fs);
            while (await reader.GetNextEntryAsync() is { } entry)
            {
                if (entry.DataStream is null) continue;
                var bytes = new MemoryStream();
                await entry.DataStream.CopyToAsync(bytes);
                var data = bytes.ToArray();
                count++;
                Check($"{label}!{entry.Name}", data);
                if (data.Length > 2 && data[0] == 0x1f && data[1] == 0x8b)
                {
                    var plain = new MemoryStream();
                    await using (var gz = new GZipStream(new MemoryStream(data), CompressionMode.Decompress)) await gz.CopyToAsync(plain);
                    Check($"{label}!{entry.Name} (decompressed)", plain.ToArray());
                }
            }
            return count;
        }
    }

    [Fact]
    public async Task RegistryPasswordNeverInOutput()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Basic);
        var img = new ImgCli();
        var dockerConfig = TestUser.CreateOwnedTempDir("secret-docker-config");
        img.Env["DOCKER_CONFIG"] = dockerConfig;
        string password = registry.Password;
        string[] forbidden =
        [
            password,
            Convert.ToBase64String(Encoding.UTF8.GetBytes(password)),
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{registry.Username}:{password}")),
        ];
        var outputs = new List<(string What, ProcessResult Result)>();

        string wrong = "wrong-" + Guid.NewGuid().ToString("N");
        var bad = await img.RunRawAsync(["--debug", "login", "-u", registry.Username, "-p", wrong, registry.HostPort]);
        Assert.Equal(1, bad.ExitCode);
        Assert.DoesNotContain(wrong, bad.Combined);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{registry.Username}:{wrong}")), bad.Combined);

        outputs.Add(("login -p --debug", (await img.RunRawAsync(["--debug", "login", "-u", registry.Username, "-p", password, registry.HostPort])).EnsureSuccess("login")));
        outputs.Add(("login --password-stdin --debug", (await img.RunRawAsync(["--debug", "login", "-u", registry.Username, "--password-stdin", registry.HostPort], stdin: password)).EnsureSuccess("login")));
        string name = $"{registry.HostPort}/private/secret:v1";
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), name);
        outputs.Add(("push --debug", await img.RunAsync("--debug", "push", name)));
        await img.RunAsync("rm", name);
        outputs.Add(("pull --debug", await img.RunAsync("--debug", "pull", name)));

        foreach (var (what, result) in outputs)
            foreach (var f in forbidden)
                Assert.False(result.Combined.Contains(f, StringComparison.Ordinal), $"{what} printed the password (as '{f}'):\n{result.Combined}");
        // Nor does any of it reach the state directory.
        foreach (var file in AllFiles(img.StateDir))
        {
            var text = File.ReadAllText(file, Encoding.Latin1);
            foreach (var f in forbidden)
                Assert.False(text.Contains(f, StringComparison.Ordinal), $"the password is in {file}");
        }
        output.WriteLine($"{outputs.Count + 1} commands with --debug checked for the password in 3 forms");
    }

    private static IEnumerable<string> AllFiles(string dir) =>
        Directory.Exists(dir)
            ? Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false })
                .Where(f => !new FileInfo(f).Attributes.HasFlag(FileAttributes.ReparsePoint))
            : [];
}
