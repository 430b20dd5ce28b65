import Foundation
import TetherCore
import TetherFakes
import TetherLinux

/// Facts about the machine that decide which integration tests can run.
public enum Lab {
    /// Whether `program` is on PATH or in the usual sbin directories.
    public static func has(_ program: String) -> Bool {
        find(program) != nil
    }

    /// `TETHER_LAB_HIDE` (comma-separated program names) hides peers, to prove that a missing
    /// peer fails a run under CI=true.
    public static func find(_ program: String) -> String? {
        let hidden = (ProcessInfo.processInfo.environment["TETHER_LAB_HIDE"] ?? "").split(separator: ",").map(String.init)
        guard !hidden.contains((program as NSString).lastPathComponent) else { return nil }
        if program.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return directories.map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A port in a range other services rarely use, above the Ceph lab's (CephLab); tests also
    /// run in their own network namespace.
    public static func randomPort() -> Int {
        Int.random(in: 45000...60000)
    }

    /// Runs a program to completion and returns its exit code and output. For lab set-up only:
    /// nothing secret may go in `arguments`.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: a daemon the program leaves running
    /// (ceph-lab.sh starts ceph-mon and ceph-osd) inherits the spawner's descriptors, and Process's
    /// exit and EOF detection would then wait for the daemon instead of the program.
    @discardableResult
    public static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> (status: Int32, output: String) {
        let exit = try ChildProcess.run(find(program) ?? program, arguments, environment: environment, stdin: stdin.map { Array($0.utf8) })
        return (exit.status, exit.stdout + exit.stderr)
    }

    /// Runs blocking lab work (starting Ceph or Cinder takes seconds in waitpid) on a thread of its
    /// own: on Swift's cooperative pool, which has one thread per core, it would starve every other
    /// test of the process meanwhile, and their timings with them.
    public static func offPool<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// The `[ceph]` table of a tether.toml for a test registry at `directory`.
    public static func cephConfig(registry directory: TemporaryDirectory, cephDirectory: String? = nil) -> String {
        "[ceph]\nregistry_dir = \"\(directory.path)\"\nceph_dir = \"\(cephDirectory ?? directory.file("ceph"))\"\nconnect_timeout = 5"
    }

    /// Whether something accepts TCP connections on host:port.
    public static func isListening(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
