using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.Text;
using Img.Archive.ImageArchive;
using Img.Content;
using Img.Oci;

// Usage: dotnet run -c Release --project tools/fuzz-oci -- [seconds=60] [seed]
// Feeds mutated OCI documents to the readers img uses on what registries, archives and the store hand it: the
// manifest, the index, the image config (OciJson, then what the commands do with the result) and docker's
// archive manifest.json (through ImageArchiveReader). The readers' documented failures are FormatException
// (OciJson) and InvalidArchiveException (archives); anything else is a crash, more than 2 s a hang.
var seconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 60;
var seed = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : Environment.TickCount;
var rng = new Random(seed);
var storeDir = Directory.CreateTempSubdirectory("fuzz-oci-").FullName;
var store = new ContentStore(storeDir);
var d1 = Digest.Compute("one"u8).ToString();
var d2 = Digest.Compute("two"u8).ToString();
string[] raw =
[
    """{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"D1","size":3},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"D2","size":3,"urls":["http://x"],"annotations":{"a":"b"}}],"subject":{"mediaType":"x","digest":"D1","size":1},"annotations":{"k":"v"}}""",
    """{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"D1","size":7,"platform":{"architecture":"amd64","os":"linux","variant":"v2","os.features":["x"]}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"D2","size":7,"platform":{"architecture":"arm","os":"linux","variant":"v7"}}]}""",
    """{"created":"2024-05-01T10:20:30.123456789Z","author":"a","architecture":"amd64","os":"linux","config":{"User":"1:1","ExposedPorts":{"80/tcp":{}},"Env":["A=1","PATH=/bin"],"Entrypoint":["sh"],"Cmd":["-c","x"],"Volumes":{"/v":{}},"WorkingDir":"/w","Labels":{"l":"v"},"StopSignal":"SIGTERM","Healthcheck":{"Test":["CMD","true"],"Interval":1000},"OnBuild":["RUN x"],"Shell":["/bin/sh","-c"]},"rootfs":{"type":"layers","diff_ids":["D1","D2"]},"history":[{"created":"2024-05-01T10:20:30Z","created_by":"x","empty_layer":true},{"comment":"c"}]}""",
    """[{"Config":"config.json","RepoTags":["docker.io/library/x:latest"],"Layers":["layer.tar"]}]""",
];
string[] seeds = Array.ConvertAll(raw, s => s.Replace("D1", d1, StringComparison.Ordinal).Replace("D2", d2, StringComparison.Ordinal));
string[] tokens = ["null", "[]", "{}", "[null]", "\"\"", "0", "-1", "1e400", "true", "\"x\"", "[{}]", "{\"digest\":null}", "\"sha256:\"", "9223372036854775807", "\"\\ud800\"", "{\"a\":null}"];

long inputs = 0, crashes = 0, hangs = 0;
var perReader = new long[4];
var seen = new HashSet<string>(StringComparer.Ordinal);
var clock = Stopwatch.StartNew();
Console.WriteLine($"seed {seed}; {seconds}s");
while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
{
    int which = rng.Next(seeds.Length);
    var input = Mutate(seeds[which]);
    inputs++;
    perReader[which]++;
    var run = Task.Run(() => Target(which, input));
    Exception? error = null;
    try
    {
        if (!run.Wait(TimeSpan.FromSeconds(2)))
        {
            hangs++;
            Console.WriteLine($"=== hang ({which}): {input}");
            if (hangs >= 3) break;
            continue;
        }
    }
    catch (AggregateException e) { error = e.InnerException; }
    if (error is null) continue;
    crashes++;
    var site = error.GetType().FullName + " " + error.StackTrace?.Split('\n').FirstOrDefault()?.Trim();
    if (seen.Add(site)) Console.WriteLine($"=== crash ({which}): {input}\n{error}\n");
}
Directory.Delete(storeDir, recursive: true);
Console.WriteLine($"inputs: {inputs} (manifest {perReader[0]}, index {perReader[1]}, config {perReader[2]}, archive manifest.json {perReader[3]}), crashes: {crashes}, hangs: {hangs}, seconds: {clock.Elapsed.TotalSeconds:F0}");
return crashes + hangs > 0 ? 1 : 0;

void Target(int which, string input)
{
    var bytes = Encoding.UTF8.GetBytes(input);
    try
    {
        switch (which)
        {
            case 0:
                var m = OciJson.Deserialize<Manifest>(bytes);
                // What pull, push, ls and the walker do with one.
                _ = m.Layers.Prepend(m.Config).Sum(l => l.Size) + m.Layers.Count(l => l.Urls is { Count: > 0 });
                foreach (var l in m.Layers) _ = (l.Digest.ToString(), MediaTypes.IsManifest(l.MediaType), l.Annotations?.Count);
                _ = OciJson.Serialize(m);
                break;
            case 1:
                var index = OciJson.Deserialize<ImageIndex>(bytes);
                foreach (var e in index.Manifests.Where(e => Platform.Host.Matches(e.Platform)))
                    _ = (Platform.Host.Rank(e.Platform!), e.Digest.Short);
                foreach (var e in index.Manifests) _ = e.Platform is null ? null : Platform.Normalize(e.Platform).ToString();
                _ = OciJson.Serialize(index);
                break;
            case 2:
                var config = OciJson.Deserialize<ImageConfig>(bytes);
                // A build's copy of a base config, and what inspect and the runtime read from it.
                var clone = OciJson.Deserialize<ImageConfig>(OciJson.Serialize(config));
                _ = Platform.Normalize(clone.Platform).ToString();
                foreach (var env in clone.Config.Env ?? []) _ = env.Split('=', 2);
                _ = (clone.RootFs.DiffIds.Count, clone.History?.Count(h => !h.EmptyLayer), clone.Config.Labels?.Count);
                break;
            case 3:
                _ = LoadArchiveAsync(bytes).GetAwaiter().GetResult();
                break;
        }
    }
    catch (FormatException) { }
    catch (InvalidArchiveException) { }
}

async Task<LoadResult?> LoadArchiveAsync(byte[] manifestJson)
{
    var tar = new MemoryStream();
    await using (var w = new TarWriter(tar, leaveOpen: true))
    {
        await w.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream(manifestJson) });
        await w.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "config.json") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(seeds[2])) });
        await w.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "layer.tar") { DataStream = new MemoryStream(new byte[1024]) });
    }
    tar.Position = 0;
    return await ImageArchiveReader.LoadAsync(tar, store);
}

string Mutate(string text)
{
    var sb = new StringBuilder(text);
    int edits = rng.Next(1, 6);
    for (int i = 0; i < edits && sb.Length > 0; i++)
    {
        int at = rng.Next(sb.Length);
        switch (rng.Next(6))
        {
            case 0: sb.Remove(at, Math.Min(rng.Next(1, 12), sb.Length - at)); break;
            case 1: sb.Insert(at, tokens[rng.Next(tokens.Length)]); break;
            case 2: sb[at] = (char)rng.Next(0x20, 0x7f); break;
            case 3:
                // Replace a JSON value after a colon with a hostile token: nulls and wrong types where objects live.
                int colon = text.IndexOf(':', rng.Next(text.Length));
                if (colon < 0 || colon >= sb.Length - 1) break;
                int end = colon + 1;
                int depth = 0;
                for (; end < sb.Length; end++)
                {
                    char c = sb[end];
                    if (c is '{' or '[') depth++;
                    else if (c is '}' or ']') { if (depth == 0) break; depth--; if (depth == 0) { end++; break; } }
                    else if (c == ',' && depth == 0) break;
                }
                sb.Remove(colon + 1, end - colon - 1).Insert(colon + 1, tokens[rng.Next(tokens.Length)]);
                break;
            case 4: sb.Insert(at, sb.ToString(at, Math.Min(rng.Next(1, 40), sb.Length - at))); break;
            default: sb.Replace("\"", tokens[rng.Next(tokens.Length)], at, Math.Min(20, sb.Length - at)); break;
        }
    }
    return sb.ToString();
}
