import Foundation
import TetherCore
import Testing

@Suite struct ConnectionInfoTests {
    @Test func readsCinderNestedShapeAndKeepsUnknownKeys() throws {
        let info = try ConnectionInfo(json: Fixtures.json(Fixtures.cinderISCSINested))
        #expect(info.driverVolumeType == "iscsi")
        #expect(info.shape == .nested)
        #expect(info.volumeID == "8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10")
        #expect(info.data["cacheable"] == false)
        #expect(info.extra["serial"] == "8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10")
    }

    @Test func nestedShapeRoundTripsExactly() throws {
        let original = try Fixtures.json(Fixtures.cinderISCSINested)
        let info = try ConnectionInfo(json: original)
        #expect(info.json(shape: .nested) == original["connection_info"])
        let encoded = try JSONEncoder().encode(info)
        #expect(try JSONDecoder().decode(JSONValue.self, from: encoded) == original["connection_info"])
    }

    @Test func flatShapeRoundTripsAndConvertsToNested() throws {
        let original = try Fixtures.json(Fixtures.cinderISCSIFlat)
        let info = try ConnectionInfo(json: original)
        #expect(info.shape == .flat)
        #expect(info.data["attachment_id"] == "0f9b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d")
        #expect(info.json(shape: .flat) == original)
        let nested = info.json(shape: .nested)
        #expect(nested["data"]?["target_iqn"] == "iqn.2010-10.org.openstack:volume-8e3b4a5c")
        #expect(nested["target_iqn"] == nil)
    }

    @Test func redactionHidesEveryCredential() throws {
        let info = try ConnectionInfo(json: Fixtures.json(Fixtures.cinderISCSINested)).redacted()
        #expect(info.data["auth_password"] == "<redacted>")
        #expect(info.data["auth_username"] == "fbqWS8xQ7nDmK3dL")
        let text = String(decoding: try JSONEncoder().encode(info), as: UTF8.self)
        #expect(!text.contains("Yx3p9T2kLmQwE7rZ"))
    }

    @Test(arguments: [
        ("[]", "must be a JSON object"),
        (#"{"data": {}}"#, "driver_volume_type"),
        (#"{"driver_volume_type": 3, "data": {}}"#, "non-empty string"),
        (#"{"driver_volume_type": "iscsi", "data": []}"#, "data must be a JSON object"),
    ])
    func malformedPayloadsAreInvalidInput(payload: String, mentions: String) throws {
        let error = #expect(throws: TetherError.self) { try ConnectionInfo(json: Fixtures.json(payload)) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains(mentions) == true)
    }
}

@Suite struct ISCSIConnectionDataTests {
    @Test func pluralKeysGiveOnePathPerPortal() throws {
        let data = try ISCSIConnectionData(ConnectionInfo(json: Fixtures.json(Fixtures.cinderISCSINested)))
        #expect(data.paths.map(\.portal.description) == ["192.0.2.10:3260", "198.51.100.10:3260"])
        #expect(data.paths.allSatisfy { $0.lun == 1 })
        #expect(!data.needsDiscovery)
        #expect(data.chap?.username == "fbqWS8xQ7nDmK3dL")
        #expect("\(data.chap!.password)" == "<redacted>")
    }

    @Test func singularKeysAskForDiscoveryAndAcceptStringLUN() throws {
        let data = try ISCSIConnectionData(ConnectionInfo(json: Fixtures.json(Fixtures.cinderISCSIFlat)))
        #expect(data.needsDiscovery)
        #expect(data.paths == [ISCSIPath(portal: Portal(host: "192.0.2.10", port: 3260), iqn: "iqn.2010-10.org.openstack:volume-8e3b4a5c", lun: 0)])
    }

    @Test func sharedIQNAppliesToEveryPortal() throws {
        let info = ConnectionInfo(driverVolumeType: "iscsi", data: [
            "target_portals": ["10.0.0.1:3260", "[2001:db8::1]:3261"], "target_iqn": "iqn.x:y", "target_lun": 3,
        ])
        let data = try ISCSIConnectionData(info)
        #expect(data.paths.map(\.iqn) == ["iqn.x:y", "iqn.x:y"])
        #expect(data.paths[1].portal == Portal(host: "2001:db8::1", port: 3261))
    }

    static let badData: [([String: JSONValue], String)] = [
        (["target_portals": ["a:1", "b:1"], "target_iqn": "iqn.x:y"], "target_lun"),
        (["target_portal": "a:1", "target_lun": 65536], "LUN number"),
        (["target_iqn": "iqn.x:y", "target_lun": 1], "target_portal"),
        (["target_portals": ["a:1", "b:1"], "target_iqns": ["iqn.x:y"], "target_lun": 1], "2 target_portals but 1 target_iqns"),
        (["target_portal": "a:1", "target_lun": 1, "auth_method": "CHAP", "auth_username": "u"], "auth_password"),
        (["target_portal": "a:1", "target_lun": -1], "LUN number"),
        (["target_portal": "a:99999", "target_lun": 1], "valid port"),
        (["target_portal": "a:1", "target_lun": 1, "auth_method": "kerberos"], "not supported"),
    ]

    /// os-brick reads a single portal's target_lun with a default of 0 (base_iscsi.py
    /// `_get_all_targets`); with lists there is no default, so Tether asks for it.
    @Test func singlePortalWithoutTargetLUNIsLUNZero() throws {
        let data = try ISCSIConnectionData(ConnectionInfo(driverVolumeType: "iscsi", data: ["target_portal": "10.0.0.1:3260", "target_iqn": "iqn.x:y"]))
        #expect(data.paths.map(\.lun) == [0])
    }

    @Test(arguments: badData)
    func missingOrWrongFieldsSayWhich(data: [String: JSONValue], mentions: String) {
        let error = #expect(throws: TetherError.self) { try ISCSIConnectionData(ConnectionInfo(driverVolumeType: "iscsi", data: data)) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains(mentions) == true, "\(error?.message ?? "")")
    }
}

@Suite struct RBDConnectionDataTests {
    @Test func readsCinderRBD() throws {
        let data = try RBDConnectionData(ConnectionInfo(json: Fixtures.json(Fixtures.cinderRBD)))
        #expect(data.pool == "volumes")
        #expect(data.image == "volume-8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10")
        #expect(data.monitors.map(\.description) == ["192.0.2.21:6789", "192.0.2.22:6789", "192.0.2.23:6789"])
        #expect(data.clusterName == "ceph-a")
        #expect(data.secretUUID == "457eb676-33da-42ec-9a8c-9293d545c337")
        #expect(data.authEnabled && data.discard)
    }

    @Test func nameMustBePoolSlashImage() {
        let error = #expect(throws: TetherError.self) {
            try RBDConnectionData(ConnectionInfo(driverVolumeType: "rbd", data: ["name": "volume-1"]))
        }
        #expect(error?.code == .invalidInput)
    }
}

@Suite struct ConnectorPropertiesTests {
    @Test func osBrickPropertiesRoundTripWithUnknownKeys() throws {
        let original = try Fixtures.json(Fixtures.osBrickConnector)
        let connector = try ConnectorProperties(json: original)
        #expect(connector.initiator == "iqn.1993-08.org.debian:01:abcdef123456")
        #expect(connector.multipath)
        #expect(connector.extra["system uuid"] == "30313233-3435-3637-3839-414243444546")
        #expect(connector.json == original)
    }

    @Test func wrongTypesAreInvalidInput() {
        let error = #expect(throws: TetherError.self) { try ConnectorProperties(json: ["multipath": "maybe"]) }
        #expect(error?.code == .invalidInput)
    }
}
