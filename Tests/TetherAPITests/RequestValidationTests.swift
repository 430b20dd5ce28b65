import Foundation
import TetherAPI
import TetherCore
import Testing

@Suite struct RequestValidationTests {
    static let initiator = "iqn.1993-08.org.debian:01:compute-1"

    @Test func exportRequestFieldsAreChecked() throws {
        func refusal(_ request: CreateExportRequest) -> TetherError? {
            #expect(throws: TetherError.self) { try request.validate() }
        }
        let good = CreateExportRequest(volume: .init(id: "vol-1", path: "/srv/tether/vol-1.img", sizeBytes: 1 << 20), connector: ConnectorProperties(initiator: Self.initiator))
        try good.validate()
        #expect(refusal(.init(volume: .init(id: "../x", path: "/srv/x"), connector: good.connector))?.message.hasPrefix("volume.id:") == true)
        #expect(refusal(.init(volume: .init(id: "v", path: "/srv/a,b"), connector: good.connector))?.message.hasPrefix("volume.path:") == true)
        #expect(refusal(.init(volume: .init(id: "v", path: "/srv/x", sizeBytes: 1000), connector: good.connector))?.message.hasPrefix("volume.size_bytes:") == true)
        #expect(refusal(.init(volume: .init(id: "v", path: "/srv/x", sizeBytes: .max), connector: good.connector))?.message.hasPrefix("volume.size_bytes:") == true)
        let newline = ConnectorProperties(initiator: Self.initiator + "\niqn.2026-11.io.evil:x")
        #expect(refusal(.init(volume: .init(id: "v", path: "/srv/x"), connector: newline))?.message.hasPrefix("connector.initiator:") == true)
        let rbd = CreateExportRequest(volume: .init(id: "v", rbd: .init(cluster: "ceph", pool: "rbd", image: "a/b")), connector: ConnectorProperties())
        #expect(refusal(rbd)?.message.hasPrefix("volume.rbd.image:") == true)
    }

    /// size_bytes that used to trap (UInt64 -> Int64 and off_t conversions) are refused while decoding.
    @Test(arguments: ["-1", "0", "18446744073709551615", "18446744073709551616", "9223372036854775808", "1e300", #""12\u0000""#, "true"])
    func sizesThatUsedToTrapAreRefused(size: String) throws {
        let body = #"{"volume": {"id": "v", "path": "/srv/v.img", "size_bytes": \#(size)}, "connector": {"initiator": "\#(Self.initiator)"}}"#
        let error = #expect(throws: TetherError.self) { try JSONDecoder().decode(CreateExportRequest.self, from: Data(body.utf8)) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix("volume.size_bytes:") == true)
    }

    @Test func attachAndLocalAttachRequests() throws {
        let info = ConnectionInfo(driverVolumeType: "iscsi", data: ["target_portal": "192.0.2.1", "target_iqn": "iqn.2010-10.org.openstack:v", "volume_id": "v"])
        try CreateAttachmentRequest(connectionInfo: info, volumeID: "v").validate()
        #expect(#expect(throws: TetherError.self) { try CreateAttachmentRequest(connectionInfo: info, volumeID: "v/../../x").validate() }?.message.hasPrefix("volume_id:") == true)
        try LocalAttachRequest(volumeID: "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c").validate()
        #expect(#expect(throws: TetherError.self) { try LocalAttachRequest(volumeID: "a\0b").validate() }?.code == .invalidInput)
    }

    @Test func clusterRequests() throws {
        let key = Secret("AQBVvd9kAAAAABAAwJ0hY5pXk3m1b0k+Qe0w1A==")
        let good = CreateClusterRequest(name: "ceph-a", fsid: "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c", monHost: ["127.0.0.1:6789"], users: [.init(name: "cinder", key: key)])
        try good.validate()
        var bad = good
        bad.name = "../ceph"
        #expect(#expect(throws: TetherError.self) { try bad.validate() }?.message.hasPrefix("name:") == true)
        bad = good
        bad.users = [.init(name: "cinder", key: Secret("not base64\n[client.admin]"))]
        let error = #expect(throws: TetherError.self) { try bad.validate() }
        #expect(error?.message.hasPrefix("users[0].key:") == true)
        #expect(error?.message.contains("client.admin") == false)
    }
}
