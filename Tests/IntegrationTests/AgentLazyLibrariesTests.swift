import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherRBD
import TetherTesting
import Testing

/// The built tetherd loads librados/librbd (CRBDLoader) and libvirt (CVirtLoader) on first use:
/// a node that uses neither does not carry their ~25 MB of RSS (issue #17), and the first RBD
/// attach loads them and works.
@Suite(.tags(.integration), .timeLimit(.minutes(2)))
struct AgentLazyLibrariesTests {
    static let lazy = ["librados.so", "librbd.so", "libceph-common.so", "libvirt.so"]

    /// The shared objects the process maps, by file name.
    static func mappedLibraries(_ pid: Int32) throws -> Set<String> {
        // Read to the end: /proc files say size 0, and a read sized by stat stops at a page.
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/maps"))
        defer { try? handle.close() }  // read-only; nothing to lose on close
        let maps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        return Set(maps.split(separator: "\n").compactMap { line in
            line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first.map { String($0.split(separator: "/").last ?? $0) }
        })
    }

    static func mapped(_ library: String, in libraries: Set<String>) -> Bool {
        libraries.contains { $0.hasPrefix(library) }
    }

    @Test func anIdleAgentMapsNoCephOrLibvirtLibrary() async throws {
        try await AgentProcess.with(tgtd: nil) { agent in
            let client = TetherAgentClient(socketPath: agent.socketPath)
            _ = try await client.send(.health)
            _ = try await client.send(.attachments)
            let libraries = try Self.mappedLibraries(agent.pid)
            // The check can see what it looks for: libc is always there.
            #expect(Self.mapped("libc.so", in: libraries), "\(libraries.sorted())")
            for library in Self.lazy {
                #expect(!Self.mapped(library, in: libraries), "\(library) is mapped at idle: \(libraries.sorted())")
            }
        }
    }
}

/// The first RBD attach loads librados/librbd through CRBDLoader, and works.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD)), .lab(.cephMon, .cephOSD), .timeLimit(.minutes(3)))
struct AgentLazyCephTests {
    @Test func theFirstRBDAttachLoadsCeph() async throws {
        typealias Maps = AgentLazyLibrariesTests
        try await CephLab.withOne { lab in
            try await TemporaryDirectory.with(prefix: "reg") { registry in
                try await lab.register(in: registry.path)
                let connection = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
                try await connection.createImage(pool: "rbd", image: "volume-1", size: 4 << 20)
                try await AgentProcess.with(tgtd: nil, extraConfig: Lab.cephConfig(registry: registry)) { agent in
                    let client = TetherAgentClient(socketPath: agent.socketPath)
                    #expect(!Maps.mapped("librbd.so", in: try Maps.mappedLibraries(agent.pid)), "a registered cluster alone loads nothing")
                    let info = AgentRBDTests.connectionInfo(lab, volume: "lazy-1", clusterName: lab.name)
                    let (disk, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: info))
                    #expect(disk.sizeBytes == 4 << 20)
                    let libraries = try Maps.mappedLibraries(agent.pid)
                    #expect(Maps.mapped("librbd.so", in: libraries) && Maps.mapped("librados.so", in: libraries), "\(libraries.sorted())")
                    _ = try await client.detach("lazy-1")
                }
            }
        }
    }
}
