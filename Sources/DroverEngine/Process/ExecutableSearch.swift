import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds a program by name on a PATH, as a shell would: the launcher resolves agents with it, and the
/// first-run agent choice and `drover doctor` ask it what is installed.
public enum ExecutableSearch {
    /// The PATH used when the environment has none.
    public static let defaultPath = "/usr/local/bin:/usr/bin:/bin"

    /// The first executable file `name` in the folders of `searchPath` (relative folders taken from
    /// `workingDirectory`); nil when there is none.
    public static func find(_ name: String, searchPath: String?, workingDirectory: String = "/") -> String? {
        for directory in (searchPath ?? defaultPath).split(separator: ":", omittingEmptySubsequences: true) {
            let base = directory.hasPrefix("/") ? String(directory)
                : (workingDirectory as NSString).appendingPathComponent(String(directory))
            let candidate = (base as NSString).appendingPathComponent(name)
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// Whether `path` is a file (not a folder) this process may execute.
    public static func isExecutableFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && access(path, X_OK) == 0
    }
}
