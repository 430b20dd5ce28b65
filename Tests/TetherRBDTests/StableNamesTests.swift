import Foundation
import TetherCeph
import TetherCore
import TetherFakes
import Testing

@testable import TetherRBD
@testable import tether

@Suite struct StableNamesTests {
    @Test func namesOfAnRBDImage() {
        #expect(StableNames.rbdPath(cluster: "ceph-a", pool: "volumes", image: "volume-1") == "/dev/rbd/ceph-a/volumes/volume-1")
        #expect(StableNames.rbdPath(cluster: "ceph-a", pool: "p", namespace: "tenant", image: "i", snapshot: "s1") == "/dev/rbd/ceph-a/p/tenant/i@s1")
        #expect(StableNames.rbdKey(fsid: "0B6A3C2E-5D4F-4E1A-9B8C-7D6E5F4A3B2C", pool: "volumes", image: "volume-1") == "rbd:0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c/volumes/volume-1")
        #expect(StableNames.mapFile(key: "rbd:f/volumes/volume-1") == "/run/tether/by-wwid/rbd:f%2Fvolumes%2Fvolume-1")
        #expect(StableNames.byTether(volumeID: "8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10") == "/dev/disk/by-tether/8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10")
        #expect(StableNames.byTether(volumeID: "../etc") == nil)
        #expect(StableNames.byTether(volumeID: "a b") == nil)
    }

    @Test(arguments: [
        ("naa.6001405ab3c4d5e6f7a8b9c0d1e2f3a4", "36001405ab3c4d5e6f7a8b9c0d1e2f3a4"),
        ("NAA.6001405AB", "36001405ab"), ("eui.0011223344556677", "20011223344556677"), ("t10.ATA     QEMU HARDDISK   QM00001", "1ATA_QEMU_HARDDISK_QM00001"),
    ])
    func wwidsAsUdevWritesThem(wwid: String, serial: String) {
        #expect(StableNames.udevSerial(wwid: wwid) == serial)
        // udev's ID_SERIAL is the map file's name as it stands.
        #expect(StableNames.mapFileName(key: serial) == serial)
    }

    @Test func otherWWIDFormsHaveNoSerial() {
        #expect(StableNames.udevSerial(wwid: "iqn.2026-11.io.tether:vol,t,0x1") == nil)
        #expect(StableNames.udevSerial(wwid: "naa.xyz") == nil)
    }

    /// The helper in the tether executable and StableNames must agree, or the connector waits for
    /// links udev never makes.
    @Test(arguments: ["volume-1", "a b", "tab\there", "ünïcode", ".", "..", "50%/x", ".hidden", "a,b=c:d@e+f#g", "q\"'`$(x)", "", " lead"])
    func theUdevHelperAndStableNamesAgree(text: String) {
        #expect(UdevNaming.linkSafe(text) == StableNames.linkSafe(text))
        #expect(UdevNaming.mapFileName(key: text) == StableNames.mapFileName(key: text))
        #expect(UdevNaming.isUsableVolumeID(text) == StableNames.isUsableVolumeID(text))
        #expect(!StableNames.mapFileName(key: text).contains("/"))
        #expect(!StableNames.linkSafe(text).contains("/"))
        #expect(![".", ".."].contains(StableNames.linkSafe(text)))
    }
}

@Suite struct KRBDMapRequestTests {
    static func cluster(_ monHost: [String]) throws -> (CephCluster, CephUser) {
        let user = try CephUser(name: "cinder", keyFile: "/etc/tether/keys/c.key")
        let cluster = try CephCluster(name: "c", fsid: UUID(), monitors: CephMonitor.parse(monHost), users: [user])
        return (cluster, user)
    }

    static let spec = KRBDImageSpec(fsid: KRBDFixtures.fsidA, pool: "volumes", image: "volume-1")

    @Test func legacyUsesV1AddressesOfEveryMonitor() throws {
        let (cluster, user) = try Self.cluster(["[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "v2:10.0.0.2:3300", "10.0.0.3:7000", "[v2:[2001:db8::1]:3300,v1:[2001:db8::1]:6789]"])
        let request = try KRBDMapRequest(cluster: cluster, user: user, spec: Self.spec, readOnly: false, messenger: .legacy, connectTimeout: .seconds(10), extraOptions: ["queue_depth=128"])
        #expect(request.redactedLine == "10.0.0.1:6789,10.0.0.3:7000,[2001:db8::1]:6789 name=cinder,secret=<redacted>,mount_timeout=10,queue_depth=128 volumes volume-1 -")
        #expect(try request.line(key: Secret(KRBDFixtures.keyA)).reveal { $0 } == request.redactedLine.replacingOccurrences(of: "<redacted>", with: KRBDFixtures.keyA))
    }

    @Test func msgr2UsesV2AddressesAndSaysSo() throws {
        let (cluster, user) = try Self.cluster(["[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"])
        var spec = Self.spec
        spec.namespace = "tenant"
        let request = try KRBDMapRequest(cluster: cluster, user: user, spec: spec, readOnly: true, messenger: .preferCRC, connectTimeout: .milliseconds(10), extraOptions: [])
        #expect(request.redactedLine == "10.0.0.1:3300 name=cinder,secret=<redacted>,mount_timeout=1,ms_mode=prefer-crc,ro,_pool_ns=tenant volumes volume-1 -")
    }

    @Test func whatTheKernelCannotTakeIsRefusedBeforeAnyWrite() throws {
        let (cluster, user) = try Self.cluster(["v2:10.0.0.1:3300"])
        let msgr2Only = #expect(throws: TetherError.self) {
            try KRBDMapRequest(cluster: cluster, user: user, spec: Self.spec, readOnly: false, messenger: .legacy, connectTimeout: .seconds(1), extraOptions: [])
        }
        #expect(msgr2Only?.code == .invalidInput, "\(String(describing: msgr2Only))")
        let (good, goodUser) = try Self.cluster(["10.0.0.1:6789"])
        for options in [["secret=x"], ["a b"], ["x,y"], ["ro"], ["Name"]] {
            let error = #expect(throws: TetherError.self) {
                try KRBDMapRequest(cluster: good, user: goodUser, spec: Self.spec, readOnly: false, messenger: .legacy, connectTimeout: .seconds(1), extraOptions: options)
            }
            #expect(error?.code == .invalidInput, "\(options)")
        }
        for image in ["a b", "a,b", "a\nb", ""] {
            var spec = Self.spec
            spec.image = image
            let error = #expect(throws: TetherError.self) {
                try KRBDMapRequest(cluster: good, user: goodUser, spec: spec, readOnly: false, messenger: .legacy, connectTimeout: .seconds(1), extraOptions: [])
            }
            #expect(error?.code == .invalidInput, "\(image)")
        }
        let request = try KRBDMapRequest(cluster: good, user: goodUser, spec: Self.spec, readOnly: false, messenger: .legacy, connectTimeout: .seconds(1), extraOptions: [])
        let badKey = #expect(throws: TetherError.self) { try request.line(key: Secret("abc,ro def")) }
        #expect(badKey?.code == .invalidInput)
    }

    @Test func errnosComeFromPOSIXErrorsAndFromLinuxHostsMessages() {
        #expect(KRBDFailure.errno(of: POSIXError(.ENOENT)) == ENOENT)
        #expect(KRBDFailure.errno(of: TetherError(.hostCommandFailed, "x", cause: POSIXError(.EACCES))) == EACCES)
        #expect(KRBDFailure.errno(of: FakeKRBD.refused("/sys/bus/rbd/add", ETIMEDOUT)) == ETIMEDOUT)
        #expect(KRBDFailure.errno(of: TetherError(.hostCommandFailed, "something else")) == nil)
        #expect(KRBDFailure.redacted("a secret=abc,ro b secret=x", key: nil) == "a secret=<redacted>,ro b secret=<redacted>")
    }
}
