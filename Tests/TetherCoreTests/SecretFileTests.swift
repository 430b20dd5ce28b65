import TetherCore
import Testing

@Suite struct SecretFileTests {
    @Test func ownerAndModeDecide() throws {
        #expect(SecretFile.problem(path: "/k", status: .init(mode: 0o600, owner: 0), agentUID: 0) == nil)
        #expect(SecretFile.problem(path: "/k", status: .init(mode: 0o400, owner: 0), agentUID: 0) == nil)
        // Not root: its own files or root's.
        #expect(SecretFile.problem(path: "/k", status: .init(mode: 0o600, owner: 1000), agentUID: 1000) == nil)
        #expect(SecretFile.problem(path: "/k", status: .init(mode: 0o600, owner: 0), agentUID: 1000) == nil)

        let groupReadable = try #require(SecretFile.problem(path: "/etc/tether/cinder.password", status: .init(mode: 0o640, owner: 0), agentUID: 0))
        #expect(groupReadable.message.contains("/etc/tether/cinder.password") && groupReadable.message.contains("0640"))
        #expect(groupReadable.hint == "run chmod 600 /etc/tether/cinder.password")
        #expect(SecretFile.problem(path: "/k", status: .init(mode: 0o602, owner: 0), agentUID: 0) != nil)
        #expect(SecretFile.problem(path: "/k", status: .init(mode: 0o620, owner: 0), agentUID: 0) != nil)

        let foreign = try #require(SecretFile.problem(path: "/k", status: .init(mode: 0o600, owner: 1000), agentUID: 0))
        #expect(foreign.message.contains("uid 1000") && foreign.message.contains("0600"))
        #expect(foreign.hint == "run chown root /k")
        let foreignToUser = try #require(SecretFile.problem(path: "/k", status: .init(mode: 0o600, owner: 1001), agentUID: 1000))
        #expect(foreignToUser.hint == "run chown 1000 /k")
    }
}
