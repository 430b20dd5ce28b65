import Foundation
import TetherCore
import TetherRBD
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
}
