using System.Text;

namespace Img.Archive.Layers;

/// <summary>
/// An overlayfs upper dir as a layer. Whiteouts (character devices 0/0, or files carrying an
/// overlay.whiteout xattr) become ".wh.NAME" entries; directories whose overlay.opaque xattr is "y"
/// (trusted.* for a root mount, user.* for a userxattr mount) get a ".wh..wh..opq" marker after their
/// own entry. Overlay-private xattrs are never written. An upper dir that depends on its lower dirs
/// for content (overlay.redirect from redirect_dir, overlay.metacopy from metacopy) is refused:
/// such a diff cannot be taken from the upper dir alone.
/// </summary>
public sealed class OverlayUpperLayerSource(string upperDir, WriteOptions? options = null) : ILayerSource
{
    private static readonly string[] Namespaces = ["trusted.overlay.", "user.overlay."];

    /// <inheritdoc />
    public async Task WriteEntriesAsync(TarStreamWriter tar, CancellationToken ct = default)
    {
        if (Native.Lstat(upperDir) is not { IsDir: true }) throw new DirectoryNotFoundException($"overlay upper dir {upperDir} is not a directory");
        var files = new FileEntryWriter(options ?? new WriteOptions());
        if (IsOpaque(upperDir)) await tar.WriteEntryAsync(FileEntryWriter.Opaque(""), null, ct).ConfigureAwait(false);
        await WalkAsync(tar, files, upperDir, "", ct).ConfigureAwait(false);
    }

    private static async Task WalkAsync(TarStreamWriter tar, FileEntryWriter files, string dir, string rel, CancellationToken ct)
    {
        foreach (var name in FileEntryWriter.ListSorted(dir))
        {
            ct.ThrowIfCancellationRequested();
            var full = Path.Combine(dir, name);
            var entry = FileEntryWriter.Join(rel, name);
            if (Native.Lstat(full) is not { } st) continue;
            if (st.IsWhiteoutDevice)
            {
                await tar.WriteEntryAsync(FileEntryWriter.Whiteout(rel, name), null, ct).ConfigureAwait(false);
                continue;
            }
            // One listxattr tells whether any overlay xattr is there at all (almost never): not a getxattr per name.
            var overlay = OverlayXattrs(full);
            if (st.IsRegular && st.Size == 0 && HasOverlayXattr(overlay, "whiteout"))
            {
                await tar.WriteEntryAsync(FileEntryWriter.Whiteout(rel, name), null, ct).ConfigureAwait(false);
                continue;
            }
            if (HasOverlayXattr(overlay, "redirect"))
                throw new LayerFormatException($"{full} is a renamed directory (overlay redirect_dir); mount overlay with redirect_dir=off to take diffs from the upper dir");
            if (st.IsRegular && HasOverlayXattr(overlay, "metacopy"))
                throw new LayerFormatException($"{full} is a metadata-only copy-up (overlay metacopy); mount overlay with metacopy=off to take diffs from the upper dir");
            await files.WriteAsync(tar, full, entry, st, ct).ConfigureAwait(false);
            if (!st.IsDir) continue;
            if (IsOpaque(full)) await tar.WriteEntryAsync(FileEntryWriter.Opaque(entry), null, ct).ConfigureAwait(false);
            await WalkAsync(tar, files, full, entry, ct).ConfigureAwait(false);
        }
    }

    private static bool IsOpaque(string dir)
    {
        foreach (var ns in Namespaces)
            if (Native.GetXattr(dir, ns + "opaque") is { } v && Encoding.ASCII.GetString(v).TrimEnd('\0') == "y")
                return true; // "x" marks a dir that merely holds xattr whiteouts: not opaque
        return false;
    }

    /// <summary>The overlay-private xattr names on <paramref name="path"/> (trusted.* only shows to whoever could read it).</summary>
    private static List<string> OverlayXattrs(string path)
    {
        var names = Native.ListXattrs(path);
        names.RemoveAll(n => !Namespaces.Any(ns => n.StartsWith(ns, StringComparison.Ordinal)));
        return names;
    }

    private static bool HasOverlayXattr(List<string> overlay, string name) =>
        overlay.Count > 0 && Namespaces.Any(ns => overlay.Contains(ns + name, StringComparer.Ordinal));
}
