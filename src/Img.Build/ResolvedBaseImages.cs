using System.Globalization;
using Img.Content;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// What each base image name resolved to the last time a build pulled it (<c>&lt;state&gt;/build/resolved-bases</c>),
/// so a later build without <c>--pull</c> uses the stored image with no registry round trip, as docker does. Only a
/// hint: an entry whose blob is gone (collected by prune) is ignored and the name is pulled again; concurrent
/// writers replace the file whole, so the worst case is one more pull. Kept out of the image list on purpose: a
/// base image the user never named does not appear in <c>img ls</c>.
/// </summary>
internal sealed class ResolvedBaseImages(string stateDir)
{
    // One writer at a time in this process (the platforms of one build share the file); AtomicFile names its temp by pid.
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private string FilePath => Path.Combine(stateDir, "build", "resolved-bases");

    /// <summary>The stored target <paramref name="reference"/> resolved to, or null.</summary>
    public Descriptor? Find(Reference reference, ContentStore content)
    {
        return Read().TryGetValue(reference.ToString(), out var d) && content.Exists(d.Digest) ? d : null;
    }

    /// <summary>Notes that <paramref name="reference"/> resolved to <paramref name="target"/>.</summary>
    public async Task RememberAsync(Reference reference, Descriptor target, CancellationToken ct)
    {
        await s_gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var all = Read();
            all[reference.ToString()] = target;
            var file = new AtomicFile(FilePath);
            await using (file.ConfigureAwait(false))
            {
                var text = string.Concat(all.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}\t{kv.Value.MediaType}\t{kv.Value.Digest}\t{kv.Value.Size}\n")));
                await file.Stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), ct).ConfigureAwait(false);
                await file.CommitAsync(ct).ConfigureAwait(false);
            }
        }
        finally
        {
            s_gate.Release();
        }
    }

    private Dictionary<string, Descriptor> Read()
    {
        var map = new Dictionary<string, Descriptor>(StringComparer.Ordinal);
        string[] lines;
        try { lines = File.ReadAllLines(FilePath); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return map; }
        foreach (var line in lines)
        {
            var f = line.Split('\t');
            if (f.Length != 4 || !Digest.TryParse(f[2], out var digest) || !long.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out var size)) continue;
            map[f[0]] = new Descriptor { MediaType = f[1], Digest = digest, Size = size };
        }
        return map;
    }
}
