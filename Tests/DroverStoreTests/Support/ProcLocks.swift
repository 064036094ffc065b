import Foundation

/// The POSIX locks this process holds on the file with inode `inode`, as `/proc/locks` lists them.
///
/// Read to its end with `FileHandle`: `String(contentsOfFile:)` stops after 4095 bytes of a /proc file,
/// and on a busy machine the system-wide list is longer than that.
func posixLocksOfThisProcess(onInode inode: ino_t) -> [Substring] {
    let data = FileHandle(forReadingAtPath: "/proc/locks")?.readDataToEndOfFile() ?? Data()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        return fields.count > 5 && fields[1] == "POSIX" && fields[4] == "\(getpid())" && fields[5].hasSuffix(":\(inode)")
    }
}
