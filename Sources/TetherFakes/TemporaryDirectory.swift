import Foundation

/// A private directory under /tmp with a short path (unix socket paths must stay under 108 bytes),
/// removed when the test ends.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "tt") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        path = String(cString: made)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Runs `body` with a fresh directory and removes it afterwards, on success and on error.
    public static func with<Value>(prefix: String = "tt", _ body: (TemporaryDirectory) async throws -> Value) async throws -> Value {
        let directory = try TemporaryDirectory(prefix: prefix)
        do {
            let value = try await body(directory)
            directory.remove()
            return value
        } catch {
            directory.remove()
            throw error
        }
    }
}
