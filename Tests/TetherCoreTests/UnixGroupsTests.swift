import Foundation
import TetherCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The group database lookups and SO_PEERCRED against this machine's own databases and sockets.
@Suite struct UnixGroupsTests {
    @Test func rootGroupBothWays() {
        #expect(UnixGroups.id(ofGroup: "root") == 0)
        #expect(UnixGroups.name(ofGroup: 0) == "root")
    }

    @Test func unknownNamesAndIdsAreNil() {
        #expect(UnixGroups.id(ofGroup: "tether-no-such-group-\(UInt32.random(in: 0...UInt32.max))") == nil)
        #expect(UnixGroups.id(ofGroup: "") == nil)
        #expect(UnixGroups.name(ofGroup: 3_999_999_999) == nil)
        #expect(UnixGroups.groups(ofUser: 3_999_999_999) == nil)
    }

    @Test func groupsOfAUserStartWithItsPrimaryGroup() throws {
        // root's passwd entry has gid 0; nobody's (when present) nogroup.
        let root = try #require(UnixGroups.groups(ofUser: 0))
        #expect(root.contains(0))
        if let nobody = UnixGroups.groups(ofUser: 65534) {
            #expect(!nobody.contains(0))
        }
    }

    @Test func peerCredentialsOfASocketPairAreThisProcess() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { fds.forEach { close($0) } }
        let peer = try #require(PeerCredentials.of(socket: fds[0]))
        #expect(peer.pid == getpid())
        #expect(peer.uid == getuid())
        #expect(peer.gid == getgid())
        #expect(PeerCredentials.of(socket: -1) == nil)
    }
}
