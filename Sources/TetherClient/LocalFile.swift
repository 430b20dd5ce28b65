import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// The CLI's own files: JSON it reads as input, and connection_info it writes out.
///
/// Problems here are the user's input, so they throw `.invalidInput` naming the file, before
/// anything is sent to the agent.
public enum LocalFile {
    /// The name `-` stands for standard input.
    public static let standardInput = "-"

    /// The JSON value in file `path`, or on standard input for `-`.
    /// - Throws: `TetherError` with code `.invalidInput`: `<file>: <what is wrong>`.
    public static func readJSON(_ path: String, hint: String? = nil) throws -> JSONValue {
        let data = try read(path, hint: hint)
        let name = displayName(path)
        guard !data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else {
            throw TetherError.invalidInput("\(name): empty, expected a JSON object", hint: hint)
        }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw TetherError.invalidInput("\(name): not valid JSON (\(syntaxError(in: data)))", hint: hint)
        }
    }

    /// The bytes of file `path`, or of standard input for `-`.
    public static func read(_ path: String, hint: String? = nil) throws -> Data {
        if path == standardInput {
            return FileHandle.standardInput.readDataToEndOfFile()
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TetherError.invalidInput("\(path): cannot open: \(String(cString: strerror(errno)))", hint: hint)
        }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                throw TetherError.invalidInput("\(path): cannot read: \(String(cString: strerror(errno)))", hint: hint)
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[..<count])
        }
    }

    /// Checks that `writeSecret(_:to:)` can create `path`, so a call to the agent is not wasted.
    /// - Throws: `TetherError` with code `.invalidInput`.
    public static func checkWritable(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw TetherError.invalidInput("\(path): is a directory", hint: "name a file to write")
        }
        let directory = directoryName(path)
        guard access(directory, W_OK | X_OK) == 0 else {
            throw TetherError.invalidInput("\(path): cannot write in \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `data` to `path` readable by its owner only (0600), replacing any file atomically.
    ///
    /// The data goes to a new file created 0600 beside `path`, which is then renamed over it, so
    /// the secret is never in a file others can read, and readers never see half a file.
    /// - Throws: `TetherError` with code `.invalidInput` naming the file.
    public static func writeSecret(_ data: Data, to path: String) throws {
        let directory = directoryName(path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let temporary = "\(directory)/.\(base).\(UInt32.random(in: 0...UInt32.max))"
        func failure(_ what: String, _ error: Int32) -> TetherError {
            TetherError.invalidInput("\(path): cannot \(what): \(String(cString: strerror(error)))")
        }

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw failure("create", errno) }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do {
            // The umask only narrows the mode; fchmod makes it exactly 0600.
            guard fchmod(fd, 0o600) == 0 else { throw failure("set mode 0600", errno) }
            var offset = 0
            while offset < data.count {
                let written = data[(data.startIndex + offset)...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { throw failure("write", errno) }
                offset += written
            }
            guard fsync(fd) == 0 else { throw failure("sync", errno) }
            closed = true
            guard close(fd) == 0 else { throw failure("write", errno) }
            guard rename(temporary, path) == 0 else { throw failure("replace", errno) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// How messages name file `path`.
    public static func displayName(_ path: String) -> String {
        path == standardInput ? "<stdin>" : path
    }

    private static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Where and why `data` is not JSON, in a few words.
    private static func syntaxError(in data: Data) -> String {
        // JSONDecoder only says the data is not JSON; JSONSerialization says where.
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
        } catch {
            if var detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String, !detail.isEmpty {
                if detail.hasSuffix(".") { detail.removeLast() }
                return detail.prefix(1).lowercased() + detail.dropFirst()
            }
        }
        return "syntax error"
    }
}
