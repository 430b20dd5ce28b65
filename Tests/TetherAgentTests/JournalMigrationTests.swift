import Foundation
import GRDB
@testable import TetherAgent
import TetherCore
import TetherLinux
import TetherFakes
import Testing

/// A journal as tetherd 0.1.0 (before typed handles, main at d331dbd) wrote it: schema v1 and
/// v2-cinder, results with an untyped `details` object, states and modes as text. Opening it must
/// migrate it and read every row, typed.
@Suite struct JournalMigrationTests {
    static let kernelISCSI = """
        {"blockSize":512,"details":{"by_tether":"/dev/disk/by-tether/vol-1","devices":["sdb","sdc"],\
        "multipath":{"device":"dm-0","name":"36001405abc","uuid":"mpath-36001405abc"},"scsi_addresses":["2:0:0:1","3:0:0:1"],\
        "scsi_wwn":"36001405abc","sessions":[1,2],"stable_name":"/dev/disk/by-tether/vol-1","volume_id":"vol-1"},\
        "devicePath":"/dev/dm-0","diskXML":"<disk type='block' device='disk'>\\n  <target dev='vdb' bus='virtio'/>\\n</disk>\\n","mode":"kernel",\
        "paths":[{"lun":1,"portal":"192.0.2.1:3260","state":"active","target":"iqn.2026-11.io.tether:vol-1"},\
        {"lun":1,"portal":"192.0.2.2:3260","state":"active","target":"iqn.2026-11.io.tether:vol-1"}],"protocolName":"iscsi",\
        "qemuBlockdev":{"driver":"raw"},"qemuObjects":[],"secretFiles":[],"sizeBytes":1073741824,"wwid":"naa.6001405abc"}
        """
    static let kernelRBD = """
        {"blockSize":512,"details":{"by_tether":"/dev/disk/by-tether/vol-2","client_addr":"10.0.3.5:0/1","client_id":"client.4170",\
        "cluster":"ceph-a","device":"/dev/rbd0","device_id":0,"fsid":"1b4ad3c6-0c39-4d52-9b6c-45d3f4e0a111","image":"volume-2",\
        "namespace":"","pool":"volumes","read_only":false,"resolved_by":"clusterName","snapshot":"-",\
        "stable_name":"/dev/rbd/ceph-a/volumes/volume-2","user":"cinder","volume_id":"vol-2"},"devicePath":"/dev/rbd0",\
        "diskXML":"<disk type='block' device='disk'>\\n  <target dev='vdc' bus='virtio'/>\\n</disk>\\n","mode":"kernel",\
        "paths":[{"portal":"10.0.3.1:6789","state":"mapped","target":"ceph-a:volumes/volume-2"}],"protocolName":"rbd",\
        "qemuBlockdev":{"driver":"raw"},"qemuObjects":[],"secretFiles":[],"sizeBytes":67108864}
        """
    static let networkRBD = """
        {"details":{"cluster":"ceph-b","features":["layering","exclusive-lock"],"fsid":"2c5be4d7-1d4a-4e63-8c7d-56e4f5f1b222",\
        "lock_owners":[],"resolved_by":"fsid","user":"cinder","watchers":[]},"diskXML":"<disk type='network' device='disk'/>",\
        "mode":"network","paths":[{"portal":"10.0.3.1:6789","state":"ok","target":"ceph-b:volumes/volume-3"}],"protocolName":"rbd",\
        "qemuBlockdev":{"driver":"raw"},"qemuObjects":[],"secretFiles":["/var/lib/tether/secrets/a3.cephx"],"sizeBytes":67108864}
        """

    /// Writes the old journal with the old schema (the v1 and v2-cinder migrations, unchanged since).
    static func writeOldJournal(_ directory: String) throws {
        let pool = try DatabasePool(path: "\(directory)/journal.sqlite")
        try Journal.migrator.migrate(pool, upTo: "v2-cinder")
        try pool.write { db in
            let insert = """
                INSERT INTO attachment (id, volumeID, targetKey, protocolName, mode, state, connectionInfo, result, createdAt, updatedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, '2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z')
                """
            try db.execute(sql: insert, arguments: [
                "a1", "vol-1", "iscsi:iqn.2026-11.io.tether:vol-1:1", "iscsi", "kernel", "attached",
                #"{"driver_volume_type":"iscsi","data":{"target_iqn":"iqn.2026-11.io.tether:vol-1","target_lun":1,"target_portal":"192.0.2.1:3260","auth_password":"<redacted>"}}"#,
                kernelISCSI,
            ])
            try db.execute(sql: insert, arguments: [
                "a2", "vol-2", "rbd:ceph-a:volumes/volume-2", "rbd", "kernel", "attached",
                #"{"driver_volume_type":"rbd","data":{"name":"volumes/volume-2","cluster_name":"ceph-a"}}"#, kernelRBD,
            ])
            try db.execute(sql: insert, arguments: [
                "a3", "vol-3", "rbd:ceph-b:volumes/volume-3", "rbd", "network", "attached",
                #"{"driver_volume_type":"rbd","data":{"name":"volumes/volume-3","cluster_name":"ceph-b"}}"#, networkRBD,
            ])
            try db.execute(sql: insert, arguments: [
                "a4", "vol-4", "iscsi:iqn.2026-11.io.tether:vol-4:0", "iscsi", "kernel", "attaching",
                #"{"driver_volume_type":"iscsi","data":{"target_iqn":"iqn.2026-11.io.tether:vol-4","target_lun":0,"target_portal":"192.0.2.1:3260"}}"#,
                nil,
            ])
            try db.execute(sql: "INSERT INTO intent (id, kind, volumeID, attachmentID, createdAt) VALUES ('a4', 'attach', 'vol-4', 'a4', '2026-12-01T10:00:00Z')")
            try db.execute(
                sql: """
                    INSERT INTO cinderAttachment (volumeID, flow, microversion, state, cinderAttachmentID, localAttachmentID, mode, readOnly,
                        connector, pendingError, createdAt, updatedAt)
                    VALUES ('vol-2', 'attachments', '3.44', 'attached', 'c-1', 'a2', 'kernel', 0, '{}', NULL, '2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z')
                    """)
        }
    }

    @Test func anOldJournalOpensMigratedAndTyped() async throws {
        let directory = try TemporaryDirectory(prefix: "journal-migration")
        defer { directory.remove() }
        try Self.writeOldJournal(directory.path)
        let journal = try await Journal.open(directory: directory.path, host: LinuxHost())
        let records = try await journal.attachments()
        #expect(records.map(\.id) == ["a1", "a2", "a3", "a4"])
        #expect(records.allSatisfy { $0.health == .unknown && $0.problems.isEmpty && $0.lastError == nil })

        let iscsi = try #require(records[0].result?.handle.kernelISCSI)
        #expect(records[0].mode == .kernel && records[0].state == .attached)
        #expect(iscsi.volumeID == "vol-1")
        #expect(iscsi.sessions.map(\.portal) == ["192.0.2.1:3260", "192.0.2.2:3260"])
        #expect(iscsi.sessions.map(\.sid) == [1, 2])
        #expect(iscsi.sessions.map(\.device) == ["sdb", "sdc"])
        #expect(iscsi.sessions.map(\.scsiAddress) == ["2:0:0:1", "3:0:0:1"])
        #expect(iscsi.multipath == KernelISCSIHandle.Map(name: "36001405abc", device: "dm-0", uuid: "mpath-36001405abc"))
        #expect(iscsi.byTether == "/dev/disk/by-tether/vol-1")

        let krbd = try #require(records[1].result?.handle.kernelRBD)
        #expect(krbd.fsid == "1b4ad3c6-0c39-4d52-9b6c-45d3f4e0a111" && krbd.pool == "volumes" && krbd.image == "volume-2")
        #expect(krbd.deviceID == 0 && krbd.stableName == "/dev/rbd/ceph-a/volumes/volume-2")

        let network = try #require(records[2].result?.handle.networkRBD)
        #expect(network.cluster == "ceph-b" && network.features == ["layering", "exclusive-lock"])
        #expect(records[2].result?.secretFiles == ["/var/lib/tether/secrets/a3.cephx"])

        #expect(records[3].state == .attaching && records[3].result == nil)
        #expect(records[3].connectionInfo.driverVolumeType == "iscsi")
        #expect(try await journal.intents().map(\.kind) == [.attach])

        let cinder = try #require(try await journal.cinderAttachment(volume: "vol-2"))
        #expect(cinder.flow == .attachments && cinder.state == .attached && cinder.mode == .kernel)

        // Written back typed, read again the same.
        try await journal.recordInspection(id: "a1", Inspection(health: .degraded, problems: ["path 192.0.2.2:3260 lost"], volume: try #require(records[0].result)))
        let again = try #require(try await journal.attachment(id: "a1"))
        #expect(again.health == .degraded && again.problems == ["path 192.0.2.2:3260 lost"])
        #expect(again.result == records[0].result)
        let stored = try await journal.writer.read { try String.fetchOne($0, sql: "SELECT result FROM attachment WHERE id = 'a1'") }
        #expect(stored?.contains(#""kind":"kernel_iscsi""#) == true)
        #expect(stored?.contains(#""details""#) == false)
    }
}
