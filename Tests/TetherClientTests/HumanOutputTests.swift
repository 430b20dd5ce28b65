import Foundation
import Testing
import TetherAPI
import TetherCore

@testable import TetherClient

@Suite struct HumanOutputTests {
    static let password = "Zq8wRkP3sEcReT"

    static let exportResponse = ExportResponse(
        connectionInfo: ConnectionInfo(
            driverVolumeType: "iscsi",
            data: [
                "target_iqn": "iqn.2025-01.org.tether:v1", "target_portal": "192.0.2.10:3260", "target_lun": 1,
                "auth_method": "CHAP", "auth_username": "tether-v1", "auth_password": .string(password),
            ]),
        export: ExportBody(
            volumeID: "v1", path: "/srv/v1.img", targetIQN: "iqn.2025-01.org.tether:v1", lun: 1,
            portals: ["192.0.2.10:3260"], initiators: ["iqn.1994-05.com.redhat:node1"], wwid: "360000000000000000e00000000010001"))

    @Test(arguments: [nil, "/tmp/out.json"] as [String?])
    func exportShowsTheUserButNeverThePassword(savedTo: String?) {
        let text = HumanOutput.export(Self.exportResponse, created: true, savedTo: savedTo)
        #expect(!text.contains(Self.password))
        #expect(text.contains("tether-v1"))
        #expect(text.contains("iqn.2025-01.org.tether:v1"))
    }

    @Test func attachmentListIsATable() {
        let attachment = AttachmentBody(
            id: "a1", volumeID: "v1", protocolName: "iscsi", mode: .network, state: "attached", target: "iqn.x lun 1",
            createdAt: "2025-01-01T00:00:00Z", paths: [], wwid: nil, sizeBytes: 16 << 20, devicePath: nil, diskXML: nil, qemu: nil,
            status: .degraded)
        let lines = HumanOutput.attachments([attachment]).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].split(separator: " ") == ["ID", "VOLUME", "PROTOCOL", "MODE", "STATE", "STATUS", "SIZE", "WWID"])
        #expect(lines[1].split(separator: " ") == ["a1", "v1", "iscsi", "network", "attached", "degraded", "16.0", "MiB", "-"])
        #expect(HumanOutput.attachments([]) == "no attachments")
    }

    @Test func showRedactsInlineQEMUSecrets() {
        let qemu = AttachmentBody.QEMUBody(
            blockdev: ["driver": "iscsi", "password-secret": "sec0"],
            objects: [["qom-type": "secret", "id": "sec0", "data": .string(Self.password)]])
        let attachment = AttachmentBody(
            id: "a1", volumeID: "v1", protocolName: "iscsi", mode: .network, state: "attached", target: "iqn.x lun 1",
            createdAt: "2025-01-01T00:00:00Z", paths: [.init(portal: "192.0.2.10:3260", target: "iqn.x", lun: 1, state: "logged_in")],
            wwid: "36001", sizeBytes: nil, devicePath: nil, diskXML: "<disk type='network'/>\n", qemu: qemu)
        let text = HumanOutput.attachmentDetails(attachment)
        #expect(!text.contains(Self.password))
        #expect(text.contains("\"password-secret\" : \"sec0\"") || text.contains("\"password-secret\":\"sec0\""))
        #expect(text.contains("<disk type='network'/>"))
        #expect(text.contains("192.0.2.10:3260"))
    }

    @Test func detachOfNothingSaysSo() {
        #expect(HumanOutput.detached(DetachResponse(detached: []), ref: "v9") == "nothing attached for v9")
        #expect(HumanOutput.detached(DetachResponse(detached: ["a1"]), ref: "v1") == "detached a1")
    }
}
