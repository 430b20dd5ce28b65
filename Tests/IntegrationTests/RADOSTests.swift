import Foundation
import TetherCeph
import TetherCore
@testable import TetherRBD
import TetherTesting
import Testing

/// librados/librbd through Tether, against two real Ceph clusters at once: explicit monitors and
/// keys only, never a ceph.conf.
// Serialized: each test runs two Ceph clusters; more at once overload a 2-core machine.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD)), .lab(.cephMon, .cephOSD), .timeLimit(.minutes(3)), .serialized)
struct RADOSTests {
    @Test func twoClustersSamePoolAndImageNameStayApart() async throws {
        try await CephLab.withTwo { a, b in
            let connectionA = try await RADOSConnection.connect(clusterName: a.name, monitors: a.monitors, user: "cinder", key: a.cinderKey)
            let connectionB = try await RADOSConnection.connect(clusterName: b.name, monitors: "v1:\(b.monitorV1)", user: "cinder", key: b.cinderKey)
            #expect(connectionA.fsid == a.fsid)
            #expect(connectionB.fsid == b.fsid)

            try await connectionA.createImage(pool: "rbd", image: "volume-1", size: 8 << 20)
            try await connectionB.createImage(pool: "rbd", image: "volume-1", size: 16 << 20)
            let infoA = try await connectionA.inspect(pool: "rbd", image: "volume-1")
            let infoB = try await connectionB.inspect(pool: "rbd", image: "volume-1")
            #expect(infoA.sizeBytes == 8 << 20)
            #expect(infoB.sizeBytes == 16 << 20)
            #expect(infoA.featureNames.contains("layering"))
            #expect(infoA.lockOwners.isEmpty)

            // Another client takes the exclusive lock, as a running VM's librbd does.
            let other = try await RADOSConnection.connect(clusterName: a.name, monitors: a.monitors, user: "cinder", key: a.cinderKey)
            let lock = try await other.holdExclusiveLock(pool: "rbd", image: "volume-1")
            let lockedInfo = try await connectionA.inspect(pool: "rbd", image: "volume-1")
            #expect(lockedInfo.hasExclusiveLock)
            #expect(lockedInfo.lockOwners.count == 1, "\(lockedInfo)")
            #expect(!lockedInfo.watchers.isEmpty)
            await lock.release()
            #expect(try await connectionA.inspect(pool: "rbd", image: "volume-1").lockOwners.isEmpty)
        }
    }

    @Test func badInputFailsFastWithClearErrors() async throws {
        try await CephLab.withTwo { a, b in
            let started = ContinuousClock.now
            let wrongKey = await #expect(throws: TetherError.self) {
                try await RADOSConnection.connect(
                    clusterName: a.name, monitors: a.monitors, user: "cinder", key: b.cinderKey, timeouts: RADOSTimeouts(connect: .seconds(3)))
            }
            #expect(wrongKey?.code == .cephUnreachable)
            #expect(wrongKey?.message.contains("unreachable or wrong credentials") == true)
            #expect(ContinuousClock.now - started < .seconds(60))

            let unreachable = await #expect(throws: TetherError.self) {
                try await RADOSConnection.connect(
                    clusterName: "nowhere", monitors: "127.0.0.1:9", user: "cinder", key: a.cinderKey, timeouts: RADOSTimeouts(connect: .seconds(2)))
            }
            #expect(unreachable?.code == .cephUnreachable)

            let connection = try await RADOSConnection.connect(clusterName: a.name, monitors: a.monitors, user: "cinder", key: a.cinderKey)
            let noPool = await #expect(throws: TetherError.self) { try await connection.inspect(pool: "nope", image: "x") }
            #expect(noPool?.code == .notFound)
            let noImage = await #expect(throws: TetherError.self) { try await connection.inspect(pool: "rbd", image: "missing") }
            #expect(noImage?.code == .notFound)
            let secretless = "\(a.cinderKey)"
            #expect(secretless == "<redacted>")
        }
    }

    /// One connection's calls run at once: eight images are open on it at the same moment (a
    /// barrier inside the calls is reached only then), where one queue per connection ran them
    /// one after another.
    @Test func callsOnOneConnectionOverlap() async throws {
        try await CephLab.withOne { a in
            let connection = try await RADOSConnection.connect(clusterName: a.name, monitors: a.monitors, user: "cinder", key: a.cinderKey, parallelCalls: 8)
            for index in 0..<8 {
                try await connection.createImage(pool: "rbd", image: "par-\(index)", size: UInt64(index + 1) << 20)
            }
            let barrier = CallBarrier(parties: 8)
            let overlapped = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await connection.perform {
                            try connection.withImage(pool: "rbd", image: "par-\(index)", readOnly: false) { _ in barrier.arriveAndWait() }
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(overlapped == Array(repeating: true, count: 8), "the eight opens did not overlap")
            // And inspections at once answer each its own image.
            let sizes = try await withThrowingTaskGroup(of: UInt64.self) { group in
                for index in 0..<8 {
                    group.addTask { try await connection.inspect(pool: "rbd", image: "par-\(index)").sizeBytes }
                }
                return try await group.reduce(into: Set<UInt64>()) { $0.insert($1) }
            }
            #expect(sizes == Set((1...8).map { UInt64($0) << 20 }))
        }
    }

    /// First attaches that need a cluster at once share one connect; a removed cluster's
    /// connection is forgotten, and whoever still holds it may go on using it.
    @Test func connectionsAreSharedAndDropped() async throws {
        try await CephLab.withOne { lab in
            let user = try CephUser(name: "cinder", keyFile: lab.directory.file("cinder.key"))
            let cluster = try CephCluster(
                name: lab.name, fsid: try #require(UUID(uuidString: lab.fsid)), monitors: [try CephMonitor(v2: lab.monitorV2, v1: lab.monitorV1)], users: [user])
            let connections = RADOSConnections()
            let first = try await withThrowingTaskGroup(of: ObjectIdentifier.self) { group in
                for _ in 0..<8 {
                    group.addTask { ObjectIdentifier(try await connections.connection(cluster: cluster, user: user, key: lab.cinderKey)) }
                }
                return try await group.reduce(into: Set<ObjectIdentifier>()) { $0.insert($1) }
            }
            #expect(first.count == 1, "eight first calls made \(first.count) connections")
            let kept = try await connections.connection(cluster: cluster, user: user, key: lab.cinderKey)
            #expect(first == [ObjectIdentifier(kept)])
            #expect(await connections.openSlots == ["\(lab.name)|cinder"])

            await connections.close(cluster: lab.name)
            #expect(await connections.openSlots.isEmpty)
            try await kept.createImage(pool: "rbd", image: "after-drop", size: 1 << 20)
            #expect(try await kept.inspect(pool: "rbd", image: "after-drop").sizeBytes == 1 << 20)
            let fresh = try await connections.connection(cluster: cluster, user: user, key: lab.cinderKey)
            #expect(fresh !== kept)
        }
    }
}

/// Releases the threads that arrive once `parties` are inside at once; false after a minute
/// (a deadline against hanging only).
final class CallBarrier: @unchecked Sendable {
    // @unchecked: both vars are used only with `condition` locked.
    private let condition = NSCondition()
    private let parties: Int
    private var arrived = 0
    private var released = false

    init(parties: Int) {
        self.parties = parties
    }

    func arriveAndWait() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        if arrived >= parties {
            released = true
            condition.broadcast()
        }
        let deadline = Date(timeIntervalSinceNow: 60)
        while !released, condition.wait(until: deadline) {}
        return released
    }
}
