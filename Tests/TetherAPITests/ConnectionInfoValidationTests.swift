import Foundation
import TetherAPI
import TetherCore
import Testing

/// connection_info as real Cinder drivers send it passes; hostile values are refused with the
/// field's JSON path; `encrypted` is refused in every shape.
@Suite struct ConnectionInfoValidationTests {
    static func info(_ json: String) throws -> ConnectionInfo {
        try JSONDecoder().decode(ConnectionInfo.self, from: Data(json.utf8))
    }

    /// Shapes of real drivers' initialize_connection: LVM/tgt (single portal, CHAP, no LUN list),
    /// a multipath array (lists), string LUNs and ports, the flat attachments-API shape, the
    /// wrapped one, RBD with string ports and IPv6 monitors, and a single portal without
    /// target_lun, which os-brick reads as LUN 0.
    static let cinderShapes: [String] = [
        #"{"driver_volume_type": "iscsi", "data": {"target_discovered": false, "target_portal": "192.0.2.10:3260", "target_iqn": "iqn.2010-10.org.openstack:volume-0b6a3c2e", "target_lun": 1, "volume_id": "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c", "auth_method": "CHAP", "auth_username": "zUv8wq5TFKn4mA7bLh2X", "auth_password": "q9Xv2LmN7pR4sT6w", "encrypted": false, "qos_specs": null, "access_mode": "rw", "cacheable": false}}"#,
        #"{"driver_volume_type": "iscsi", "data": {"target_portals": ["192.0.2.10:3260", "198.51.100.10:3260"], "target_iqns": ["iqn.2010-06.com.purestorage:flasharray.1", "iqn.2010-06.com.purestorage:flasharray.1"], "target_luns": [3, 3], "target_portal": "192.0.2.10:3260", "target_iqn": "iqn.2010-06.com.purestorage:flasharray.1", "target_lun": 3, "discard": true, "volume_id": "vol-2", "wwn": "3624a9370"}}"#,
        #"{"driver_volume_type": "iscsi", "data": {"target_portal": "[2001:db8::10]:3260", "target_iqn": "iqn.1992-08.com.netapp:sn.4f2c:vs.3", "target_lun": "0", "volume_id": "vol-3", "auth_method": "", "encrypted": "False"}}"#,
        #"{"driver_volume_type": "iscsi", "target_portal": "192.0.2.10:3260", "target_iqn": "iqn.2002-03.com.compellent:5000d31000fcbe43", "target_lun": 2, "volume_id": "vol-4"}"#,
        #"{"connection_info": {"driver_volume_type": "iscsi", "data": {"target_portal": "storage.example.org:3260", "target_iqn": "iqn.2000-05.com.3pardata:20210002ac00383d", "target_lun": 12, "volume_id": "vol-5"}}}"#,
        #"{"driver_volume_type": "iscsi", "data": {"target_portal": "192.0.2.10:3260", "target_iqn": "iqn.2004-04.com.qnap:ts-1:iscsi.vol6", "volume_id": "vol-6"}}"#,
        #"{"driver_volume_type": "rbd", "data": {"name": "volumes/volume-0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c", "hosts": ["192.0.2.21", "2001:db8::22"], "ports": ["6789", "6789"], "cluster_name": "ceph", "auth_enabled": true, "auth_username": "cinder", "secret_type": "ceph", "secret_uuid": "457eb676-33da-42ec-9a8c-9293d545c337", "volume_id": "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c", "discard": true, "keyring": null, "qos_specs": null, "access_mode": "rw", "encrypted": false}}"#,
    ]

    @Test(arguments: cinderShapes)
    func realCinderShapesPass(json: String) throws {
        let info = try Self.info(json)
        try info.validate()
        if info.driverVolumeType == "iscsi" { _ = try ISCSIConnectionData(info) } else { _ = try RBDConnectionData(info) }
    }

    @Test func singlePortalWithoutTargetLUNIsLUNZero() throws {
        let info = try Self.info(Self.cinderShapes[5])
        #expect(try ISCSIConnectionData(info).paths.map(\.lun) == [0])
    }

    @Test(arguments: [
        (#"{"encrypted": true}"#, "connection_info.data.encrypted"), (#"{"encrypted": "true"}"#, "connection_info.data.encrypted"),
        (#"{"encrypted": "True"}"#, "connection_info.data.encrypted"), (#"{"encrypted": 1}"#, "connection_info.data.encrypted"),
    ])
    func encryptedIsUnsupportedNested(extra: String, field: String) throws {
        var info = try Self.info(Self.cinderShapes[0])
        let flag = try JSONDecoder().decode([String: JSONValue].self, from: Data(extra.utf8))["encrypted"]!
        info.data["encrypted"] = flag
        let error = #expect(throws: TetherError.self) { try info.validate() }
        #expect(error?.code == .unsupported)
        #expect(error?.message.hasPrefix(field) == true)
        #expect(error?.message.contains("ciphertext") == true)
    }

    @Test func encryptedIsUnsupportedFlatAndBesideData() throws {
        var flat = try Self.info(Self.cinderShapes[3])
        flat.data["encrypted"] = true
        #expect(#expect(throws: TetherError.self) { try flat.validate() }?.code == .unsupported)
        var beside = try Self.info(Self.cinderShapes[6])
        beside.extra["encrypted"] = "true"
        let error = #expect(throws: TetherError.self) { try beside.validate() }
        #expect(error?.code == .unsupported)
        #expect(error?.message.hasPrefix("connection_info.encrypted") == true)
        // Refused before anything else: an encrypted volume with junk is still `unsupported`.
        var junk = try Self.info(Self.cinderShapes[0])
        junk.data["encrypted"] = true
        junk.data["target_lun"] = -1
        #expect(#expect(throws: TetherError.self) { try junk.validate() }?.code == .unsupported)
        var unclear = try Self.info(Self.cinderShapes[0])
        unclear.data["encrypted"] = "perhaps"
        #expect(#expect(throws: TetherError.self) { try unclear.validate() }?.code == .invalidInput)
    }

    @Test(arguments: [
        ("target_iqn", JSONValue.string("iqn.2010-10.org.openstack:v\niqn.2026-11.io.evil:x"), "connection_info.data.target_iqn"),
        ("target_iqn", .string("iqn.2010-10.org.openstack:v\0x"), "connection_info.data.target_iqn"),
        ("target_portal", .string("192.0.2.10:65536"), "connection_info.data.target_portal"),
        ("target_portal", .string("192.0.2.10:3260\n"), "connection_info.data.target_portal"),
        ("target_lun", .int(1 << 31), "connection_info.data.target_lun"),
        ("target_lun", .int(Int64.max), "connection_info.data.target_lun"),
        ("target_lun", .int(-1), "connection_info.data.target_lun"),
        ("target_lun", .double(4_294_967_296), "connection_info.data.target_lun"),
        ("target_luns", .array([1, .int(65536)]), "connection_info.data.target_luns[1]"),
        ("target_portals", .array(["192.0.2.10:3260", "evil host:3260"]), "connection_info.data.target_portals[1]"),
        ("auth_username", .string("user\nname"), "connection_info.data.auth_username"),
        ("auth_password", .string(String(repeating: "p", count: 256)), "connection_info.data.auth_password"),
        ("volume_id", .string("../../etc/passwd"), "connection_info.data.volume_id"),
        ("volume_id", .string("vol\0hidden"), "connection_info.data.volume_id"),
        ("volume_id", .string(String(repeating: "v", count: 10_000)), "connection_info.data.volume_id"),
        ("volume_id", .int(7), "connection_info.data.volume_id"),
    ])
    func hostileISCSIValuesNameTheField(key: String, value: JSONValue, field: String) throws {
        var info = try Self.info(Self.cinderShapes[0])
        info.data[key] = value
        let error = #expect(throws: TetherError.self) { try info.validate() }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix(field + ":") == true, "\(error?.message ?? "")")
        #expect(error?.hint != nil)
    }

    @Test(arguments: [
        ("name", JSONValue.string("../etc/passwd"), "connection_info.data.name"),
        ("name", .string("volumes/vol\0x"), "connection_info.data.name"),
        ("ports", .array(["6789", "65536"]), "connection_info.data.ports[1]"),
        ("ports", .array([.int(Int64.max), 1]), "connection_info.data.ports[0]"),
        ("hosts", .array(["192.0.2.21\nmon_host = 203.0.113.9", "192.0.2.22"]), "connection_info.data.hosts[0]"),
        ("cluster_name", .string("../ceph"), "connection_info.data.cluster_name"),
        ("auth_username", .string("cinder\nkey = x"), "connection_info.data.auth_username"),
        ("secret_uuid", .string("not-a-uuid"), "connection_info.data.secret_uuid"),
        ("cluster_fsid", .string("0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c\nmon_host = 203.0.113.9"), "connection_info.data.cluster_fsid"),
        ("cluster_fsid", .int(7), "connection_info.data.cluster_fsid"),
        ("keyring", .string("[client.cinder]\n\tkey = A\0B"), "connection_info.data.keyring"),
    ])
    func hostileRBDValuesNameTheField(key: String, value: JSONValue, field: String) throws {
        var info = try Self.info(Self.cinderShapes[6])
        info.data[key] = value
        let error = #expect(throws: TetherError.self) { try info.validate() }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix(field + ":") == true, "\(error?.message ?? "")")
    }

    /// Tether's own RBD export adds `cluster_fsid` to Cinder's keys: it passes and is read.
    @Test func tetherExportsClusterFSIDPassesAndIsRead() throws {
        var info = try Self.info(Self.cinderShapes[6])
        info.data["cluster_fsid"] = "7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
        try info.validate()
        #expect(try RBDConnectionData(info).clusterFSID == UUID(uuidString: "7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"))
        // Cinder's payload has none; an empty one says nothing either.
        #expect(try RBDConnectionData(Self.info(Self.cinderShapes[6])).clusterFSID == nil)
        info.data["cluster_fsid"] = ""
        try info.validate()
        #expect(try RBDConnectionData(info).clusterFSID == nil)
        info.data["cluster_fsid"] = "not-a-uuid"
        let error = #expect(throws: TetherError.self) { try RBDConnectionData(info) }
        #expect(error?.code == .invalidInput)
    }

    @Test func flatShapeFieldsHaveNoDataInTheirPath() throws {
        var info = try Self.info(Self.cinderShapes[3])
        info.data["target_portal"] = "192.0.2.10:0"
        let error = #expect(throws: TetherError.self) { try info.validate() }
        #expect(error?.message.hasPrefix("connection_info.target_portal:") == true)
    }
}
