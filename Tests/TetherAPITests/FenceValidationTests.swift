import Foundation
import TetherAPI
import TetherCore
import Testing

/// `tether fence` and `POST /v1/clusters/{name}/fence`: the client address forms Ceph prints, the
/// expiry's bounds, and attach's break_lock.
@Suite struct FenceValidationTests {
    @Test(arguments: [
        ("192.0.2.50:0/3305813894", "192.0.2.50:0/3305813894"), ("v1:192.0.2.50:6800/42", "192.0.2.50:6800/42"),
        ("v2:192.0.2.50:0/1", "192.0.2.50:0/1"), ("any:10.0.0.1:0/0", "10.0.0.1:0/0"), ("10.0.0.1/4294967295", "10.0.0.1/4294967295"),
        ("[2001:db8::5]:0/42", "[2001:db8::5]:0/42"), ("[::1]/7", "[::1]/7"),
    ])
    func addressesCephPrintsAreTaken(text: String, expected: String) throws {
        #expect(try CephClientAddressGrammar.check(text, field: "address") == expected)
    }

    @Test(arguments: [
        "", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:0/", "10.0.0.1:0/x", "10.0.0.1:0/4294967296", "10.0.0.1:0/-1", "10.0.0.1:65536/1",
        "10.0.0.1:/1", "ceph-node:0/1", "2001:db8::5:0/1", "[2001:db8::5:0/1", "[nope]:0/1", "10.0.0.1:0/1 ", "10.0.0.1:0/1\n",
        "v3:10.0.0.1:0/1", "10.0.0.256:0/1", String(repeating: "1", count: 81), "10.0.0.1:0/１",
    ])
    func anythingElseIsRefusedNamingTheField(text: String) {
        let error = #expect(throws: TetherError.self) { try CephClientAddressGrammar.check(text, field: "address") }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix("address: ") == true, "\(String(describing: error))")
        #expect(error?.hint?.contains("IP:PORT/NONCE") == true)
    }

    @Test func expiryIsBoundedAndUserChecked() throws {
        #expect(try FenceRequest(address: "10.0.0.1:0/1").validate() == "10.0.0.1:0/1")
        _ = try FenceRequest(address: "10.0.0.1:0/1", expireSeconds: FenceRequest.expireRange.lowerBound).validate()
        _ = try FenceRequest(address: "10.0.0.1:0/1", expireSeconds: FenceRequest.expireRange.upperBound).validate()
        for seconds: Int64 in [-1, 0, 59, FenceRequest.expireRange.upperBound + 1, .max] {
            let error = #expect(throws: TetherError.self) { try FenceRequest(address: "10.0.0.1:0/1", expireSeconds: seconds).validate() }
            #expect(error?.message.hasPrefix("expire_seconds: ") == true, "\(seconds): \(String(describing: error))")
        }
        let user = #expect(throws: TetherError.self) { try FenceRequest(address: "10.0.0.1:0/1", user: "a b").validate() }
        #expect(user?.message.hasPrefix("user: ") == true)
    }

    @Test func decodingTakesTheWireNames() throws {
        let request = try JSONDecoder().decode(FenceRequest.self, from: Data(#"{"address": "10.0.0.1:0/1", "expire_seconds": 600, "user": "cinder"}"#.utf8))
        #expect(request.expireSeconds == 600 && request.user == "cinder")
    }

    @Test func breakLockNeedsForce() throws {
        let info = ConnectionInfo(driverVolumeType: "rbd", data: ["name": "rbd/img", "hosts": ["192.0.2.1"], "ports": ["6789"], "volume_id": "v"])
        let error = #expect(throws: TetherError.self) { try CreateAttachmentRequest(connectionInfo: info, breakLock: true).validate() }
        #expect(error?.message.hasPrefix("break_lock: needs force") == true)
        try CreateAttachmentRequest(connectionInfo: info, force: true, breakLock: true).validate()
        try CreateAttachmentRequest(connectionInfo: info, force: true).validate()
    }
}
