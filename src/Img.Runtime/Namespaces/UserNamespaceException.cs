namespace Img.Runtime.Namespaces;

/// <summary>The machine cannot give this user a user namespace; the message says what to install or enable.</summary>
public sealed class UserNamespaceException(string message) : Exception(message);
