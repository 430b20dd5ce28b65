import Hummingbird
@testable import TetherAgent
import TetherCore
import Testing

/// Who asked, as the routes read it: only a value the peer check wrote (sealed with this
/// process's random value) names a peer.
@Suite struct APIPeerTests {
    static func asked(_ value: String?) -> String {
        var headers = HTTPFields()
        if let value { headers[APIPeer.header] = value }
        return APIPeer.of(JSONBodyTests.request(headers, body: RequestBody(buffer: ByteBuffer())))
    }

    @Test func theCheckWrittenValueNamesThePeer() {
        #expect(Self.asked(APIPeer.value(PeerCredentials(pid: 4242, uid: 0, gid: 7))) == "uid=0 gid=7 pid=4242")
    }

    /// A TLS client is its certificate's names; a control character in one cannot break the line.
    @Test func aTLSClientIsItsCertificateNames() {
        #expect(Self.asked(APIPeer.value(certificateNames: ["ops-1", "ops-1.example.org"])) == "tls=ops-1,ops-1.example.org")
        #expect(Self.asked(APIPeer.value(certificateNames: ["ops\n1 requested_by=root"])) == "tls=ops?1 requested_by=root")
        #expect(Self.asked(APIPeer.value(certificateNames: [])) == "tls=(a certificate without names)")
    }

    @Test(arguments: [nil, "uid=0 gid=0 pid=1", "\(String(repeating: "0", count: 32)) uid=0 gid=0 pid=1", ""])
    func anythingElseIsUnknown(value: String?) {
        #expect(Self.asked(value) == "unknown")
    }
}
