using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Img.Build;

namespace Img.Cli.Progress;

/// <summary>
/// buildx's <c>--progress rawjson</c>: one BuildKit <c>SolveStatus</c> object per line, for machines to read. A step
/// is a vertex (<c>digest</c>, <c>name</c>, <c>started</c>, <c>completed</c>, <c>cached</c>, <c>error</c>); its output
/// lines are <c>logs</c> entries with the bytes in base64, as Go encodes <c>[]byte</c>.
/// </summary>
public sealed class RawJsonProgress(TextWriter err) : IBuildProgress
{
    private readonly object _gate = new();
    private readonly Dictionary<int, DateTimeOffset> _started = [];

    public void Report(StepEvent e)
    {
        var now = DateTimeOffset.UtcNow;
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        lock (_gate)
        {
            if (e.State == StepState.Started) _started[e.Step] = now;
            var started = _started.TryGetValue(e.Step, out var s) ? s : now;
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                if (e.State == StepState.Log)
                {
                    w.WriteStartArray("logs");
                    w.WriteStartObject();
                    w.WriteString("vertex", VertexDigest(e));
                    w.WriteNumber("stream", 1);
                    w.WriteBase64String("data", Encoding.UTF8.GetBytes((e.Text ?? "") + "\n"));
                    w.WriteString("timestamp", now);
                    w.WriteEndObject();
                    w.WriteEndArray();
                }
                else
                {
                    w.WriteStartArray("vertexes");
                    w.WriteStartObject();
                    w.WriteString("digest", VertexDigest(e));
                    w.WriteString("name", e.Name);
                    w.WriteString("started", started);
                    if (e.State != StepState.Started) w.WriteString("completed", now);
                    if (e.State == StepState.Cached) w.WriteBoolean("cached", true);
                    if (e.State == StepState.Error) w.WriteString("error", e.Text ?? "");
                    w.WriteEndObject();
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            err.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
            err.Write('\n');
            err.Flush();
        }
    }

    /// <summary>The build checks' findings as one <c>warnings</c> object (BuildKit's VertexWarning: level, short, detail, url, range).</summary>
    public void ReportWarnings(IReadOnlyList<Img.Dockerfile.Checks.CheckWarning> warnings)
    {
        if (warnings.Count == 0) return;
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("warnings");
            foreach (var warning in warnings)
            {
                w.WriteStartObject();
                w.WriteNumber("level", 1);
                w.WriteBase64String("short", Encoding.UTF8.GetBytes(warning.ToString()));
                w.WriteStartArray("detail");
                w.WriteBase64StringValue(Encoding.UTF8.GetBytes(warning.Rule.Description));
                w.WriteEndArray();
                w.WriteString("url", warning.Rule.Url);
                w.WriteStartArray("range");
                w.WriteStartObject();
                w.WriteStartObject("start");
                w.WriteNumber("line", warning.StartLine);
                w.WriteEndObject();
                w.WriteStartObject("end");
                w.WriteNumber("line", warning.EndLine);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        lock (_gate)
        {
            err.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
            err.Write('\n');
            err.Flush();
        }
    }

    /// <summary>A stable vertex digest per step (BuildKit digests the op; img has a number and a name).</summary>
    private static string VertexDigest(StepEvent e) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{e.Step}\0{e.Name}")));
}
