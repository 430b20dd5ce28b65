import Foundation
import TetherCore
import Testing

@Suite struct PrimitiveTests {
    @Test(arguments: [
        ("10.0.0.1:3260", "10.0.0.1", 3260),
        ("10.0.0.1", "10.0.0.1", 3260),
        ("10.0.0.1:3261,1", "10.0.0.1", 3261),
        ("[fe80::1]:3262", "fe80::1", 3262),
        ("fe80::1", "fe80::1", 3260),
        ("storage.example:860", "storage.example", 860),
    ])
    func portalParsing(text: String, host: String, port: Int) throws {
        let portal = try Portal(parsing: text)
        #expect(portal.host == host)
        #expect(portal.port == port)
    }

    @Test(arguments: ["", ":3260", "[fe80::1:3260", "host:0", "host:x"])
    func badPortals(text: String) {
        let error = #expect(throws: TetherError.self) { try Portal(parsing: text) }
        #expect(error?.code == .invalidInput)
    }

    @Test func secretNeverPrints() {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(secret.reveal { $0 } == "hunter2")
    }

    @Test func randomSecretsDiffer() {
        let a = Secret.random(), b = Secret.random()
        #expect(a != b)
        #expect(a.reveal(\.count) == 24)
    }

    @Test func sha256KnownVectors() {
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = Array(String(repeating: "a", count: 1000).utf8)
        #expect(SHA256.hex(of: long) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        #expect(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// The outputs of the hand-written SHA-256 that swift-crypto replaced, recorded from it: around
    /// the padding boundaries (55, 56, 63, 64, 65 bytes), and the ids derived from names, which
    /// must not change across an upgrade (tgt's SCSI id is the WWID; a secret UUID is in domain XML).
    @Test(arguments: [
        (55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"),
        (56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"),
        (63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"),
        (64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"),
        (65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"),
    ])
    func sha256SameAsTheHandWrittenOne(length: Int, hex: String) {
        #expect(SHA256.hex(of: Array(repeating: UInt8(ascii: "x"), count: length)) == hex)
        #expect(SHA256.digest(Array(repeating: UInt8(ascii: "x"), count: length)).count == 32)
    }

    @Test func derivedSCSIIDIsUnchanged() {
        #expect(ExportSpec.scsiID(forVolume: "vol-1") == "e05e4e28fb38e0775c5ba3f95f4088b")
    }

    @Test func scsiIDIsStableAndFitsTgt() {
        let id = ExportSpec.scsiID(forVolume: "vol-1")
        #expect(id == ExportSpec.scsiID(forVolume: "vol-1"))
        #expect(id != ExportSpec.scsiID(forVolume: "vol-2"))
        #expect(id.count == 31)
    }

    @Test func errorCodesMapToStatusAndExit() {
        #expect(TetherError.Code.invalidInput.httpStatus == 400)
        #expect(TetherError.Code.iscsiAuthFailed.httpStatus == 403)
        #expect(TetherError.Code.iscsiAuthFailed.exitCode == 5)
        #expect(TetherError.Code.iscsiUnreachable.exitCode == 6)
        #expect(TetherError.Code.notFound.exitCode == 3)
        #expect(TetherError.Code.internalError.httpStatus == 500)
        #expect(TetherError.Code.targetFailed.httpStatus == 502)
    }

    @Test func timeoutFiresAndPassesThrough() async throws {
        let error = await #expect(throws: TetherError.self) {
            try await withTimeout(.milliseconds(20), clock: ContinuousClock(), "sleeper") {
                try await Task.sleep(for: .seconds(5))
            }
        }
        #expect(error?.code == .timedOut)
        let value = try await withTimeout(.seconds(5), clock: ContinuousClock(), "quick") { 42 }
        #expect(value == 42)
    }
}
