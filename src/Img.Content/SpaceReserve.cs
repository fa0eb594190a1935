namespace Img.Content;

/// <summary>
/// A few mebibytes the state directory keeps in a file of its own (<c>space-reserve</c>) while the disk has room,
/// and gives back when it is nearly full: the metadata database needs some space for its shared-memory index and
/// the journal of a delete, and without it even <c>ls</c>, <c>rm</c> and <c>prune</c> fail with SQLite's
/// "disk I/O error" — img could not free the space it holds. Given back, the reserve lets them run; once prune
/// has freed space, the next command takes it again.
/// </summary>
public static class SpaceReserve
{
    /// <summary>Enough for SQLite's 32 KiB shared-memory index and the journal pages of a large prune.</summary>
    public const long Size = 4 << 20;

    private const string FileName = "space-reserve";

    /// <summary>Gives the reserve back when less than its size is free; takes it again when four times that is free.</summary>
    public static void Balance(string stateDir)
    {
        var file = Path.Combine(stateDir, FileName);
        try
        {
            long free = new DriveInfo(stateDir).AvailableFreeSpace;
            bool held = new FileInfo(file) is { Exists: true, Length: Size };
            if (held && free < Size) File.Delete(file);
            else if (!held && free > 4 * Size) Take(file);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>True for ENOSPC and EDQUOT: the disk (or the user's quota) is full.</summary>
    public static bool IsDiskFull(IOException e) => e.HResult is 28 or 122 or unchecked((int)0x80070070) || e.Message.Contains("No space left", StringComparison.Ordinal);

    private static void Take(string file)
    {
        // Written out, not sparse: a sparse file would give nothing back when deleted.
        var temp = file + ".tmp-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var zeros = new byte[1 << 16];
                for (long done = 0; done < Size; done += zeros.Length) fs.Write(zeros);
            }
            File.Move(temp, file, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
