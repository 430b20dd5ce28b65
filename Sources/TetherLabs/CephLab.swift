import Foundation
import Synchronization
import TetherCeph
import TetherCore
import TetherFakes
import TetherLinux

/// A real Ceph cluster (one mon, one memstore OSD) for a test, started by scripts/ceph-lab.sh.
public final class CephLab: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let name: String
    public let fsid: String
    /// The monitor's msgr2 and msgr1 addresses.
    public let monitorV2: Portal
    public let monitorV1: Portal
    public let configPath: String
    /// client.cinder's cephx key (profile rbd on pool "rbd").
    public let cinderKey: Secret
    /// What runs the daemons and the admin tools in another network namespace (`NodePair.launcher`); none: here.
    public let launcher: [String]

    /// `mon_host` in Ceph's syntax, both protocols.
    public var monitors: String { "[v2:\(monitorV2),v1:\(monitorV1)]" }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/ceph-lab.sh").path
    }

    public static var isAvailable: Bool { Lab.has("ceph-mon") && Lab.has("ceph-osd") }

    /// Starts cluster `name` with its mon on `address` (an address that exists already; default
    /// 127.0.0.1) port `basePort` (v2) and `basePort`+1 (v1); in the network namespace `launcher`
    /// enters when given (a node of `NodePair`: then only that node, and those it reaches, see it).
    public init(name: String, basePort: Int, address: String? = nil, launcher: [String] = []) throws {
        directory = try TemporaryDirectory(prefix: "ceph")
        self.name = name
        self.launcher = launcher
        let command = launcher + ["/bin/bash", Self.script, "start", directory.path, name, "\(basePort)"]
        let result = try Lab.run(command[0], Array(command.dropFirst()), environment: address.map { ["CEPH_LAB_ADDR": $0] } ?? [:])
        guard result.status == 0 else {
            _ = try? Lab.run("/bin/bash", [Self.script, "stop", directory.path])
            throw TetherError(.internalError, "ceph-lab start \(name) failed: \(result.output.suffix(2000))")
        }
        let environment = try String(contentsOfFile: directory.file("cluster.env"), encoding: .utf8)
        var values: [String: String] = [:]
        for line in environment.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        fsid = values["FSID"] ?? ""
        configPath = values["CONF"] ?? ""
        monitorV2 = try Portal(parsing: values["MON_V2"] ?? "")
        monitorV1 = try Portal(parsing: values["MON_V1"] ?? "")
        cinderKey = Secret(try String(contentsOfFile: directory.file("cinder.key"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    public var cinderKeyringPath: String { directory.file("cinder.keyring") }

    /// Registers this cluster and one user's key (client.cinder's unless told) in the registry at
    /// `directory`, as an operator would (the key Cinder never sends), under `registeredName`
    /// when given (another node's name for the same cluster), else its own name.
    public func register(
        in directory: String, user userName: String = "cinder", key: Secret? = nil, secretUUID: UUID? = nil, as registeredName: String? = nil
    ) async throws {
        let clusterName = registeredName ?? name
        let user = try CephUser(name: userName, keyFile: CephRegistry.defaultKeyFile(cluster: clusterName, user: userName, directory: directory), secretUUID: secretUUID)
        let cluster = try CephCluster(
            name: clusterName, fsid: UUID(uuidString: fsid)!, monitors: [try CephMonitor(v2: monitorV2, v1: monitorV1)], users: [user])
        try await CephRegistry.write(cluster, keys: [userName: key ?? cinderKey], directory: directory, host: LinuxHost())
    }

    /// Runs the `ceph` (or `rbd`) CLI as client.admin; its exit code and output. Lab work only.
    public func admin(_ arguments: [String], tool: String = "ceph") throws -> (status: Int32, output: String) {
        let command = launcher + ["timeout", "30", Lab.find(tool) ?? tool, "--cluster", name, "-c", configPath, "-k", directory.file("admin.keyring")] + arguments
        return try Lab.run(command[0], Array(command.dropFirst()))
    }

    /// Creates client.`user` with `profile rbd` on pool rbd (as client.cinder) and answers its key;
    /// the key goes through a 0600 keyring file in the lab's directory, never argv.
    public func addUser(_ user: String) throws -> Secret {
        let keyring = directory.file("\(user).keyring")
        let result = try admin(["auth", "get-or-create", "client.\(user)", "mon", "profile rbd", "osd", "profile rbd pool=rbd", "-o", keyring])
        guard result.status == 0 else { throw TetherError(.internalError, "ceph auth get-or-create client.\(user) failed: \(result.output)") }
        let text = try String(contentsOfFile: keyring, encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.contains("key = ") }) else {
            throw TetherError(.internalError, "no key in \(keyring)")
        }
        return Secret(line.components(separatedBy: "key = ")[1].trimmingCharacters(in: .whitespaces))
    }

    public func stop() {
        _ = try? Lab.run("/bin/bash", [Self.script, "stop", directory.path])
        directory.remove()
    }

    private static let portCounter = Mutex(Int.random(in: 0..<20))

    /// A base port no other cluster of this process uses: clusters of parallel tests share the
    /// test's network namespace, and a cluster that reaches another's monitor fails with EACCES.
    /// 20000-43999; tgtd's ports (Lab.randomPort) lie above.
    public static func nextBasePort() -> Int {
        let slot = portCounter.withLock { counter in
            defer { counter += 1 }
            return counter % 60
        }
        return 20000 + slot * 400
    }

    /// Starts one cluster, runs `body`, stops it on success and on error.
    public static func withOne<Value>(name: String = "ceph-a", _ body: (CephLab) async throws -> Value) async throws -> Value {
        let base = nextBasePort()
        let lab = try await Lab.offPool { try CephLab(name: name, basePort: base) }
        do {
            let value = try await body(lab)
            // stop() itself never throws; offPool only moves it off the cooperative pool.
            _ = try? await Lab.offPool { lab.stop() }
            return value
        } catch {
            _ = try? await Lab.offPool { lab.stop() }
            throw error
        }
    }

    /// Starts two clusters at once (about 5 s), runs `body`, stops both on success and on error.
    /// - Parameter address: where both listen (default 127.0.0.1), e.g. a veth's address that
    ///   other network namespaces reach.
    public static func withTwo<Value>(address: String? = nil, _ body: (CephLab, CephLab) async throws -> Value) async throws -> Value {
        let base = nextBasePort()
        async let first = Lab.offPool { try CephLab(name: "ceph-a", basePort: base, address: address) }
        async let second = Lab.offPool { try CephLab(name: "ceph-b", basePort: base + 200, address: address) }
        let a: CephLab, b: CephLab
        do {
            a = try await first
        } catch {
            (try? await second)?.stop()
            throw error
        }
        do {
            b = try await second
        } catch {
            a.stop()
            throw error
        }
        do {
            let value = try await body(a, b)
            _ = try? await Lab.offPool { a.stop(); b.stop() }
            return value
        } catch {
            _ = try? await Lab.offPool { a.stop(); b.stop() }
            throw error
        }
    }
}
