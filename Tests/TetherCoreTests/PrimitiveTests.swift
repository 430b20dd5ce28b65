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
