namespace Img.Dockerfile.Tests;

/// <summary>Mirrors instructions/parse_test.go, bflag_test.go, parse_heredoc_test.go, support_test.go and the mount/chmod checks.</summary>
public class InstructionTests
{
    private static Instruction One(string line, string prefix = "")
    {
        var nodes = Parser.Parse(prefix + line + "\n").Ast.Children;
        return Instructions.Parse(nodes[^1]);
    }

    private static DockerfileException Fails(string line) => Assert.Throws<DockerfileException>(() => One(line));

    [Theory]
    [InlineData("MAINTAINER", "MAINTAINER requires exactly one argument")]
    [InlineData("WORKDIR", "WORKDIR requires exactly one argument")]
    [InlineData("USER", "USER requires exactly one argument")]
    [InlineData("STOPSIGNAL", "STOPSIGNAL requires exactly one argument")]
    public void TestCommandsExactlyOneArgument(string cmd, string message) => Assert.Equal(message, Fails(cmd).Detail);

    [Theory]
    [InlineData("ENV", "ENV requires at least one argument")]
    [InlineData("LABEL", "LABEL requires at least one argument")]
    [InlineData("ONBUILD", "ONBUILD requires at least one argument")]
    [InlineData("HEALTHCHECK", "HEALTHCHECK requires at least one argument")]
    [InlineData("EXPOSE", "EXPOSE requires at least one argument")]
    [InlineData("VOLUME", "VOLUME requires at least one argument")]
    [InlineData("ARG", "ARG requires at least one argument")]
    public void TestCommandsAtLeastOneArgument(string cmd, string message) => Assert.Equal(message, Fails(cmd).Detail);

    [Theory]
    [InlineData("COPY only")]
    [InlineData("ADD only")]
    public void TestCommandsNoDestinationArgument(string line) => Assert.StartsWith(line.Split(' ')[0] + " requires at least two arguments", Fails(line).Detail);

    [Fact]
    public void TestCommandsTooManyArguments() => Assert.Equal("FROM requires either one or three arguments", Fails("FROM a b").Detail);

    [Fact]
    public void TestCommandsBlankNames()
    {
        Assert.Equal("ENV names can not be blank", Fails("ENV =x").Detail);
        Assert.Equal("LABEL names can not be blank", Fails("LABEL =x").Detail);
        Assert.Equal("ARG names can not be blank", Fails("ARG =x").Detail);
    }

    [Fact]
    public void TestErrorCases_UnknownInstructionWithSuggestionAndLine()
    {
        var ex = Assert.Throws<DockerfileException>(() => DockerfileDocument.Parse("FROM a\n\nFNTRYPOINT [\"x\"]\n"));
        Assert.Equal("Dockerfile:3: unknown instruction: FNTRYPOINT (did you mean ENTRYPOINT?)", ex.Message);
        Assert.Equal(3, ex.Line);
    }

    [Fact]
    public void TestErrorCases_Misc()
    {
        Assert.Equal("invalid name for build stage: \"1st\", name can't start with a number or contain symbols", Fails("FROM a AS 1st").Detail);
        Assert.Equal("SHELL requires the arguments to be in JSON form", Fails("SHELL /bin/bash -c").Detail);
        Assert.Equal("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", Fails("ONBUILD ONBUILD RUN x").Detail);
        Assert.Equal("FROM isn't allowed as an ONBUILD trigger", Fails("ONBUILD FROM x").Detail);
        Assert.Equal("MAINTAINER isn't allowed as an ONBUILD trigger", Fails("ONBUILD maintainer x").Detail);
        Assert.Equal("no build stage in current context", Assert.Throws<DockerfileException>(() => DockerfileDocument.Parse("RUN x\n")).Detail);
    }

    [Fact]
    public void TestDockerfileLowercase()
    {
        var doc = DockerfileDocument.Parse("from busybox as Base\nrun echo hi\ncopy --from=base a b\n");
        Assert.Equal("base", doc.Stages[0].Name);
        Assert.IsType<RunInstruction>(doc.Stages[0].Commands[0]);
    }

    [Fact]
    public void TestBuilderFlags()
    {
        var copy = Assert.IsType<CopyInstruction>(One("COPY --link --parents=false --exclude=*.md --exclude=x a b"));
        Assert.True(copy.Link);
        Assert.False(copy.Parents);
        Assert.Equal(["*.md", "x"], copy.Excludes);
        Assert.Equal("unknown flag: --mont (did you mean mount?)", Fails("RUN --mont=type=cache x").Detail);
        Assert.Equal("duplicate flag specified: from", Fails("COPY --from=a --from=b x y").Detail);
        Assert.Equal("missing a value on flag: from", Fails("COPY --from x y").Detail);
        Assert.Equal("expecting boolean value for flag link, not: maybe", Fails("COPY --link=maybe x y").Detail);
        Assert.Equal("missing a value on flag: link", Fails("COPY --link= x y").Detail);
    }

    [Fact]
    public void AddFlags()
    {
        var add = Assert.IsType<AddInstruction>(One("ADD --keep-git-dir --checksum=sha256:abc --unpack=false --chown=1:2 --chmod=755 https://x/y.tar /d"));
        Assert.True(add.KeepGitDir);
        Assert.Equal("sha256:abc", add.Checksum);
        Assert.False(add.Unpack);
        Assert.Equal(("1:2", "755"), (add.Chown, add.Chmod));
        Assert.Null(Assert.IsType<AddInstruction>(One("ADD a b")).Unpack);
    }

    [Fact]
    public void TestDockerfileCopyFromArgs()
    {
        Assert.Equal("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround", Fails("COPY --from=$FOO a b").Detail);
    }

    [Theory]
    [InlineData("64a")]
    [InlineData("10000")]
    [InlineData("u=q")]
    public void TestCopyInvalidChmod(string mode) =>
        Assert.Equal($"invalid chmod parameter: '{mode}'. it should be octal string and between 0 and 07777", Fails($"COPY --chmod={mode} a b").Detail);

    [Theory]
    [InlineData("0644", 0x1FFu, false, 0x1A4u)]
    [InlineData("u=rw,g=r,o=r", 0x1FFu, false, 0x1A4u)]
    [InlineData("go-w", 0x1FFu, false, 0x1EDu)]
    [InlineData("a+X", 0x180u, true, 0x1C9u)]
    [InlineData("a+X", 0x180u, false, 0x180u)]
    [InlineData("a+X", 0x1C0u, false, 0x1C9u)]
    [InlineData("+x", 0x180u, false, 0x1C9u)]
    [InlineData("u+s", 0x1EDu, false, 0x9EDu)]
    public void TestChmodNonOctal(string spec, uint before, bool dir, uint after) =>
        Assert.Equal(after, ChmodSpec.Parse(spec).Apply(before, dir));

    [Fact]
    public void TestHealthCheckCmd()
    {
        var hc = Assert.IsType<HealthcheckInstruction>(One("HEALTHCHECK --interval=5s --timeout=3s --start-period=1m --start-interval=100ms --retries=3 CMD curl -f http://x/"));
        Assert.Equal(["CMD-SHELL", "curl -f http://x/"], hc.Health.Test);
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3), TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(100), 3),
            (hc.Health.Interval, hc.Health.Timeout, hc.Health.StartPeriod, hc.Health.StartInterval, hc.Health.Retries));
        Assert.Equal(["CMD", "a", "b"], Assert.IsType<HealthcheckInstruction>(One("HEALTHCHECK CMD [\"a\", \"b\"]")).Health.Test);
        Assert.Equal(["NONE"], Assert.IsType<HealthcheckInstruction>(One("HEALTHCHECK NONE")).Health.Test);
        Assert.Equal("HEALTHCHECK NONE takes no arguments", Fails("HEALTHCHECK NONE x").Detail);
        Assert.Equal("Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)", Fails("HEALTHCHECK CONNECT TCP 7000").Detail);
        Assert.Equal("Missing command after HEALTHCHECK CMD", Fails("HEALTHCHECK CMD").Detail);
    }

    [Theory]
    [InlineData("0s", true)]
    [InlineData("0", true)]
    [InlineData("1ms", true)]
    [InlineData("1.5h", true)]
    [InlineData("500us", false)]
    [InlineData("-1s", false)]
    [InlineData("abc", false)]
    [InlineData("5", false)]
    public void TestParseOptInterval(string value, bool ok)
    {
        if (ok)
            Assert.IsType<HealthcheckInstruction>(One($"HEALTHCHECK --interval={value} CMD x"));
        else
            Fails($"HEALTHCHECK --interval={value} CMD x");
    }

    [Fact]
    public void TestRunCmdFlagsUsed()
    {
        var run = Assert.IsType<RunInstruction>(One("RUN --mount=type=cache,target=/root/.cache,sharing=locked,id=x,uid=1,gid=2,mode=0700 --network=none --security=insecure make"));
        var m = Assert.Single(run.Mounts);
        Assert.Equal(MountType.Cache, m.Type);
        Assert.Equal(("/root/.cache", "x", CacheSharing.Locked, 1u, 2u, 0x1C0u, false), (m.Target, m.Id, m.Sharing!.Value, m.Uid!.Value, m.Gid!.Value, m.Mode!.Value, m.ReadOnly));
        Assert.Equal(("none", "insecure"), (run.Network, run.Security));
        Assert.Equal("unsupported network mode \"bogus\"", Fails("RUN --network=bogus x").Detail);
    }

    [Fact]
    public void TestMountInvalid()
    {
        Assert.Equal("unexpected key 'typ' in 'typ=cache' (did you mean type?)", Fails("RUN --mount=typ=cache x").Detail);
        Assert.Equal("'from' doesn't support variable expansion, define alias stage instead", Fails("RUN --mount=from=$img,target=/x y").Detail);
        Assert.Equal("unsupported mount type \"cach\" (did you mean cache?)", Fails("RUN --mount=type=cach,target=/x y").Detail);
        Assert.Equal("mode not allowed for \"bind\" type mounts", Fails("RUN --mount=target=/x,mode=0700 y").Detail);
        Assert.Equal("invalid cache sharing set for bind mount", Fails("RUN --mount=target=/x,sharing=shared y").Detail);
        Assert.Equal("unexpected key 'required' for mount type 'bind'", Fails("RUN --mount=target=/x,required y").Detail);
    }

    [Fact]
    public void MountDefaults()
    {
        var run = Assert.IsType<RunInstruction>(One("RUN --mount=target=/context --mount=type=tmpfs,dst=/t,size=128m --mount=type=secret,id=tok,env=TOKEN,required --mount=type=ssh,destination=/s,rw x"));
        Assert.Equal([true, false, true, false], run.Mounts.Select(m => m.ReadOnly));
        Assert.Equal(128L << 20, run.Mounts[1].SizeBytes);
        Assert.Equal(("tok", "TOKEN", true), (run.Mounts[2].Id, run.Mounts[2].Env, run.Mounts[2].Required));
        Assert.Equal(["target=/context", "type=tmpfs,dst=/t,size=128m", "type=secret,id=tok,env=TOKEN,required", "type=ssh,destination=/s,rw"], run.MountSpecs);
    }

    [Fact]
    public void TestHandleJSONArgs()
    {
        var shellForm = Assert.IsType<RunInstruction>(One("RUN echo hi  there")).Command;
        Assert.True(shellForm.PrependShell);
        Assert.Equal(["echo hi  there"], shellForm.Args);
        Assert.Equal(["echo", "hi"], Assert.IsType<CmdInstruction>(One("CMD [\"echo\", \"hi\"]")).Command.Args);
        Assert.False(Assert.IsType<EntrypointInstruction>(One("ENTRYPOINT [\"a\"]")).Command.PrependShell);
        Assert.Empty(Assert.IsType<EntrypointInstruction>(One("ENTRYPOINT []")).Command.Args);
        Assert.Equal(["powershell", "-c"], Assert.IsType<ShellInstruction>(One("SHELL [\"powershell\", \"-c\"]")).Shell);
    }

    [Fact]
    public void TestInvalidJSONCommands()
    {
        var run = Assert.IsType<RunInstruction>(One("RUN [\"echo\",\"hello\"]this is invalid"));
        Assert.True(run.Command.PrependShell);
        Assert.Equal(["[\"echo\",\"hello\"]this is invalid"], run.Command.Args);
    }

    [Fact]
    public void TestRunHeredoc()
    {
        var doc = DockerfileDocument.Parse("FROM a\nRUN <<-EOF bash\n\techo $X\n\tEOF\n");
        var run = Assert.IsType<RunInstruction>(doc.Stages[0].Commands[0]);
        var h = Assert.Single(run.Heredocs);
        Assert.Equal(("EOF", "\techo $X\n", "echo $X\n", true), (h.Name, h.Content, h.EffectiveContent, h.Expand));
        Assert.Equal(["<<-EOF bash"], run.Command.Args);
    }

    [Fact]
    public void TestCopyHeredoc()
    {
        var doc = DockerfileDocument.Parse("FROM a\nCOPY --chmod=755 <<one <<'two' src /dest/\n1 $X\none\n2 $X\ntwo\n");
        var copy = Assert.IsType<CopyInstruction>(doc.Stages[0].Commands[0]);
        Assert.Equal([new SourceContent("one", "1 $X\n", true), new SourceContent("two", "2 $X\n", false)], copy.Files.SourceContents);
        Assert.Equal(["src"], copy.Files.SourcePaths);
        Assert.Equal("/dest/", copy.Files.Dest);
    }

    [Fact]
    public void TestErrorCasesHeredoc() =>
        Assert.Equal("COPY cannot accept a heredoc as a destination", Assert.Throws<DockerfileException>(() => DockerfileDocument.Parse("FROM a\nCOPY x <<EOF\nbody\nEOF\n")).Detail);

    [Fact]
    public void EnvAndArgForms()
    {
        var env = Assert.IsType<EnvInstruction>(One("ENV a b c"));
        Assert.Equal([new KeyValue("a", "b c", true)], env.Env);
        var arg = Assert.IsType<ArgInstruction>(One("ARG a b=2 c="));
        Assert.Equal([new ArgDefinition("a", null), new ArgDefinition("b", "2"), new ArgDefinition("c", "")], arg.Args);
    }

    [Fact]
    public void OnbuildExpressionIsTheTriggerText()
    {
        var ob = Assert.IsType<OnbuildInstruction>(One("onbuild   RUN echo hi"));
        Assert.Equal("RUN echo hi", ob.Expression);
        Assert.Equal("unknown instruction: RUNN (did you mean RUN?)", Fails("ONBUILD RUNN x").Detail);
    }

    [Theory]
    [InlineData("80", new[] { "80/tcp" })]
    [InlineData("80/udp", new[] { "80/udp" })]
    [InlineData("8000-8002", new[] { "8000/tcp", "8001/tcp", "8002/tcp" })]
    [InlineData("127.0.0.1:8080:80", new[] { "80/tcp" })]
    [InlineData("[::1]:8080:80/udp", new[] { "80/udp" })]
    public void TestParsePortSpecs(string spec, string[] expected) => Assert.Equal(expected, PortSpec.Parse(spec));

    [Theory]
    [InlineData("80/xyz")]
    [InlineData("abc")]
    [InlineData("90-80")]
    [InlineData("70000")]
    public void TestParsePortSpecs_Invalid(string spec) => Assert.Throws<DockerfileException>(() => PortSpec.Parse(spec));
}
