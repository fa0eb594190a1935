using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Img.Build;

/// <summary>
/// The build's secrets as files the RUN steps can mount: a file secret is its own path; an environment secret is
/// written into an anonymous memory file (memfd) reached as <c>/proc/self/fd/N</c>, so its value never touches a disk
/// and nothing is left behind when the process ends, however it ends.
/// </summary>
public sealed partial class SecretFiles : IDisposable
{
    private readonly List<SafeFileHandle> _memory = [];

    private SecretFiles(IReadOnlyDictionary<string, string> paths) => Paths = paths;

    /// <summary>Id to a path readable by this process while this object lives.</summary>
    public IReadOnlyDictionary<string, string> Paths { get; private set; }

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MemfdCreate(string name, uint flags);

    private const uint MfdCloexec = 1;

    /// <summary>Resolves <paramref name="sources"/>, reading environment secrets from <paramref name="environment"/> now.</summary>
    /// <exception cref="ArgumentException">An environment secret's variable is not set.</exception>
    /// <exception cref="IOException">No memory file could be made.</exception>
    public static SecretFiles Open(IReadOnlyDictionary<string, SecretSource> sources, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var files = new SecretFiles(new Dictionary<string, string>());
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (var (id, source) in sources)
            {
                if (source.File is { } file)
                {
                    paths[id] = file;
                    continue;
                }
                var value = environment(source.Variable!) ?? throw new ArgumentException($"secret {id}: environment variable {source.Variable} is not set");
                paths[id] = files.InMemory(id, Encoding.UTF8.GetBytes(value));
            }
        }
        catch
        {
            files.Dispose();
            throw;
        }
        files.Paths = paths;
        return files;
    }

    private string InMemory(string id, byte[] value)
    {
        var fd = MemfdCreate("img-secret", MfdCloexec);
        if (fd < 0) throw new IOException($"secret {id}: cannot create a memory file: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        _memory.Add(handle);
        RandomAccess.Write(handle, value, 0);
        return $"/proc/self/fd/{fd}";
    }

    public void Dispose()
    {
        foreach (var h in _memory) h.Dispose();
        _memory.Clear();
    }
}
