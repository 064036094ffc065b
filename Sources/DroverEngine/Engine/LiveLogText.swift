/// The text a `run/log` notification carries for one line of an agent's output.
///
/// A line may be up to 16 MiB (the log file keeps it whole, see `OutputLineSplitter`); sent as one
/// notification it would fill a prompt client's whole event backlog and make the server shed the
/// run's next events. Live lines are for watching, so a long one is cut at `limit` bytes with a
/// marker; `step/log` serves all of it.
enum LiveLogText {
    static let limit = 64 << 10
    static let marker = " … [cut: the whole line is in step/log]"

    static func forNotification(_ text: String) -> String {
        guard text.utf8.count > limit else { return text }
        // Cut where a UTF-8 sequence starts, at or below the limit, so no character is split.
        let bytes = Array(text.utf8.prefix(limit + 1))
        var cut = limit
        while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        return String(decoding: bytes[..<cut], as: UTF8.self) + marker
    }
}
