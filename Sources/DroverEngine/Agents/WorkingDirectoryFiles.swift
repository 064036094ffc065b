import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files an agent asks its client to read or write (ACP's `fs/read_text_file` and `fs/write_text_file`),
/// served inside the run's working directory only: a path that is relative, leads outside through `..`,
/// or reaches outside through a symbolic link is refused with the reason.
struct WorkingDirectoryFiles {
    /// Larger files are refused rather than sent whole to the agent.
    static let readLimit = 10 << 20

    /// The working directory, symbolic links resolved.
    let root: String

    init(root: String) {
        self.root = Self.realPath(root) ?? root
    }

    /// The text of `path`, from 1-based `line`, at most `limit` lines.
    func read(_ path: String, line: Int? = nil, limit: Int? = nil) throws(FileRefusal) -> String {
        let resolved = try inside(path)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: resolved),
              let size = attributes[.size] as? Int else { throw FileRefusal("\(path) does not exist") }
        guard size <= Self.readLimit else { throw FileRefusal("\(path) is larger than \(Self.readLimit >> 20) MiB") }
        guard let text = try? String(contentsOfFile: resolved, encoding: .utf8) else {
            throw FileRefusal("\(path) cannot be read as UTF-8 text")
        }
        guard line != nil || limit != nil else { return text }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = min(max((line ?? 1) - 1, 0), lines.count)
        let end = limit.map { min(start + max($0, 0), lines.count) } ?? lines.count
        return lines[start..<end].joined(separator: "\n")
    }

    /// Writes `content` to `path`, creating its folders.
    func write(_ path: String, content: String) throws(FileRefusal) {
        let resolved = try inside(path)
        do {
            try FileManager.default.createDirectory(atPath: (resolved as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: resolved))
        } catch {
            throw FileRefusal("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// `path` with its symbolic links resolved, when that lies inside the working directory.
    func inside(_ path: String) throws(FileRefusal) -> String {
        guard path.hasPrefix("/") else { throw FileRefusal("\(path) is not an absolute path") }
        // The deepest folder that exists, resolved; what does not exist yet cannot be a link.
        var existing = URL(fileURLWithPath: path).standardizedFileURL.path
        var rest: [String] = []
        while Self.realPath(existing) == nil && existing != "/" {
            rest.insert((existing as NSString).lastPathComponent, at: 0)
            existing = (existing as NSString).deletingLastPathComponent
        }
        var resolved = Self.realPath(existing) ?? existing
        for part in rest { resolved = (resolved as NSString).appendingPathComponent(part) }
        guard resolved == root || resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw FileRefusal("\(path) is outside the working directory")
        }
        return resolved
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Why a file request was refused, in words for the agent and the log.
struct FileRefusal: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
