using System.Globalization;

namespace Img.Runtime.Emulation;

/// <summary>
/// One registered binfmt_misc handler, as <c>/proc/sys/fs/binfmt_misc/&lt;name&gt;</c> describes it. Only magic
/// handlers (<c>offset</c>/<c>magic</c>/<c>mask</c>) can run ELF files of another architecture; extension handlers
/// have no magic.
/// </summary>
/// <param name="Name">The file name (e.g. <c>qemu-aarch64</c>).</param>
/// <param name="Enabled">Whether the kernel uses it.</param>
/// <param name="Interpreter">The interpreter's path.</param>
/// <param name="Flags">The flag letters (<c>F</c>: the interpreter was opened when registered, so it works inside a container's root).</param>
/// <param name="Offset">Where in the file the magic starts.</param>
/// <param name="Magic">The bytes compared, or null for an extension handler.</param>
/// <param name="Mask">ANDed with the file's bytes before the comparison; null means all ones.</param>
public sealed record BinfmtEntry(string Name, bool Enabled, string Interpreter, string Flags, int Offset, byte[]? Magic, byte[]? Mask)
{
    /// <summary>Whether the interpreter is kept open by the kernel (flag <c>F</c>).</summary>
    public bool FixBinary => Flags.Contains('F', StringComparison.Ordinal);

    /// <summary>Whether a file starting with <paramref name="header"/> is handed to this interpreter.</summary>
    public bool Matches(ReadOnlySpan<byte> header)
    {
        if (Magic is null || Offset < 0 || Offset + Magic.Length > header.Length) return false;
        for (int i = 0; i < Magic.Length; i++)
        {
            byte mask = Mask is not null && i < Mask.Length ? Mask[i] : (byte)0xff;
            if ((header[Offset + i] & mask) != (Magic[i] & mask)) return false;
        }
        return true;
    }

    /// <summary>
    /// Parses one entry file's text (<c>enabled</c>, <c>interpreter …</c>, <c>flags: …</c>, <c>offset …</c>,
    /// <c>magic …</c>, <c>mask …</c>, or <c>extension .…</c>).
    /// </summary>
    /// <exception cref="FormatException">The text is not an entry (a hex field that is not hex).</exception>
    public static BinfmtEntry Parse(string name, string text)
    {
        bool enabled = false;
        string interpreter = "", flags = "";
        int offset = 0;
        byte[]? magic = null, mask = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line == "enabled") enabled = true;
            else if (line == "disabled") enabled = false;
            else if (line.StartsWith("interpreter ", StringComparison.Ordinal)) interpreter = line["interpreter ".Length..].Trim();
            else if (line.StartsWith("flags:", StringComparison.Ordinal)) flags = line["flags:".Length..].Trim();
            else if (line.StartsWith("offset ", StringComparison.Ordinal))
                offset = int.Parse(line["offset ".Length..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
            else if (line.StartsWith("magic ", StringComparison.Ordinal)) magic = Convert.FromHexString(line["magic ".Length..].Trim());
            else if (line.StartsWith("mask ", StringComparison.Ordinal)) mask = Convert.FromHexString(line["mask ".Length..].Trim());
        }
        return new BinfmtEntry(name, enabled, interpreter, flags, offset, magic, mask);
    }
}

/// <summary>The kernel's binfmt_misc table: whether it is on, and its handlers.</summary>
/// <param name="Mounted">Whether the directory holds a <c>status</c> file (binfmt_misc is mounted).</param>
/// <param name="Enabled">The <c>status</c> file says <c>enabled</c>.</param>
/// <param name="Entries">The handlers (every file but <c>status</c> and <c>register</c>).</param>
public sealed record BinfmtMisc(bool Mounted, bool Enabled, IReadOnlyList<BinfmtEntry> Entries)
{
    /// <summary>Where the kernel shows the table.</summary>
    public const string DefaultDirectory = "/proc/sys/fs/binfmt_misc";

    /// <summary>
    /// Reads the table under <paramref name="directory"/>. A missing directory or an unreadable or malformed
    /// entry is not an error: the platform it would have served simply has no handler.
    /// </summary>
    public static BinfmtMisc Read(string directory = DefaultDirectory)
    {
        string status;
        try { status = File.ReadAllText(Path.Combine(directory, "status")).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return new BinfmtMisc(false, false, []); }
        var entries = new List<BinfmtEntry>();
        IEnumerable<string> files;
        try { files = Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { files = []; }
        foreach (var file in files)
        {
            var name = Path.GetFileName(file);
            if (name is "status" or "register") continue;
            try { entries.Add(BinfmtEntry.Parse(name, File.ReadAllText(file))); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException) { }
        }
        return new BinfmtMisc(true, status == "enabled", entries);
    }
}
