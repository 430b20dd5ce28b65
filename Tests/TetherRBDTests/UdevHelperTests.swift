import TetherCore
import Foundation
import TetherRBD
import TetherFakes
import Testing

@testable import tether

/// `tether udev rbd` over a real directory tree laid out as sysfs, the registry and /run/tether.
@Suite struct UdevHelperTests {
    typealias F = KRBDFixtures

    static func tree(_ body: (TemporaryDirectory, UdevNaming) throws -> Void) throws {
        let scratch = try TemporaryDirectory(prefix: "udev")
        defer { scratch.remove() }
        func put(_ path: String, _ text: String) throws {
            let full = scratch.file(path)
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        try put("etc/clusters.d/ceph-a.toml", "name = \"ceph-a\"\nfsid = \"\(F.fsidA.uppercased())\"\nmon_host = \"192.0.2.21\"\n[user.cinder]\n")
        try put("etc/clusters.d/.ceph-b.toml.tmp", "fsid = \"\(F.fsidB)\"\n")
        try put("etc/clusters.d/misnamed.toml", "name = \"other\"\nfsid = \"\(F.fsidB)\"\n")
        for (id, fsid, pool, namespace, image, snap) in [
            (0, F.fsidA, "volumes", "", "volume-1", "-"), (1, F.fsidB, "volumes", "", "volume-1", "-"),
            (2, F.fsidA, "rbd", "tenant", "disk one", "snap1"),
        ] {
            for (name, value) in [("cluster_fsid", fsid), ("pool", pool), ("pool_ns", namespace), ("name", image), ("current_snap", snap)] {
                try put("sys/bus/rbd/devices/\(id)/\(name)", value + "\n")
            }
        }
        try put("run/by-wwid/" + StableNames.mapFileName(key: "rbd:\(F.fsidA)/volumes/volume-1"), "TETHER_VOLUME_ID=vol-a\n")
        try put("run/by-wwid/" + StableNames.mapFileName(key: "rbd:\(F.fsidB)/volumes/volume-1"), "TETHER_VOLUME_ID=../../etc/passwd\n")
        let naming = UdevNaming(files: .local, sysfs: scratch.file("sys"), mapDirectory: scratch.file("run/by-wwid"), registryDirectory: scratch.file("etc"))
        try body(scratch, naming)
    }

    static func properties(_ naming: UdevNaming, _ device: String) -> [String: String]? {
        naming.rbdProperties(device: device).map { Dictionary($0, uniquingKeysWith: { first, _ in first }) }
    }

    @Test func namesARegisteredClustersDeviceAndItsVolume() throws {
        try Self.tree { _, naming in
            #expect(Self.properties(naming, "rbd0") == [
                "TETHER_RBD_CLUSTER": "ceph-a", "TETHER_RBD_NAME": "ceph-a/volumes/volume-1", "TETHER_VOLUME_ID": "vol-a",
            ])
            #expect(Self.properties(naming, "0") == Self.properties(naming, "rbd0"))
            #expect(Self.properties(naming, "rbd0p2") == Self.properties(naming, "rbd0"))
        }
    }

    /// ceph-b is not registered (its file is hidden, or names another cluster): its fsid stands in,
    /// still apart from ceph-a's image of the same name. A map file naming no usable id is ignored.
    @Test func anUnregisteredClusterIsNamedByItsFsid() throws {
        try Self.tree { _, naming in
            #expect(Self.properties(naming, "rbd1") == ["TETHER_RBD_CLUSTER": F.fsidB, "TETHER_RBD_NAME": "\(F.fsidB)/volumes/volume-1"])
        }
    }

    @Test func namespacesSnapshotsAndBlanks() throws {
        try Self.tree { _, naming in
            #expect(Self.properties(naming, "rbd2")?["TETHER_RBD_NAME"] == "ceph-a/rbd/tenant/disk_one@snap1")
            #expect(StableNames.rbdName(cluster: "ceph-a", pool: "rbd", namespace: "tenant", image: "disk one", snapshot: "snap1") == "ceph-a/rbd/tenant/disk_one@snap1")
        }
    }

    @Test func unknownDevicesHaveNoProperties() throws {
        try Self.tree { _, naming in
            #expect(naming.rbdProperties(device: "rbd7") == nil)
            #expect(naming.rbdProperties(device: "sda") == nil)
            #expect(naming.rbdProperties(device: "rbd") == nil)
        }
    }

    @Test func theRegistryDirectoryComesFromFlagEnvironmentOrConfig() throws {
        try Self.tree { scratch, _ in
            let config = scratch.file("tether.toml")
            try "[ceph]\nregistry_dir = \"/srv/tether\"\n".write(toFile: config, atomically: true, encoding: .utf8)
            #expect(UdevNaming.registryDirectory(flag: "/a", environment: ["TETHER_REGISTRY_DIR": "/b"], config: config, files: .local) == "/a")
            #expect(UdevNaming.registryDirectory(flag: nil, environment: ["TETHER_REGISTRY_DIR": "/b"], config: config, files: .local) == "/b")
            #expect(UdevNaming.registryDirectory(flag: nil, environment: [:], config: config, files: .local) == "/srv/tether")
            #expect(UdevNaming.registryDirectory(flag: nil, environment: [:], config: scratch.file("none.toml"), files: .local) == "/etc/tether")
        }
    }

    @Test func theCommandParsesAsTheRulesCallIt() throws {
        let command = try Tether.parseAsRoot(["udev", "rbd", "3", "--registry-dir", "/x", "--map-dir", "/y", "--sysfs", "/z"])
        let rbd = try #require(command as? Tether.Udev.RBD)
        #expect(rbd.device == "3")
        #expect(rbd.registryDir == "/x")
        #expect(rbd.mapDir == "/y")
        #expect(rbd.sysfs == "/z")
        #expect(try (Tether.parseAsRoot(["udev", "rbd", "rbd0"]) as? Tether.Udev.RBD)?.mapDir == StableNames.defaultMapDirectory)
    }
}
