using Img.Build.Graph;

namespace Img.Build.Tests.Graph;

public class GraphSolverTests
{
    /// <summary>How long a test waits for something that should happen at once; only a broken solver reaches it.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static GraphSolver NewSolver(int parallelism = 4, ICacheStore? cache = null, ISolveProgress? progress = null) => new(new GraphSolverOptions
    {
        Ops = FakeResolver.Instance,
        MaxParallelism = parallelism,
        Cache = cache ?? NoCacheStore.Instance,
        Progress = progress ?? NoSolveProgress.Instance,
    });

    private static string ValueOf(IResult result) => ((FakeResult)result).Value;

    [Fact]
    public async Task IndependentOpsOverlap()
    {
        // each op waits until the other is running too: run one after the other, they would never finish
        var running = 0;
        var both = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<IResult> Meet(string value, CancellationToken ct)
        {
            if (Interlocked.Increment(ref running) == 2) both.SetResult();
            await both.Task.WaitAsync(Patience, ct);
            return new FakeResult(value);
        }
        var a = new FakeOp("a") { Body = (_, ct) => Meet("a", ct) };
        var b = new FakeOp("b") { Body = (_, ct) => Meet("b", ct) };
        await using var solver = NewSolver(parallelism: 2);

        var result = await solver.SolveAsync(new FakeOp("c").Vertex(a.Vertex(), b.Vertex()), CancellationToken.None);

        Assert.Equal("c(a,b)", ValueOf(result));
    }

    [Fact]
    public async Task ALimitOfOneSerializesOps()
    {
        int running = 0, most = 0;
        async Task<IResult> Work(string value)
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            await Task.Delay(15);
            Interlocked.Decrement(ref running);
            return new FakeResult(value);
        }
        var leaves = "abcd".Select(c => new FakeOp(c.ToString()) { Body = (_, _) => Work(c.ToString()) }.Vertex()).ToArray();
        await using var solver = NewSolver(parallelism: 1);

        var result = await solver.SolveAsync(new FakeOp("all").Vertex(leaves), CancellationToken.None);

        Assert.Equal("all(a,b,c,d)", ValueOf(result));
        Assert.Equal(1, most);
    }

    [Fact]
    public async Task AVertexQueuedForASlotHasNotStarted()
    {
        var progress = new RecordingProgress();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstRunning = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        FakeOp Op(string name) => new(name)
        {
            Body = async (_, _) =>
            {
                firstRunning.TrySetResult(name);
                await release.Task.WaitAsync(Patience);
                return new FakeResult(name);
            },
        };
        await using var solver = NewSolver(parallelism: 1, progress: progress);

        // whichever takes the only slot holds it until released; the other waits for the slot
        var solve = solver.SolveAsync([Op("a").Vertex(), Op("b").Vertex()], CancellationToken.None);
        var runner = await firstRunning.Task.WaitAsync(Patience);
        var waiter = runner == "a" ? "b" : "a";
        await Task.Delay(20);
        Assert.Equal([VertexStatus.Started], progress.Of(runner));
        Assert.Empty(progress.Of(waiter));
        release.SetResult();
        await solve.WaitAsync(Patience);

        Assert.Equal([VertexStatus.Started, VertexStatus.Done], progress.Of(waiter));
    }

    [Fact]
    public async Task ACacheMapThatDoesNotFitTheInputsFailsItsVertex()
    {
        var wrong = new FakeOp("wrong") { Selectors = [] };
        await using var solver = NewSolver();

        var error = await Assert.ThrowsAsync<SolveException>(() => solver.SolveAsync(wrong.Vertex(new FakeOp("in").Vertex()), CancellationToken.None));

        Assert.Equal("wrong", error.VertexName);
        Assert.Equal("failed to solve: the cache map describes 0 inputs, the vertex has 1", error.Message);
        Assert.Equal(0, wrong.ExecCalls);
    }

    [Fact]
    public async Task AVertexSharedByTwoPlatformGraphsRunsOnce()
    {
        // each platform's graph is built apart, from op objects of its own; what they share has the same digest
        (Vertex Target, FakeOp Context, FakeOp Shared) Platform(string arch)
        {
            var context = new FakeOp("context");
            var shared = new FakeOp("generate sources");
            var sources = shared.Vertex(context.Vertex());
            return (new FakeOp("compile for " + arch).Vertex(new FakeOp("image " + arch).Vertex(), sources), context, shared);
        }
        var amd64 = Platform("amd64");
        var arm64 = Platform("arm64");
        await using var solver = NewSolver();

        var results = await solver.SolveAsync([amd64.Target, arm64.Target], CancellationToken.None);

        Assert.Equal("compile for amd64(image amd64(),generate sources(context()))", ValueOf(results[0]));
        Assert.Equal("compile for arm64(image arm64(),generate sources(context()))", ValueOf(results[1]));
        Assert.Equal(1, amd64.Shared.ExecCalls + arm64.Shared.ExecCalls);
        Assert.Equal(1, amd64.Context.ExecCalls + arm64.Context.ExecCalls);
    }

    [Fact]
    public async Task SolvesRunningAtOnceShareAVertex()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        FakeOp Shared() => new("base") { Body = async (_, ct) => { await gate.Task.WaitAsync(Patience, ct); return new FakeResult("base"); } };
        var first = Shared();
        var second = Shared();
        await using var solver = NewSolver();

        var one = solver.SolveAsync(new FakeOp("one").Vertex(first.Vertex()), CancellationToken.None);
        var two = solver.SolveAsync(new FakeOp("two").Vertex(second.Vertex()), CancellationToken.None);
        gate.SetResult();

        Assert.Equal("one(base)", ValueOf(await one));
        Assert.Equal("two(base)", ValueOf(await two));
        Assert.Equal(1, first.ExecCalls + second.ExecCalls);
    }

    [Fact]
    public async Task ACacheHitSkipsExecAndAMissRunsIt()
    {
        var cache = new MemoryCacheStore();
        var progress = new RecordingProgress();
        var (baseOp, stepOp) = (new FakeOp("base"), new FakeOp("step"));
        await using (var solver = NewSolver(cache: cache))
            Assert.Equal("step(base())", ValueOf(await solver.SolveAsync(stepOp.Vertex(baseOp.Vertex()), CancellationToken.None)));
        Assert.Equal((1, 1, 2), (baseOp.ExecCalls, stepOp.ExecCalls, cache.Count));

        var (baseAgain, stepAgain) = (new FakeOp("base"), new FakeOp("step"));
        await using (var solver = NewSolver(cache: cache, progress: progress))
            Assert.Equal("step(base())", ValueOf(await solver.SolveAsync(stepAgain.Vertex(baseAgain.Vertex()), CancellationToken.None)));
        Assert.Equal((0, 0, 2), (baseAgain.ExecCalls, stepAgain.ExecCalls, cache.Hits));
        Assert.Equal([VertexStatus.Started, VertexStatus.Cached], progress.Of("step"));

        // a changed input changes the key chained through it: a miss, and the step runs
        var (otherBase, stepOnOther) = (new FakeOp("other base"), new FakeOp("step"));
        await using (var solver = NewSolver(cache: cache))
            Assert.Equal("step(other base())", ValueOf(await solver.SolveAsync(stepOnOther.Vertex(otherBase.Vertex()), CancellationToken.None)));
        Assert.Equal((1, 1), (otherBase.ExecCalls, stepOnOther.ExecCalls));
    }

    /// <summary>A store whose lock is one per key, noting what happened while it was held.</summary>
    private sealed class LockingCacheStore : ICacheStore
    {
        private readonly MemoryCacheStore _inner = new();
        private readonly SemaphoreSlim _lock = new(1, 1);

        public bool Held { get; private set; }

        public List<string> Seen { get; } = [];

        public async ValueTask<IDisposable?> LockAsync(CacheKey key, Vertex vertex, CancellationToken ct)
        {
            await _lock.WaitAsync(ct);
            Held = true;
            return new Releaser(this);
        }

        public ValueTask<IResult?> TryLoadAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, CancellationToken ct)
        {
            Seen.Add($"load {vertex.Name} held={Held} inputs={inputs.Count}");
            return _inner.TryLoadAsync(key, vertex, inputs, ct);
        }

        public ValueTask SaveAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, IResult result, CancellationToken ct)
        {
            Seen.Add($"save {vertex.Name} held={Held} inputs={inputs.Count}");
            return _inner.SaveAsync(key, vertex, inputs, result, ct);
        }

        private sealed class Releaser(LockingCacheStore store) : IDisposable
        {
            public void Dispose()
            {
                store.Held = false;
                store._lock.Release();
            }
        }
    }

    [Fact]
    public async Task TheStoresLockIsHeldFromTheLookupUntilTheResultIsSavedAndTheStoreSeesTheInputs()
    {
        var cache = new LockingCacheStore();
        var step = new FakeOp("step")
        {
            Body = (inputs, _) =>
            {
                cache.Seen.Add($"exec held={cache.Held}");
                return Task.FromResult<IResult>(new FakeResult("ran"));
            },
        };
        await using (var solver = NewSolver(parallelism: 1, cache: cache))
            await solver.SolveAsync(step.Vertex(new FakeOp("base").Vertex()), CancellationToken.None);

        Assert.Equal(["load base held=True inputs=0", "save base held=True inputs=0",
            "load step held=True inputs=1", "exec held=True", "save step held=True inputs=1"], cache.Seen);
        Assert.False(cache.Held);
    }

    [Fact]
    public async Task AVertexThatIgnoresTheCacheRuns()
    {
        var cache = new MemoryCacheStore();
        await using (var solver = NewSolver(cache: cache))
            await solver.SolveAsync(new FakeOp("step").Vertex(), CancellationToken.None);
        var again = new FakeOp("step");
        await using (var solver = NewSolver(cache: cache))
            await solver.SolveAsync(new Vertex("step", again, ignoreCache: true), CancellationToken.None);
        Assert.Equal(1, again.ExecCalls);
    }

    [Fact]
    public async Task APathSelectorIgnoresChangesOutsideItsPaths()
    {
        var cache = new MemoryCacheStore();
        // the context's own definition changes with every build (its content is not in it), as a local source's does
        async Task<(FakeOp Selective, FakeOp Whole)> Build(string build, Dictionary<string, string> files)
        {
            var context = new FakeOp("context " + build) { Body = (_, _) => Task.FromResult<IResult>(new FakeResult("ctx", files)) };
            var selective = new FakeOp("COPY a") { Selectors = [InputSelector.Select(["a"], FakeResult.ContentOf)] };
            var whole = new FakeOp("COPY .");
            var contextVertex = context.Vertex();
            await using var solver = NewSolver(cache: cache);
            await solver.SolveAsync([selective.Vertex(contextVertex), whole.Vertex(contextVertex)], CancellationToken.None);
            return (selective, whole);
        }

        var first = await Build("1", new() { ["a"] = "1", ["b"] = "1" });
        var otherFileChanged = await Build("2", new() { ["a"] = "1", ["b"] = "2" });
        var selectedFileChanged = await Build("3", new() { ["a"] = "2", ["b"] = "2" });

        Assert.Equal((1, 1), (first.Selective.ExecCalls, first.Whole.ExecCalls));
        Assert.Equal((0, 1), (otherFileChanged.Selective.ExecCalls, otherFileChanged.Whole.ExecCalls));
        Assert.Equal((1, 1), (selectedFileChanged.Selective.ExecCalls, selectedFileChanged.Whole.ExecCalls));
    }

    [Fact]
    public async Task AFailingVertexFailsItsDependantsAndCancelsItsSiblings()
    {
        var progress = new RecordingProgress();
        var siblingRunning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sibling = new FakeOp("slow") { Body = async (_, ct) => { siblingRunning.SetResult(); await Task.Delay(Timeout.Infinite, ct); return new FakeResult("never"); } };
        var failing = new FakeOp("bad") { Body = async (_, _) => { await siblingRunning.Task.WaitAsync(Patience); throw new InvalidOperationException("exit code: 1"); } };
        var dependant = new FakeOp("after");
        var further = new FakeOp("after that");
        await using var solver = NewSolver(progress: progress);

        var error = await Assert.ThrowsAsync<SolveException>(() =>
            solver.SolveAsync(further.Vertex(dependant.Vertex(failing.Vertex(), sibling.Vertex())), CancellationToken.None).WaitAsync(Patience));

        Assert.Equal("bad", error.VertexName);
        Assert.Equal("failed to solve: exit code: 1", error.Message);
        Assert.Equal("exit code: 1", error.Cause);
        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.Equal((0, 0), (dependant.ExecCalls, further.ExecCalls));
        Assert.Empty(progress.Of("after"));
        Assert.Equal([VertexStatus.Started, VertexStatus.Failed], progress.Of("bad"));
        await WaitUntil(() => progress.Of("slow").Contains(VertexStatus.Canceled));
        Assert.True(sibling.LastToken.IsCancellationRequested);
    }

    [Fact]
    public async Task AFailedTargetCancelsTheOtherTargetsOfItsSolve()
    {
        // one platform failing ends the build's other platforms, as BuildKit's frontend does with its errgroup
        var otherRunning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var other = new FakeOp("arm64 step") { Body = async (_, ct) => { otherRunning.SetResult(); await Task.Delay(Timeout.Infinite, ct); return new FakeResult("never"); } };
        var failing = new FakeOp("amd64 step") { Body = async (_, _) => { await otherRunning.Task.WaitAsync(Patience); throw new InvalidOperationException("exit code: 2"); } };
        await using var solver = NewSolver();

        var error = await Assert.ThrowsAsync<SolveException>(() =>
            solver.SolveAsync([failing.Vertex(), other.Vertex()], CancellationToken.None).WaitAsync(Patience));

        Assert.Equal("amd64 step", error.VertexName);
        await WaitUntil(() => other.LastToken.IsCancellationRequested);
    }

    [Fact]
    public async Task AFailureLeavesWorkAnotherSolveNeedsRunning()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sharedRunning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = new FakeOp("shared") { Body = async (_, ct) => { sharedRunning.SetResult(); await gate.Task.WaitAsync(Patience, ct); return new FakeResult("shared"); } };
        var failing = new FakeOp("bad") { Body = async (_, _) => { await sharedRunning.Task.WaitAsync(Patience); throw new InvalidOperationException("boom"); } };
        var sharedVertex = shared.Vertex();
        await using var solver = NewSolver();

        var failed = solver.SolveAsync(new FakeOp("one").Vertex(failing.Vertex(), sharedVertex), CancellationToken.None);
        var other = solver.SolveAsync(new FakeOp("two").Vertex(sharedVertex), CancellationToken.None);
        await Assert.ThrowsAsync<SolveException>(() => failed.WaitAsync(Patience));
        gate.SetResult();

        Assert.Equal("two(shared)", ValueOf(await other.WaitAsync(Patience)));
        Assert.False(shared.LastToken.IsCancellationRequested);
        Assert.Equal(1, shared.ExecCalls);
    }

    [Fact]
    public async Task CallerCancellationStopsEverythingPromptly()
    {
        var started = 0;
        var bothStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stubborn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        FakeOp Slow(string name, bool honoursToken) => new(name)
        {
            Body = async (_, ct) =>
            {
                if (Interlocked.Increment(ref started) == 2) bothStarted.SetResult();
                await (honoursToken ? Task.Delay(Timeout.Infinite, ct) : stubborn.Task);
                return new FakeResult(name);
            },
        };
        var polite = Slow("polite", honoursToken: true);
        var ignoring = Slow("ignores its token", honoursToken: false);
        using var cts = new CancellationTokenSource();
        var solver = NewSolver();

        var solve = solver.SolveAsync(new FakeOp("top").Vertex(polite.Vertex(), ignoring.Vertex()), cts.Token);
        await bothStarted.Task.WaitAsync(Patience);
        await cts.CancelAsync();

        // the caller is answered at once even though one op goes on; every op's token has fired
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => solve.WaitAsync(Patience));
        await WaitUntil(() => polite.LastToken.IsCancellationRequested && ignoring.LastToken.IsCancellationRequested);
        stubborn.SetResult();
        await solver.DisposeAsync().AsTask().WaitAsync(Patience);
    }

    [Fact]
    public async Task DisposingTheSolverReleasesEveryResultOnce()
    {
        var results = new List<FakeResult>();
        FakeOp Op(string name) => new(name) { Body = (_, _) => { var r = new FakeResult(name); lock (results) results.Add(r); return Task.FromResult<IResult>(r); } };
        var solver = NewSolver();
        await solver.SolveAsync(Op("top").Vertex(Op("left").Vertex(), Op("right").Vertex()), CancellationToken.None);
        Assert.All(results, r => Assert.Equal(0, r.Releases));

        await solver.DisposeAsync();
        await solver.DisposeAsync();

        Assert.Equal(3, results.Count);
        Assert.All(results, r => Assert.Equal(1, r.Releases));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => solver.SolveAsync(Op("late").Vertex(), CancellationToken.None));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true in time");
            await Task.Delay(5);
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
