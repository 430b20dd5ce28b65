import Foundation
import TetherAPI
@testable import TetherAgent
import TetherCeph
import TetherCore
import Testing

/// The qemu hook's reading and rewriting of libvirt domain XML, hostile XML included.
@Suite struct DomainXMLTests {
    static let sourceUUID = "11111111-2222-4333-8444-555555555555"

    static func domain(_ disks: String) -> String {
        """
        <domain type='qemu'>
          <name>vm1</name>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
        \(disks)
            <disk type='file' device='disk'><source file='/var/lib/x.img'/><target dev='vda' bus='virtio'/></disk>
          </devices>
        </domain>
        """
    }

    static let rbdDisk = """
        <disk type='network' device='disk'>
          <driver name='qemu' type='raw' cache='none'/>
          <source protocol='rbd' name='rbd/vol-a'>
            <host name='192.0.2.21' port='6789'/>
            <config file='/other/node/ceph/ceph-a.conf'/>
            <auth username='cinder'>
              <secret type='ceph' uuid='\(sourceUUID)'/>
            </auth>
          </source>
          <target dev='vdb' bus='virtio'/>
        </disk>
        """

    static let kernelDisk = """
        <disk type='block' device='disk'>
          <source dev='/dev/disk/by-tether/vol-k'/>
          <target dev='vdc' bus='virtio'/>
        </disk>
        """

    static func registry(user: String = "cinder") throws -> (CephRegistry, CephCluster) {
        let cluster = try CephCluster(
            name: "ceph-a", fsid: UUID(uuidString: "1b4ad3c6-0c39-4d52-9b6c-45d3f4e0a111")!,
            monitors: [try CephMonitor(v2: Portal(host: "192.0.2.21", port: 3300), v1: Portal(host: "192.0.2.21", port: 6789))],
            users: [try CephUser(name: user, keyFile: "/k")])
        return (try CephRegistry(clusters: [cluster]), cluster)
    }

    @Test func findsTetherDisksAndIgnoresOthers() throws {
        let xml = try DomainXML(Self.domain(Self.rbdDisk + Self.kernelDisk))
        #expect(xml.name == "vm1")
        #expect(
            xml.disks == [
                .rbd(.init(
                    target: "vdb", name: "rbd/vol-a", hosts: [Portal(host: "192.0.2.21", port: 6789)], user: "cinder", secret: .uuid(Self.sourceUUID),
                    configFile: "/other/node/ceph/ceph-a.conf")),
                .kernel(.init(target: "vdc", volumeID: "vol-k")),
            ])
    }

    @Test func rewritesTheSecretToThisNodesUUIDMatchedByMonitors() throws {
        let (registry, cluster) = try Self.registry()
        let xml = try DomainXML(Self.domain(Self.rbdDisk))
        guard case .rbd(let disk) = xml.disks.first else { Issue.record("no rbd disk"); return }
        let match = try HookService.resolve(disk, in: registry).get()
        #expect(match.cluster.name == "ceph-a" && match.user.name == "cinder")
        let here = cluster.secretUUID(for: match.user).uuidString.lowercased()
        #expect(here != Self.sourceUUID)
        let (out, changed) = xml.rewritingRBD { _ in (here, "/etc/ceph/ceph-a.conf") }
        #expect(changed)
        let reread = try DomainXML(out)
        guard case .rbd(let rewritten) = reread.disks.first else { Issue.record("no rbd disk after the rewrite"); return }
        #expect(rewritten.secret == .uuid(here))
        #expect(rewritten.configFile == "/etc/ceph/ceph-a.conf")
        #expect(!out.contains(Self.sourceUUID))
        // Everything else survives: the other disk, the emulator.
        #expect(out.contains("/var/lib/x.img") && out.contains("qemu-system-x86_64"))
    }

    @Test func aSecretNamedByUsageStays() throws {
        let xml = try DomainXML(Self.domain(Self.rbdDisk.replacingOccurrences(of: "uuid='\(Self.sourceUUID)'", with: "usage='tether ceph client.cinder'")))
        let (out, changed) = xml.rewritingRBD { _ in ("6f0a4e62-91d4-4a56-8a8f-3f1c9d2b7e10", nil) }
        #expect(!changed)
        #expect(out.contains("usage=\"tether ceph client.cinder\"") && !out.contains("6f0a4e62"))
    }

    @Test func sameSecretIsNoChange() throws {
        let xml = try DomainXML(Self.domain(Self.rbdDisk))
        let (_, changed) = xml.rewritingRBD { _ in (Self.sourceUUID, "/other/node/ceph/ceph-a.conf") }
        #expect(!changed)
    }

    @Test func unknownMonitorsNameTheDiskAndTheKnownClusters() throws {
        let (registry, _) = try Self.registry()
        let xml = try DomainXML(Self.domain(Self.rbdDisk.replacingOccurrences(of: "192.0.2.21", with: "198.51.100.7")))
        guard case .rbd(let disk) = xml.disks.first else { Issue.record("no rbd disk"); return }
        guard case .failure(let problem) = HookService.resolve(disk, in: registry) else { Issue.record("resolved an unknown cluster"); return }
        #expect(problem.code == .notFound)
        #expect(problem.message.contains("198.51.100.7:6789") && problem.message.contains("known: ceph-a"))
    }

    @Test func unknownUserNamesClusterAndUser() throws {
        let (registry, _) = try Self.registry(user: "nova")
        let xml = try DomainXML(Self.domain(Self.rbdDisk))
        guard case .rbd(let disk) = xml.disks.first else { Issue.record("no rbd disk"); return }
        guard case .failure(let problem) = HookService.resolve(disk, in: registry) else { Issue.record("resolved an unknown user"); return }
        #expect(problem.message.contains("cluster ceph-a") && problem.message.contains("no user cinder"))
    }

    static let hostile: [String] = [
        "",
        "not xml at all",
        "<domain><name>x</name>",
        "<domain><devices><disk></devices></domain>",
        "<domain>&undefined;</domain>",
        // Billion laughs: refused before anything could expand it.
        """
        <?xml version="1.0"?>
        <!DOCTYPE domain [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
        <domain><name>&c;</name></domain>
        """,
        // An external entity: never loaded.
        "<!DOCTYPE domain [<!ENTITY x SYSTEM \"file:///etc/shadow\">]><domain><name>&x;</name></domain>",
        "<!doctype domain><domain/>",
        "<notadomain/>",
        String(repeating: "<a>", count: 10000) + String(repeating: "</a>", count: 10000),
        "<domain>" + String(repeating: "x", count: QemuHookRequest.maximumXMLBytes) + "</domain>",
    ]

    @Test(arguments: hostile)
    func hostileXMLIsRefusedNamingTheField(_ text: String) throws {
        let error = #expect(throws: TetherError.self) { try DomainXML(text) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix("xml: the domain XML") == true)
    }
}
