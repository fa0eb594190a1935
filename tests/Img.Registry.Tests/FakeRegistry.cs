using System.Collections.Concurrent;
using System.Net;
using Img.TestSupport;

namespace Img.Registry.Tests;

/// <summary>One request a <see cref="FakeRegistry"/> saw.</summary>
public sealed record SeenRequest(string Method, string Path, string? Authorization, string? Range);

/// <summary>
/// A tiny HTTP server imitating a registry for the faults a real one will not produce on demand:
/// wrong bytes, dropped connections, 5xx and 429, redirects, schema 1.
/// </summary>
public sealed class FakeRegistry : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<HttpListenerContext, Task> _handler;
    private readonly Task _loop;

    private FakeRegistry(HttpListener listener, string address, int port, Func<HttpListenerContext, Task> handler)
    {
        _listener = listener;
        HostPort = $"{address}:{port}";
        _handler = handler;
        _loop = Task.Run(LoopAsync);
    }

    public string HostPort { get; }

    public ConcurrentQueue<SeenRequest> Requests { get; } = new();

    public static FakeRegistry Start(Func<HttpListenerContext, Task> handler, string address = "127.0.0.1")
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort.Pick();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://{address}:{port}/");
            try
            {
                listener.Start();
                return new FakeRegistry(listener, address, port, handler);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            Requests.Enqueue(new SeenRequest(ctx.Request.HttpMethod, ctx.Request.Url!.AbsolutePath, ctx.Request.Headers["Authorization"], ctx.Request.Headers["Range"]));
            _ = Task.Run(async () =>
            {
                try { await _handler(ctx); }
                catch (Exception) { try { ctx.Response.Abort(); } catch (Exception) { } }
            });
        }
    }

    public static void Reply(HttpListenerContext ctx, int status, byte[]? body = null, string? contentType = null, params (string Name, string Value)[] headers)
    {
        ctx.Response.StatusCode = status;
        foreach (var (n, v) in headers) ctx.Response.Headers[n] = v;
        if (contentType is not null) ctx.Response.ContentType = contentType;
        body ??= [];
        ctx.Response.ContentLength64 = body.Length;
        if (ctx.Request.HttpMethod != "HEAD" && body.Length > 0) ctx.Response.OutputStream.Write(body);
        ctx.Response.Close();
    }

    /// <summary>Announces the whole body, sends only <paramref name="sent"/> bytes of it, then drops the connection.</summary>
    public static void ReplyAndDrop(HttpListenerContext ctx, byte[] body, int sent)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentLength64 = body.Length;
        ctx.Response.OutputStream.Write(body, 0, sent);
        ctx.Response.OutputStream.Flush();
        ctx.Response.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Close();
        try { await _loop; } catch (Exception) { }
    }
}
