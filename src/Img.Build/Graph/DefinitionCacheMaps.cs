namespace Img.Build.Graph;

/// <summary>
/// The cache map an op record implies (BuildKit's ops compute theirs the same way): the definition's digest and, per
/// input, the paths the op reads when it reads only some — a COPY's sources, a bind mount's selector (writes to a bind
/// are dropped) — so a change elsewhere in that input keeps the key. The root of an exec, a file op's base and a
/// writable cache's source are read whole.
/// </summary>
public static class DefinitionCacheMaps
{
    /// <summary>The cache map of <paramref name="vertex"/>; <paramref name="contentDigest"/> digests selected paths.</summary>
    public static CacheMap Of(Vertex vertex, ContentDigestFunc contentDigest)
    {
        var paths = ReadPaths(vertex.Definition, vertex.Inputs.Count);
        return new CacheMap(OpDefinitions.DigestOf(vertex.Definition),
            [.. paths.Select(p => p is null ? InputSelector.WholeInput : InputSelector.Select(p, contentDigest))]);
    }

    /// <summary>Per input, the paths read, in the order the op names them; null for an input read whole.</summary>
    public static IReadOnlyList<IReadOnlyList<string>?> ReadPaths(IOpDefinition definition, int inputCount)
    {
        var reads = new Reads(inputCount);
        switch (definition)
        {
            case FileOp file:
                reads.Whole(file.BaseInput);
                foreach (var copy in file.Actions.OfType<CopyAction>())
                    reads.Path(copy.SourceInput, copy.Source);
                break;
            case ExecOp exec:
                reads.Whole(0);
                foreach (var mount in exec.Mounts.Where(m => m.Input is not null))
                {
                    // A bind's writes are dropped, so it reads only its path even when writable.
                    if (mount.ReadOnly || mount.Type == Img.Dockerfile.MountType.Bind) reads.Path(mount.Input, mount.Selector.Length == 0 ? "/" : mount.Selector);
                    else reads.Whole(mount.Input);
                }
                break;
            default:
                for (var i = 0; i < inputCount; i++) reads.Whole(i);
                break;
        }
        return reads.Result();
    }

    /// <summary>What is read of each input so far: nothing, paths, or the whole (which wins).</summary>
    private sealed class Reads(int count)
    {
        private readonly List<string>?[] _paths = new List<string>?[count];
        private readonly bool[] _whole = new bool[count];

        public void Whole(int? input)
        {
            if (input is { } i && i >= 0 && i < count) _whole[i] = true;
        }

        public void Path(int? input, string path)
        {
            if (input is not { } i || i < 0 || i >= count) return;
            var paths = _paths[i] ??= [];
            if (!paths.Contains(path)) paths.Add(path);
        }

        /// <summary>An input nothing names is read whole: a definition that does not say is not trusted to read nothing.</summary>
        public IReadOnlyList<IReadOnlyList<string>?> Result() =>
            [.. Enumerable.Range(0, count).Select(i => _whole[i] || _paths[i] is null ? null : (IReadOnlyList<string>)_paths[i]!)];
    }
}
