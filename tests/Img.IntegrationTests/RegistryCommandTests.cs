using System.Text.Json;
using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>pull, push, login, logout and unpack through the real binary against a real registry process.</summary>
public sealed class RegistryCommandTests
{
    private static ImgCli NewImg(out string dockerConfig)
    {
        var img = new ImgCli();
        dockerConfig = TestUser.CreateOwnedTempDir("docker-config");
        img.Env["DOCKER_CONFIG"] = dockerConfig;
        return img;
    }

    [Fact]
    public async Task PullListUnpackTagPushAndSkopeoReadsIt()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var seeded = await registry.SeedBusyboxAsync("library/busybox", "1.35");
        var img = NewImg(out _);

        var pull = await img.RunAsync("pull", seeded.Reference);
        var lines = pull.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"Pulling {seeded.Reference}...", lines[0]);
        Assert.Equal($"Pulled: {seeded.Manifest.Digest}", lines[1]);
        Assert.Matches(@"^Size: \d+(\.\d+)?(B|KiB|MiB)$", lines[2]);

        Assert.Contains($"{registry.HostPort}/library/busybox:1.35", (await img.RunAsync("ls")).Stdout);
        // du shows descriptions cut at 50 characters, as the original does.
        string description = $"pulled from {registry.HostPort}/library/busybox@{seeded.Manifest.Digest}";
        Assert.Contains(description[..50] + "...", (await img.RunAsync("du")).Stdout);

        var outDir = TestUser.CreateOwnedTempDir("unpack");
        var rootfs = Path.Combine(outDir, "rootfs");
        var unpack = await img.RunAsync("unpack", "-o", rootfs, seeded.Reference);
        Assert.Equal($"Successfully unpacked rootfs for {seeded.Reference} to: {rootfs}\n", unpack.Stdout);
        Assert.True(File.Exists(Path.Combine(rootfs, "bin", "busybox")));
        var again = await img.TryAsync("unpack", "-o", rootfs, seeded.Reference);
        Assert.Equal($"Error: destination directory already exists: {rootfs}\n", again.Stderr);

        string pushed = $"{registry.HostPort}/copies/busybox:v1";
        await img.RunAsync("tag", seeded.Reference, pushed);
        var push = await img.RunAsync("push", pushed);
        Assert.Equal($"Pushing {pushed}...\nSuccessfully pushed {pushed}\n", push.Stdout);
        var inspect = await ImgCli.AsUserAsync("skopeo", "inspect", "--tls-verify=false", $"docker://{pushed}");
        inspect.EnsureSuccess("skopeo inspect");
        Assert.Contains(seeded.Manifest.Digest.ToString(), inspect.Stdout);
    }

    [Fact]
    public async Task ImgPullsWhatSkopeoPushed()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var img = NewImg(out _);
        var tar = await BusyboxRootfs.TarballAsync();
        await img.RunAsync("import", tar, "local/busybox:v1");
        var dir = TestUser.CreateOwnedTempDir("skopeo-src");
        var archive = Path.Combine(dir, "img.tar");
        await img.RunAsync("save", "-o", archive, "local/busybox:v1");
        var target = $"{registry.HostPort}/from-skopeo/busybox:v1";
        (await ImgCli.AsUserAsync("skopeo", "copy", "--dest-tls-verify=false", $"docker-archive:{archive}", $"docker://{target}")).EnsureSuccess("skopeo copy");

        var other = NewImg(out _);
        await other.RunAsync("pull", target);
        var inspect = await other.RunAsync("inspect", target);
        Assert.Contains("\"architecture\": \"amd64\"", inspect.Stdout);
    }

    [Fact]
    public async Task MissingImagesAndUnreachableRegistriesAreClearErrors()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var img = NewImg(out _);
        var missing = await img.TryAsync("pull", $"{registry.HostPort}/nothing/here:v1");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("not found", missing.Stderr);
        Assert.DoesNotContain("nothing/here", (await img.RunAsync("ls")).Stdout);

        var sw = System.Diagnostics.Stopwatch.StartNew();
        var unreachable = await img.TryAsync("pull", "127.0.0.1:1/nothing:v1");
        Assert.Equal(1, unreachable.ExitCode);
        Assert.StartsWith("Error: ", unreachable.Stderr);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "an unreachable registry must fail, not hang");

        var pushMissing = await img.TryAsync("push", $"{registry.HostPort}/not/stored:v1");
        Assert.Contains($"Error: getting image \"{registry.HostPort}/not/stored:v1\" failed", pushMissing.Stderr);
    }

    [Fact]
    public async Task LoginWithBasicAuthStoresCredentialsAndLogoutRemovesThem()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Basic);
        var img = NewImg(out var dockerConfig);
        var configFile = Path.Combine(dockerConfig, "config.json");

        var wrong = await img.RunRawAsync(["login", "-u", registry.Username, "--password-stdin", registry.HostPort], stdin: "not-the-password\n");
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains(registry.HostPort, wrong.Stderr);
        Assert.Contains("unauthorized", wrong.Stderr);
        Assert.DoesNotContain("not-the-password", wrong.Stderr + wrong.Stdout);
        Assert.False(File.Exists(configFile), "a failed login stores nothing");

        var ok = await img.RunRawAsync(["login", "-u", registry.Username, "--password-stdin", registry.HostPort], stdin: registry.Password + "\n");
        Assert.Equal(0, ok.ExitCode);
        Assert.Equal("Login succeeded.\n", ok.Stdout);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configFile));
        using (var doc = JsonDocument.Parse(await File.ReadAllTextAsync(configFile)))
            Assert.True(doc.RootElement.GetProperty("auths").TryGetProperty(registry.HostPort, out _));

        // Authenticated push and pull with the stored credentials.
        var tar = await BusyboxRootfs.TarballAsync();
        string name = $"{registry.HostPort}/private/busybox:v1";
        await img.RunAsync("import", tar, name);
        await img.RunAsync("push", name);
        var other = new ImgCli();
        other.Env["DOCKER_CONFIG"] = dockerConfig;
        await other.RunAsync("pull", name);

        var logout = await img.RunRawAsync(["logout", registry.HostPort]);
        Assert.Equal($"Removing login credentials for {registry.HostPort}\nLogout succeeded.\n", logout.Stdout);
        var again = await img.RunRawAsync(["logout", registry.HostPort]);
        Assert.Equal($"Not logged in to {registry.HostPort}\n", again.Stdout);

        var anonymous = await new ImgCli().TryAsync("pull", name);
        Assert.Equal(1, anonymous.ExitCode);
    }

    [Fact]
    public async Task LoginArgumentErrors()
    {
        var img = NewImg(out _);
        var noUser = await img.RunRawAsync(["login", "--password-stdin", "127.0.0.1:9"], stdin: "x");
        Assert.Equal("Error: must provide --username with --password-stdin\n", noUser.Stderr);
        var noTty = await img.RunRawAsync(["login", "-u", "someone", "127.0.0.1:9"], stdin: "");
        Assert.Equal("Error: cannot perform an interactive login from a non TTY device\n", noTty.Stderr);
        var many = await img.RunRawAsync(["logout", "a", "b"]);
        Assert.Equal("Error: logout expects zero or one arguments, found 2\n", many.Stderr);
    }

    [Fact]
    public async Task TokenAuthPullAndPush()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Token);
        var img = NewImg(out _);
        var login = await img.RunRawAsync(["login", "-u", registry.Username, "--password-stdin", registry.HostPort], stdin: registry.Password);
        Assert.Equal(0, login.ExitCode);
        var tar = await BusyboxRootfs.TarballAsync();
        string name = $"{registry.HostPort}/tokened/busybox:v1";
        await img.RunAsync("import", tar, name);
        await img.RunAsync("push", name);
        await img.RunAsync("rm", name);
        await img.RunAsync("pull", name);
        Assert.Contains(name, (await img.RunAsync("ls")).Stdout);
    }
}
