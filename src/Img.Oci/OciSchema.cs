using System.Text.Json;

namespace Img.Oci;

/// <summary>
/// The checks JSON decoding alone does not make: a document with a <c>null</c> where an object or a list entry
/// must be, which would otherwise surface later as a null reference far from the document. Each throws
/// <see cref="JsonException"/>, which the readers turn into one error naming the document.
/// </summary>
internal static class OciSchema
{
    public static void Require(object? value, string field)
    {
        if (value is null) throw new JsonException($"\"{field}\" must not be null");
    }

    public static void NoNulls<T>(IEnumerable<T?>? list, string field)
    {
        if (list is null) return;
        foreach (var item in list)
            if (item is null) throw new JsonException($"\"{field}\" holds a null entry");
    }

    public static void NoNullValues<TKey, TValue>(IEnumerable<KeyValuePair<TKey, TValue>>? map, string field)
    {
        if (map is null) return;
        foreach (var (key, value) in map)
            if (value is null) throw new JsonException($"\"{field}\" has a null value for {key}");
    }
}
