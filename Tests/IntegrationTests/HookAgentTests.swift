import Foundation
import TetherCeph
import TetherCore
import TetherLinux
import TetherTesting
import Testing

/// The libvirt qemu hook (hooks/qemu.d/tether, which runs `tether hook qemu`) against a real
/// tetherd: its failures, its bound in time, the migrate filter, and what it never does (link
/// libvirt, run virsh).
@Suite(.tags(.integration), .enabled(if: Lab.runs(.readelf)), .lab(.readelf), .timeLimit(.minutes(2)))
struct HookAgentTests {
    static var tether: String { (AgentProcess.binary as NSString).deletingLastPathComponent + "/tether" }
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("hooks/qemu.d/tether").path
    }

    static let fsid = UUID(uuidString: "1b4ad3c6-0c39-4d52-9b6c-45d3f4e0a111")!
    /// This node's secret for ceph-a's cinder user, and the one a source node used.
    static let hereUUID = "6f0a4e62-91d4-4a56-8a8f-3f1c9d2b7e10"
    static let sourceUUID = "11111111-2222-4333-8444-555555555555"

    /// One hook call as libvirtd makes it: the script, argv, the XML on stdin.
    static func hook(
        _ socket: String, _ domain: String, _ operation: String, _ subOperation: String, xml: String = "<domain/>", timeout: Int = 5,
        path: String? = nil
    ) throws -> (exit: ChildProcess.Exit, seconds: Double) {
        var environment = ["TETHER": tether, "TETHER_SOCKET": socket, "TETHER_HOOK_TIMEOUT": "\(timeout)", "TETHER_HOOK_CONF": "/nonexistent"]
        if let path { environment["PATH"] = path }
        let started = Date()
        let exit = try ChildProcess.run("/bin/sh", [script, domain, operation, subOperation, "-"], environment: environment, stdin: Array(xml.utf8), timeout: .seconds(60))
        return (exit, Date().timeIntervalSince(started))
    }

    static func domain(_ name: String, disks: String) -> String {
        "<domain type='qemu'><name>\(name)</name><devices>\(disks)</devices></domain>"
    }

    static func rbdDisk(host: String, port: Int, uuid: String, user: String = "cinder") -> String {
        """
        <disk type='network' device='disk'><source protocol='rbd' name='rbd/volume-1'><host name='\(host)' port='\(port)'/>\
        <auth username='\(user)'><secret type='ceph' uuid='\(uuid)'/></auth></source><target dev='vdb' bus='virtio'/></disk>
        """
    }

    /// A tetherd with cluster ceph-a registered (monitors that need not answer: the hook only reads
    /// the registry), its cinder user's secret_uuid set to `hereUUID`.
    static func withAgent(_ body: (AgentProcess) async throws -> Void) async throws {
        try await TemporaryDirectory.with(prefix: "hreg") { registry in
            let keyFile = CephRegistry.defaultKeyFile(cluster: "ceph-a", user: "cinder", directory: registry.path)
            let cluster = try CephCluster(
                name: "ceph-a", fsid: fsid, monitors: [try CephMonitor(v2: Portal(host: "192.0.2.21", port: 3300), v1: Portal(host: "192.0.2.21", port: 6789))],
                users: [try CephUser(name: "cinder", keyFile: keyFile, secretUUID: UUID(uuidString: hereUUID))])
            try await CephRegistry.write(cluster, keys: ["cinder": Secret("AQAA8VNlAAAAABAAAAsWISw3Qk1YY255hI+apQ==")], directory: registry.path, host: LinuxHost())
            try await AgentProcess.with(tgtd: nil, extraConfig: Lab.cephConfig(registry: registry)) { agent in try await body(agent) }
        }
    }

    @Test func theClientDoesNotLinkLibvirtButTetherdDoes() throws {
        func needed(_ binary: String) throws -> [String] {
            let result = try Lab.run("readelf", ["-d", binary])
            #expect(result.status == 0, "\(result.output)")
            return result.output.split(separator: "\n").filter { $0.contains("(NEEDED)") }.map(String.init)
        }
        let client = try needed(Self.tether)
        #expect(!client.isEmpty)
        #expect(!client.contains { $0.contains("libvirt") }, "\(client)")
        // The same check finds what tetherd links: it reads the real dynamic section. (libvirt
        // tetherd loads on first use, CVirtLoader; libiscsi it links.)
        #expect(try needed(AgentProcess.binary).contains { $0.contains("libiscsi.so") })
    }

    @Test func tetherdDownFailsAtOnceWithOneLine() async throws {
        try await TemporaryDirectory.with(prefix: "hdn") { directory in
            let (exit, seconds) = try Self.hook(directory.file("absent.sock"), "vm1", "prepare", "begin", xml: Self.domain("vm1", disks: ""), timeout: 3)
            #expect(exit.status != 0)
            #expect(seconds < 3)
            let lines = exit.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("tether hook: ") && lines[0].contains("tetherd"), "\(exit.stderr)")
            #expect(exit.stdout.isEmpty)
        }
    }

    @Test func tetherdThatNeverAnswersFailsWithinTheBound() async throws {
        try await TemporaryDirectory.with(prefix: "hhg") { directory in
            // A socket that accepts connections (the kernel's backlog) and never answers.
            let path = directory.file("mute.sock")
            let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(listener) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            #expect(bound == 0 && listen(listener, 8) == 0)
            let (exit, seconds) = try Self.hook(path, "vm1", "migrate", "begin", xml: Self.domain("vm1", disks: ""), timeout: 2)
            #expect(exit.status != 0)
            #expect(seconds >= 1.5 && seconds < 4.5, "took \(seconds) s")
            #expect(exit.stderr.split(separator: "\n").count == 1 && exit.stderr.contains("2 s"), "\(exit.stderr)")
            // A filter that failed prints no XML: libvirt must not take an empty answer for "unchanged".
            #expect(exit.stdout.isEmpty)
        }
    }

    @Test func otherOperationsExitAtOnceWithoutTetherd() throws {
        for (operation, sub) in [("start", "begin"), ("started", "begin"), ("stopped", "end"), ("attach", "begin"), ("migrate", "end")] {
            let (exit, seconds) = try Self.hook("/nonexistent/t.sock", "vm1", operation, sub)
            #expect(exit.status == 0 && exit.stdout.isEmpty && exit.stderr.isEmpty, "\(operation) \(sub): \(exit.stderr)")
            #expect(seconds < 2)
        }
    }

    @Test func malformedXMLAndAnUnknownVolumeAreRefusedWithOneLine() async throws {
        try await Self.withAgent { agent in
            for xml in ["<domain><name>vm1</name>", "<!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><domain>&x;</domain>", ""] {
                let (exit, _) = try Self.hook(agent.socketPath, "vm1", "prepare", "begin", xml: xml)
                #expect(exit.status == 2, "\(exit.stderr)")
                #expect(exit.stderr.split(separator: "\n").count == 1 && exit.stderr.contains("xml"), "\(exit.stderr)")
                #expect(!exit.stderr.contains("root:"))
            }
            let disk = "<disk type='block' device='disk'><source dev='/dev/disk/by-tether/vol-nobody'/><target dev='vdb' bus='virtio'/></disk>"
            let (exit, _) = try Self.hook(agent.socketPath, "vm1", "prepare", "begin", xml: Self.domain("vm1", disks: disk))
            #expect(exit.status == 3, "\(exit.stderr)")
            #expect(exit.stderr.split(separator: "\n").count == 1 && exit.stderr.contains("vol-nobody") && exit.stderr.contains("vm1"), "\(exit.stderr)")
            // tetherd serves on, and logged the refusal.
            #expect(UnixSocket.answers(agent.socketPath))
            #expect(agent.log().contains("hook refused"))
        }
    }

    @Test func migrateRewritesTheSecretAndRefusesAnUnknownCluster() async throws {
        try await Self.withAgent { agent in
            let known = Self.domain("vm1", disks: Self.rbdDisk(host: "192.0.2.21", port: 6789, uuid: Self.sourceUUID))
            for operation in ["migrate", "restore"] {
                let (exit, _) = try Self.hook(agent.socketPath, "vm1", operation, "begin", xml: known)
                #expect(exit.status == 0, "\(exit.stderr)")
                #expect(exit.stdout.contains("uuid=\"\(Self.hereUUID)\"") && !exit.stdout.contains(Self.sourceUUID), "\(exit.stdout)")
            }
            // Already this node's secret: nothing printed, libvirt keeps its XML.
            let (same, _) = try Self.hook(agent.socketPath, "vm1", "migrate", "begin", xml: known.replacingOccurrences(of: Self.sourceUUID, with: Self.hereUUID))
            #expect(same.status == 0 && same.stdout.isEmpty, "\(same.stderr)")

            let unknown = Self.domain("vm1", disks: Self.rbdDisk(host: "198.51.100.7", port: 6789, uuid: Self.sourceUUID))
            let (refused, _) = try Self.hook(agent.socketPath, "vm1", "migrate", "begin", xml: unknown)
            #expect(refused.status != 0 && refused.stdout.isEmpty)
            #expect(refused.stderr.contains("198.51.100.7:6789") && refused.stderr.contains("known: ceph-a"), "\(refused.stderr)")
            let otherUser = Self.domain("vm1", disks: Self.rbdDisk(host: "192.0.2.21", port: 6789, uuid: Self.sourceUUID, user: "nova"))
            let (noUser, _) = try Self.hook(agent.socketPath, "vm1", "restore", "begin", xml: otherUser)
            #expect(noUser.status != 0 && noUser.stderr.contains("cluster ceph-a") && noUser.stderr.contains("no user nova"), "\(noUser.stderr)")
            // reconnect reports, never refuses: libvirt would kill the running domain.
            let (reconnect, _) = try Self.hook(agent.socketPath, "vm1", "reconnect", "begin", xml: unknown)
            #expect(reconnect.status == 0 && reconnect.stdout.isEmpty)
        }
    }

    /// An iSCSI CHAP disk whose target this node has not attached in network mode: refused before
    /// the migration starts, one line naming the target and what to do; a disk without CHAP passes.
    @Test func migrateRefusesAnISCSICHAPTargetThisNodeHasNotAttached() async throws {
        try await Self.withAgent { agent in
            let iqn = "iqn.2026-11.io.tether:vol-absent"
            let chap = """
                <disk type='network' device='disk'><source protocol='iscsi' name='\(iqn)/1'><host name='192.0.2.1' port='3260'/>\
                <auth username='u'><secret type='iscsi' usage='tether-iscsi-vol-absent'/></auth></source><target dev='vdc' bus='virtio'/></disk>
                """
            let plain = "<disk type='network' device='disk'><source protocol='iscsi' name='iqn.2026-11.org.other:plain/0'/><target dev='vdd' bus='virtio'/></disk>"
            for operation in ["migrate", "restore"] {
                let (refused, _) = try Self.hook(agent.socketPath, "vm1", operation, "begin", xml: Self.domain("vm1", disks: chap + plain))
                #expect(refused.status == 3 && refused.stdout.isEmpty, "\(refused.stderr)")
                let lines = refused.stderr.split(separator: "\n")
                #expect(lines.count == 1 && lines[0].contains(iqn) && lines[0].contains("tether attach") && lines[0].contains("network mode"), "\(refused.stderr)")
            }
            let (passed, _) = try Self.hook(agent.socketPath, "vm1", "migrate", "begin", xml: Self.domain("vm1", disks: plain))
            #expect(passed.status == 0 && passed.stdout.isEmpty, "\(passed.stderr)")
        }
    }

    /// The hook's whole process tree, sampled from /proc while it runs, is the script and
    /// `tether`; and a virsh placed first on its PATH is never run.
    @Test func theHookNeverRunsVirsh() async throws {
        try await Self.withAgent { agent in
            try await TemporaryDirectory.with(prefix: "hvs") { trap in
                let marker = trap.file("virsh-ran")
                try "#!/bin/sh\necho \"$@\" >> \(marker)\nexit 0\n".write(toFile: trap.file("virsh"), atomically: true, encoding: .utf8)
                chmod(trap.file("virsh"), 0o755)
                let xml = Self.domain("vm1", disks: Self.rbdDisk(host: "192.0.2.21", port: 6789, uuid: Self.sourceUUID))
                var names = Set<String>()
                for (operation, sub) in [("prepare", "begin"), ("migrate", "begin"), ("restore", "begin"), ("reconnect", "begin"), ("release", "end")] {
                    let environment = [
                        "PATH": "\(trap.path):/usr/bin:/bin", "TETHER": Self.tether, "TETHER_SOCKET": agent.socketPath, "TETHER_HOOK_CONF": "/nonexistent",
                    ]
                    let (pid, input) = try ChildProcess.start(
                        "/bin/sh", [Self.script, "vm1", operation, sub, "-"], environment: environment, stdout: trap.file("out"), stderr: trap.file("err"))
                    _ = xml.utf8CString.withUnsafeBufferPointer { write(input, $0.baseAddress, $0.count - 1) }
                    close(input)
                    var raw: Int32 = 0
                    while waitpid(pid, &raw, WNOHANG) == 0 {
                        names.formUnion(Self.descendants(of: pid))
                        usleep(500)
                    }
                    #expect(raw == 0, "\(operation) \(sub): \((try? String(contentsOfFile: trap.file("err"), encoding: .utf8)) ?? "")")
                }
                #expect(!FileManager.default.fileExists(atPath: marker))
                #expect(names.isSubset(of: ["sh", "tether"]), "\(names)")
                #expect(names.contains("tether"), "the sampler saw the hook's tether process: \(names)")
            }
        }
    }

    /// The command names of `root` and every process descended from it, read from /proc now.
    static func descendants(of root: Int32) -> Set<String> {
        var parents: [Int32: Int32] = [:]
        var names: [Int32: String] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            // A process may end between the listing and the read: it is skipped.
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
            else { continue }
            names[pid] = String(stat[stat.index(after: open)..<close])
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { parents[pid] = parent }
        }
        return Set(names.keys.filter { pid in
            var current: Int32? = pid
            while let id = current, id > 1 {
                if id == root { return true }
                current = parents[id]
            }
            return false
        }.compactMap { names[$0] })
    }
}
