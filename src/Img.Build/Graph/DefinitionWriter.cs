using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Img.Oci;

namespace Img.Build.Graph;

/// <summary>
/// The canonical byte form of an op's definition, hashed into its digest. Every field is written as its name, a type
/// tag and a length-prefixed value, so two definitions share a digest only when every field is equal — no separator
/// inside a value can make "ab","c" read as "a","bc", and a missing value (null) differs from an empty one.
/// </summary>
public sealed class DefinitionWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public DefinitionWriter Field(string name, string? value)
    {
        Name(name);
        if (value is null)
        {
            Tag('n');
            return this;
        }
        Tag('s');
        Text(value);
        return this;
    }

    public DefinitionWriter Field(string name, long? value)
    {
        Name(name);
        if (value is null)
        {
            Tag('n');
            return this;
        }
        Tag('i');
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value.Value);
        _buffer.Advance(8);
        return this;
    }

    public DefinitionWriter Field(string name, bool value)
    {
        Name(name);
        Tag(value ? 't' : 'f');
        return this;
    }

    public DefinitionWriter Field(string name, Digest value) => Field(name, value.ToString());

    public DefinitionWriter Field(string name, IReadOnlyList<string> values)
    {
        Name(name);
        Tag('l');
        Length(values.Count);
        foreach (var value in values)
            Text(value);
        return this;
    }

    public DefinitionWriter Field(string name, ReadOnlySpan<byte> value)
    {
        Name(name);
        Tag('b');
        Length(value.Length);
        _buffer.Write(value);
        return this;
    }

    /// <summary>The sha256 of everything written.</summary>
    public Digest Finish() => Digest.Compute(_buffer.WrittenSpan);

    private void Name(string name) => Text(name);

    private void Tag(char tag)
    {
        _buffer.GetSpan(1)[0] = (byte)tag;
        _buffer.Advance(1);
    }

    private void Text(string value)
    {
        var bytes = Encoding.UTF8.GetByteCount(value);
        Length(bytes);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(bytes));
        _buffer.Advance(bytes);
    }

    private void Length(int length)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(4), length);
        _buffer.Advance(4);
    }
}
