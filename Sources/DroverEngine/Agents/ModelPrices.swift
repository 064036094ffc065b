import Foundation

/// Drover's built-in price list: US dollars per million tokens for the models its drivers run, at the
/// providers' published list prices (standard tier, 5-minute cache writes) on `asOf`. Config `prices`
/// overrides any of them and adds others.
public enum ModelPrices {
    /// The day the prices below were read from anthropic.com / platform.claude.com and
    /// developers.openai.com pricing pages.
    public static let asOf = "2026-11-29"

    /// By model id without a date suffix (see `key(for:)`).
    public static let table: [String: TokenPrices] = {
        var table: [String: TokenPrices] = [:]
        func anthropic(_ ids: [String], input: Double, output: Double, cacheRead: Double, cacheWrite: Double) {
            for id in ids {
                table[id] = TokenPrices(inputPerMTok: input, outputPerMTok: output, cacheReadPerMTok: cacheRead, cacheWritePerMTok: cacheWrite)
            }
        }
        // OpenAI bills no cache write: it is input written as usual.
        func openAI(_ ids: [String], input: Double, cachedInput: Double, output: Double) {
            for id in ids {
                table[id] = TokenPrices(inputPerMTok: input, outputPerMTok: output, cacheReadPerMTok: cachedInput, cacheWritePerMTok: input)
            }
        }
        anthropic(["claude-opus-4", "claude-opus-4-0", "claude-opus-4-1"], input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75)
        anthropic(["claude-opus-4-5", "claude-opus-4-6", "claude-opus-4-7", "claude-opus-4-8", "claude-opus-5"],
                  input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25)
        anthropic(["claude-opus-5-5"], input: 4, output: 20, cacheRead: 0.2, cacheWrite: 5)
        anthropic(["claude-sonnet-4", "claude-sonnet-4-0", "claude-sonnet-4-5", "claude-sonnet-4-6"],
                  input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75)
        anthropic(["claude-sonnet-5"], input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5)
        anthropic(["claude-sonnet-5-5"], input: 2, output: 10, cacheRead: 0.1, cacheWrite: 2.5)
        anthropic(["claude-haiku-4-5"], input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25)
        anthropic(["claude-3-5-haiku"], input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1)
        openAI(["gpt-5", "gpt-5-codex", "gpt-5.1", "gpt-5.1-codex", "gpt-5.1-codex-max"], input: 1.25, cachedInput: 0.125, output: 10)
        openAI(["gpt-5-mini", "gpt-5.1-codex-mini"], input: 0.25, cachedInput: 0.025, output: 2)
        table["codex-mini-latest"] = TokenPrices(inputPerMTok: 1.5, outputPerMTok: 6, cacheReadPerMTok: 0.375, cacheWritePerMTok: 1.5)
        openAI(["gpt-5-nano"], input: 0.05, cachedInput: 0.005, output: 0.4)
        openAI(["gpt-5.2", "gpt-5.2-codex", "gpt-5.3-codex"], input: 1.75, cachedInput: 0.175, output: 14)
        openAI(["gpt-5.4"], input: 2.5, cachedInput: 0.25, output: 15)
        openAI(["gpt-5.4-mini"], input: 0.75, cachedInput: 0.075, output: 4.5)
        return table
    }()

    /// How a model id is looked up, in the table and in config `prices`: lower-cased, without a provider
    /// prefix (`anthropic/…`), a context-size tag (`[1m]`) or a date (`-20250929`, `-2025-08-07`).
    /// Only exact ids match after that: a model Drover does not know is never priced as a neighbour.
    ///
    /// Every usage report is priced, so this is on the path of each `usage.recorded`: plain string work, no
    /// regular expressions (compiling two per report was a fifth of the engine's time in a burst of usage).
    public static func key(for model: String) -> String {
        var id = model.lowercased()
        if id.first?.isWhitespace == true || id.last?.isWhitespace == true { id = id.trimmingCharacters(in: .whitespaces) }
        if let slash = id.lastIndex(of: "/") { id = String(id[id.index(after: slash)...]) }
        if id.hasSuffix("]"), let open = id.lastIndex(of: "[") { id = String(id[..<open]) }
        id = String(decoding: withoutDate(Array(id.utf8)), as: UTF8.self)
        return id
    }

    /// `id` without a trailing `-YYYYMMDD`, then without a trailing `-YYYY-MM-DD` (ASCII digits).
    private static func withoutDate(_ id: [UInt8]) -> ArraySlice<UInt8> {
        func matches(_ bytes: ArraySlice<UInt8>, _ shape: String) -> Bool {
            bytes.count >= shape.utf8.count && zip(bytes.suffix(shape.utf8.count), shape.utf8).allSatisfy { byte, expected in
                expected == UInt8(ascii: "d") ? (0x30...0x39).contains(byte) : byte == expected
            }
        }
        var id = id[...]
        for shape in ["-dddddddd", "-dddd-dd-dd"] where matches(id, shape) {
            id = id.dropLast(shape.utf8.count)
        }
        return id
    }

    /// The built-in prices of `model`, if it is in the table.
    public static func prices(for model: String) -> TokenPrices? {
        table[key(for: model)]
    }
}
