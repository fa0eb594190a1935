using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>
/// Runs the published <c>img</c> (<see cref="RepoPaths.ImgBinary"/>; publish first with
/// <c>dotnet publish src/Img.Cli -c Release -o out</c>) as the unprivileged test user against one state directory,
/// where a busybox base image named <c>base</c> is built from scratch once.
/// </summary>
public sealed class ImgBuildFixture : IAsyncLifetime
{
    private readonly List<string> _dirs = [];

    public string State { get; } = TestUser.CreateOwnedTempDir("img-build-e2e-state");

    public async Task InitializeAsync()
    {
        if (!File.Exists(RepoPaths.ImgBinary))
            throw new InvalidOperationException($"{RepoPaths.ImgBinary} not found: run `dotnet publish src/Img.Cli -c Release -o out` before these tests");
        var ctx = NewContext("""
            FROM scratch
            COPY busybox /bin/busybox
            RUN ["/bin/busybox", "--install", "-s", "/bin"]
            RUN echo 'daemon:x:2:2::/:/bin/sh' >> /etc/passwd && echo 'daemon:x:2:' >> /etc/group && echo base > /base-file
            """);
        (await BuildAsync(ctx, "-t", "base", ".")).EnsureSuccess("building the busybox base image");
    }

    public Task DisposeAsync()
    {
        foreach (var dir in _dirs.Append(State))
        {
            try { Directory.Delete(dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return Task.CompletedTask;
    }

    /// <summary>A context dir owned by the test user holding busybox and <paramref name="dockerfile"/>.</summary>
    public string NewContext(string dockerfile, params (string Name, string Content)[] files)
    {
        var dir = TempDir("img-build-e2e-ctx");
        File.Copy("/bin/busybox", Path.Combine(dir, "busybox"));
        File.WriteAllText(Path.Combine(dir, "Dockerfile"), dockerfile);
        foreach (var (name, content) in files) Write(dir, name, content);
        return dir;
    }

    /// <summary>A directory owned by the test user, removed with the fixture.</summary>
    public string TempDir(string prefix)
    {
        var dir = TestUser.CreateOwnedTempDir(prefix);
        lock (_dirs) _dirs.Add(dir);
        return dir;
    }

    public static void Write(string dir, string name, string content)
    {
        var p = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, content);
    }

    /// <summary>The DIGEST column of <paramref name="name"/>'s row in an <c>img ls</c> listing.</summary>
    public static string DigestInListing(string listing, string name)
    {
        var line = listing.Split('\n').FirstOrDefault(l => l.Split('\t', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() == name)
            ?? throw new InvalidOperationException($"{name} not in ls:\n{listing}");
        return line.Split('\t', StringSplitOptions.RemoveEmptyEntries).Last().Trim();
    }

    public Task<ProcessResult> BuildAsync(string cwd, params string[] args) => ImgAsync(cwd, null, ["build", .. args]);

    /// <summary>img as the test user; one that runs longer than <paramref name="timeout"/> (3 minutes unless told) is killed and throws.</summary>
    public Task<ProcessResult> ImgAsync(string cwd, string? stdin, IEnumerable<string> args, Stream? stdoutSink = null,
        IDictionary<string, string?>? env = null, TimeSpan? timeout = null)
    {
        var (file, wrapped) = TestUser.Wrap(RepoPaths.ImgBinary, ["-s", State, .. args], env);
        return ProcessRunner.RunAsync(file, wrapped, stdin, env, workingDirectory: cwd, timeout: timeout ?? TimeSpan.FromMinutes(3), stdoutSink: stdoutSink);
    }
}

[CollectionDefinition("img build")]
public sealed class ImgBuildCollection : ICollectionFixture<ImgBuildFixture>;
