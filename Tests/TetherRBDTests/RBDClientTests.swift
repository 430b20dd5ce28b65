@testable import TetherRBD
import Testing

/// Who "another client" is: the lock's holders and the image's watchers, each named once.
@Suite struct RBDClientTests {
    static func info(lockers: [RBDClient], watchers: [RBDImageInfo.Watcher]) -> RBDImageInfo {
        RBDImageInfo(
            name: "rbd/img", sizeBytes: 1 << 20, features: RBDImageInfo.exclusiveLockFeature, watchers: watchers,
            lockOwners: lockers.map(\.address), lockers: lockers)
    }

    @Test func lockHoldersComeFirstAndAWatcherThatHoldsTheLockIsNamedOnce() {
        let holder = RBDClient(name: "client.4115", address: "192.0.2.50:0/2986647972")
        let info = Self.info(
            lockers: [holder],
            watchers: [.init(address: "v1:192.0.2.50:0/2986647972", id: 4115), .init(address: "192.0.2.51:0/77", id: 4117)])
        #expect(info.clients == [holder, RBDClient(name: "client.4117", address: "192.0.2.51:0/77")])
        #expect(
            RBDClaim.describe(info.clients, info)
                == "client.4115 at 192.0.2.50:0/2986647972 holds its exclusive lock, client.4117 at 192.0.2.51:0/77 has it open (watches it)")
    }

    @Test func noLockNoWatchersIsNoOtherClient() {
        #expect(Self.info(lockers: [], watchers: []).clients.isEmpty)
    }

    @Test(arguments: [("v1:10.0.0.1:0/1", "10.0.0.1:0/1"), ("v2:10.0.0.1:0/1", "10.0.0.1:0/1"), ("any:[::1]:0/2", "[::1]:0/2"), ("10.0.0.1:0/1", "10.0.0.1:0/1")])
    func instancesCompareWithoutTheMessengerPrefix(address: String, instance: String) {
        #expect(RBDClient.instance(address) == instance)
    }

    /// The node's own krbd client before a reboot (sysfs: client4123, its address) is not another.
    @Test func aFormerClientOfThisNodeIsIgnored() {
        let client = RBDClient(name: "client.4123", address: "192.0.2.50:0/1000")
        #expect(RBDClaim.same(client, "client4123"))
        #expect(RBDClaim.same(client, "192.0.2.50:0/1000"))
        #expect(!RBDClaim.same(client, "client4124"))
        #expect(!RBDClaim.same(RBDClient(name: "", address: "192.0.2.50:0/1000"), ""))
    }
}
