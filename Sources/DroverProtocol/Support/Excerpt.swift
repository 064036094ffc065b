/// A client's text as an error message quotes it: whole when short, else its start and its size.
///
/// An answer that repeated a megabyte-long id or method name back cost the server that megabyte again
/// (the message, its JSON, the framed write, and the client's backlog while it reads), per request:
/// a client sending such requests could make the server hold many times what it sent.
public enum Excerpt {
    /// Characters quoted whole; longer text is cut here.
    public static let maxCharacters = 100

    /// `text` itself, or its first `maxCharacters` characters, "…" and how many bytes it has.
    public static func of(_ text: String) -> String {
        guard text.utf8.count > maxCharacters, text.count > maxCharacters else { return text }
        return String(text.prefix(maxCharacters)) + "… (\(text.utf8.count) bytes)"
    }
}
