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

    @Test(arguments: [nil, "uid=0 gid=0 pid=1", "\(String(repeating: "0", count: 32)) uid=0 gid=0 pid=1", ""])
    func anythingElseIsUnknown(value: String?) {
        #expect(Self.asked(value) == "unknown")
    }
}
