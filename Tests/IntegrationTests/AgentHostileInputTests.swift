import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile requests against a live agent with a real tgtd, one class of value at a time (numbers,
/// identifiers, iSCSI names, portals, CHAP, backing paths, path and query parameters, encrypted
/// volumes). Each answers 4xx naming the field; afterwards the agent still serves, and the state
/// directory (journal and secret files, every byte), tgtd's targets, ACLs and accounts, and the
/// backing directory are exactly as before.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd)), .lab(.tgtd), .timeLimit(.minutes(3)))
struct AgentHostileInputTests {
    /// What a request must not change.
    struct Snapshot: Equatable {
        var stateFiles: [String: Data]
        var targets: String
        var accounts: String
        var backing: [String: UInt64]
    }

    /// A live agent with one export and one network attachment (so there are journal rows,
    /// tgt targets and a secret file to disturb), and a Ceph registry of its own.
    struct Live {
        let client: TetherAgentClient
        let agent: AgentProcess
        let tgtd: Tgtd
        let export: ExportResponse
        let registry: TemporaryDirectory

        func snapshot() throws -> Snapshot {
            var files: [String: Data] = [:]
            let enumerator = FileManager.default.enumerator(atPath: agent.stateDirectory)
            while let name = enumerator?.nextObject() as? String {
                let path = agent.stateDirectory + "/" + name
                var isDirectory: ObjCBool = false
                // The -shm file is SQLite's shared-memory index, which every reader writes its
                // read mark into; the journal's data is in journal.sqlite and its -wal.
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue, !name.hasSuffix("-shm") {
                    files[name] = FileManager.default.contents(atPath: path) ?? Data()
                }
            }
            var backing: [String: UInt64] = [:]
            // Names of everything, sizes of backing files (tgtd's log grows on its own).
            for name in try FileManager.default.contentsOfDirectory(atPath: tgtd.directory.path) {
                let attributes = try? FileManager.default.attributesOfItem(atPath: tgtd.directory.file(name))
                backing[name] = name.hasSuffix(".img") ? (attributes?[.size] as? NSNumber)?.uint64Value ?? 0 : 0
            }
            // The cluster registry (clusters.d, keys, the ceph dir): what POST /v1/clusters writes.
            let registryFiles = FileManager.default.enumerator(atPath: registry.path)
            while let name = registryFiles?.nextObject() as? String {
                files["registry/" + name] = FileManager.default.contents(atPath: registry.file(name)) ?? Data()
            }
            return Snapshot(
                stateFiles: files, targets: try tgtd.tgtadm(["--op", "show", "--mode", "target"]),
                accounts: try tgtd.tgtadm(["--op", "show", "--mode", "account"]), backing: backing)
        }

        /// Sends a raw request and checks: a 4xx with `code`, the message naming `field`, a hint;
        /// the agent answers health afterwards; nothing changed.
        func expectRefused(
            _ method: String, _ target: String, body: String? = nil, code: String = "invalid_input", field: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            let before = try snapshot()
            let response = try await client.http.send(HTTPRequest(method: method, target: target, body: body.map { Data($0.utf8) }))
            let shown = "\(method) \(target.prefix(120)) \(body?.prefix(200) ?? "")"
            #expect((400..<500).contains(response.status), "\(shown): HTTP \(response.status)", sourceLocation: sourceLocation)
            let error = try? JSONDecoder().decode(ErrorBody.self, from: response.body)
            #expect(error?.error.code == code, "\(shown): \(String(decoding: response.body, as: UTF8.self))", sourceLocation: sourceLocation)
            #expect(error?.error.message.contains(field) == true, "\(shown): \(error?.error.message ?? "")", sourceLocation: sourceLocation)
            #expect(error?.error.hint?.isEmpty == false, "\(shown)", sourceLocation: sourceLocation)
            let health = try await client.health()
            #expect(health.status == "ok", sourceLocation: sourceLocation)
            let after = try snapshot()
            #expect(after == before, "\(shown) changed the state", sourceLocation: sourceLocation)
        }

        /// The export's connection_info (flat, as JSON text) with `key` set to the JSON `value`.
        func attachBody(_ key: String, _ value: String, nested: Bool = true) -> String {
            var data = export.connectionInfo.data
            data.removeValue(forKey: key)
            let encoded = String(decoding: try! JSONEncoder().encode(data), as: UTF8.self)
            let merged = "{\"\(key)\": \(value), " + encoded.dropFirst()
            return nested
                ? #"{"connection_info": {"driver_volume_type": "iscsi", "data": \#(merged)}}"#
                : #"{"connection_info": {"driver_volume_type": "iscsi", \#(merged.dropFirst())}"#
        }

        func exportBody(id: String = "\"vol-new\"", path: String? = nil, size: String = "16777216", initiator: String? = nil) -> String {
            let path = path ?? "\"\(tgtd.directory.file("vol-new.img"))\""
            let initiator = initiator ?? "\"\(agent.initiator)\""
            return #"{"volume": {"id": \#(id), "path": \#(path), "size_bytes": \#(size)}, "connector": {"initiator": \#(initiator)}}"#
        }
    }

    static func withLab(_ body: (Live) async throws -> Void) async throws {
        let registry = try TemporaryDirectory(prefix: "reg")
        defer { registry.remove() }
        try await Tgtd.with { tgtd in
            // No periodic reconcile: its round records the held attachment's health in the journal
            // (a write no request made), and a run of requests can outlast its 60 s interval.
            let config = Lab.cephConfig(registry: registry) + "\n[reconcile]\ninterval = 0\n"
            try await AgentProcess.with(tgtd: tgtd, extraConfig: config) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let export = try await AgentISCSITests.export(client, tgtd, volume: "vol-held", initiator: agent.initiator)
                let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
                try await body(Live(client: client, agent: agent, tgtd: tgtd, export: export, registry: registry))
                _ = try await client.detach(attachment.id)
                _ = try await client.deleteExport(volumeID: "vol-held")
                #expect(try await client.health().attachments == 0)
            }
        }
    }

    /// Every numeric limit that used to reach a conversion: sizes (UInt64 -> Int64, off_t),
    /// LUNs (Int32 for libiscsi), ports.
    @Test func numbersOutOfRange() async throws {
        try await Self.withLab { lab in
            // 2^31 and 2^32 are valid sizes; one byte past them is not a whole sector.
            for size in ["-1", "0", "511", "1000", "2147483649", "4294967297", "9223372036854775807", "9223372036854775808", "18446744073709551615",
                "18446744073709551616", "1e300", "\"64M\"", "true"] {
                try await lab.expectRefused("POST", "/v1/exports", body: lab.exportBody(size: size), field: "volume.size_bytes")
            }
            for lun in ["-1", "65536", "2147483648", "4294967296", "9223372036854775807", "1e20", "\"99999999999999999999\"", "1.5"] {
                try await lab.expectRefused("POST", "/v1/attachments", body: lab.attachBody("target_luns", "[\(lun), 1]"), field: "connection_info.data.target_luns[0]")
                try await lab.expectRefused("POST", "/v1/attachments", body: lab.attachBody("target_lun", lun, nested: false), field: "connection_info.target_lun")
            }
            for port in ["0", "65536", "4294967296", "-1", "+80"] {
                try await lab.expectRefused(
                    "POST", "/v1/attachments", body: lab.attachBody("target_portals", "[\"127.0.0.1:\(port)\", \"127.0.0.2:3260\"]"),
                    field: "connection_info.data.target_portals[0]")
            }
        }
    }

    /// Volume ids and refs: NUL, ../, path separators, line breaks, 10,000 characters, in bodies,
    /// path parameters and query parameters.
    @Test func identifiers() async throws {
        try await Self.withLab { lab in
            let long = String(repeating: "v", count: 10_000)
            for id in [#""vol\u0000x""#, #""../../etc/passwd""#, #"".""#, #""..""#, #""a/b""#, #""vol\nx""#, "\"\(long)\"", #""""#, #""vol:1""#] {
                try await lab.expectRefused("POST", "/v1/exports", body: lab.exportBody(id: id), field: "volume.id")
                try await lab.expectRefused("POST", "/v1/attachments", body: lab.attachBody("volume_id", id), field: "connection_info.data.volume_id")
                try await lab.expectRefused("POST", "/v1/local-attachments", body: #"{"volume_id": \#(id)}"#, field: "volume_id")
            }
            for ref in ["vol%00x", "..", "%2E%2E", "..%2F..%2Fetc%2Fpasswd", "vol%0Ax", String(repeating: "r", count: 10_000), "a%2Fb", "%ZZ"] {
                try await lab.expectRefused("GET", "/v1/attachments/\(ref)", field: "{ref}")
                try await lab.expectRefused("DELETE", "/v1/attachments/\(ref)", field: "{ref}")
                try await lab.expectRefused("POST", "/v1/attachments/\(ref)/extend", field: "{ref}")
                try await lab.expectRefused("DELETE", "/v1/exports/\(ref)", field: "{volume}")
                try await lab.expectRefused("DELETE", "/v1/local-attachments/\(ref)", field: "{volume}")
                try await lab.expectRefused("GET", "/v1/clusters/\(ref)", field: "{name}")
                try await lab.expectRefused("DELETE", "/v1/clusters/\(ref)", field: "{name}")
                try await lab.expectRefused("GET", "/v1/local-attachments/\(ref)", field: "{volume}")
                try await lab.expectRefused("POST", "/v1/cinder/connections/\(ref)", field: "{volume}")
                try await lab.expectRefused("DELETE", "/v1/cinder/connections/\(ref)", field: "{volume}")
            }
            try await lab.expectRefused("POST", "/v1/cinder/connections/vol-held?multipath=maybe", field: "multipath")
            for flag in ["yes", "TRUE%0A", "2", ""] {
                try await lab.expectRefused("DELETE", "/v1/attachments/vol-held?force=\(flag)", field: "force")
            }
        }
    }

    /// iSCSI names: a line break in an initiator must not become a second ACL entry in tgtd.
    @Test func iscsiNames() async throws {
        try await Self.withLab { lab in
            let evil = "iqn.2026-11.io.evil:intruder"
            for initiator in [#""\#(lab.agent.initiator)\n\#(evil)""#, #""\#(lab.agent.initiator)\u0000x""#, #""iqn.test:a""#, #""ALL""#, #""""#,
                #""\#(lab.agent.initiator),\#(evil)""#, #""\#(lab.agent.initiator) \#(evil)""#] {
                try await lab.expectRefused("POST", "/v1/exports", body: lab.exportBody(initiator: initiator), field: "connector.initiator")
            }
            try await lab.expectRefused("DELETE", "/v1/exports/vol-held?initiator=\(lab.agent.initiator)%0A\(evil)", field: "initiator")
            for iqn in [#""\#(lab.export.export.targetIQN)\n\#(evil)""#, #""\#(lab.export.export.targetIQN)\u0000""#, #""iqn.bad""#] {
                try await lab.expectRefused("POST", "/v1/attachments", body: lab.attachBody("target_iqn", iqn), field: "connection_info.data.target_iqn")
            }
            #expect(try !lab.tgtd.tgtadm(["--op", "show", "--mode", "target"]).contains("evil"))
        }
    }

    @Test func portalsAndCHAP() async throws {
        try await Self.withLab { lab in
            for portal in [#""evil host:3260""#, #""127.0.0.1:3260\n""#, #""[::1""#, #""127.0.0.1:99999""#, #""""#, #""[127.0.0.1]:3260""#] {
                try await lab.expectRefused("POST", "/v1/attachments", body: lab.attachBody("target_portal", portal), field: "connection_info.data.target_portal")
            }
            for user in [#""user\nname""#, #""u,x""#, "\"\(String(repeating: "u", count: 256))\"", #""u<x>""#] {
                try await lab.expectRefused("POST", "/v1/attachments", body: lab.attachBody("auth_username", user), field: "connection_info.data.auth_username")
            }
            for password in [#""pass\u0000word""#, #""a,b""#, "\"\(String(repeating: "p", count: 256))\"", #""with space""#] {
                try await lab.expectRefused("POST", "/v1/attachments", body: lab.attachBody("auth_password", password), field: "connection_info.data.auth_password")
            }
        }
    }

    /// Backing paths: outside the allow-list, a symlink escaping it, a directory, a FIFO,
    /// relative paths, a tgt parameter separator.
    @Test func backingPaths() async throws {
        try await Self.withLab { lab in
            let directory = lab.tgtd.directory
            try FileManager.default.createSymbolicLink(atPath: directory.file("escape"), withDestinationPath: "/etc")
            try FileManager.default.createSymbolicLink(atPath: directory.file("passwd-link"), withDestinationPath: "/etc/passwd")
            try FileManager.default.createDirectory(atPath: directory.file("subdir"), withIntermediateDirectories: false)
            #expect(mkfifo(directory.file("fifo"), 0o600) == 0)
            for path in ["/etc/passwd", "/etc/tether-new.img", directory.file("escape/passwd"), directory.file("escape/new.img"), directory.file("passwd-link"),
                directory.file("subdir"), directory.file("fifo"), "relative.img", directory.file("a,b.img"), directory.file("../x.img"), "/dev/null"] {
                try await lab.expectRefused("POST", "/v1/exports", body: lab.exportBody(path: "\"\(path)\""), field: "volume.path")
            }
            #expect(!FileManager.default.fileExists(atPath: "/etc/tether-new.img"))
        }
    }

    /// Ceph names and keys: nothing reaches clusters.d, the keys directory, librados or libvirt.
    @Test func cephNames() async throws {
        try await Self.withLab { lab in
            let fsid = "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c"
            let key = "AQBVvd9kAAAAABAAwJ0hY5pXk3m1b0k+Qe0w1A=="
            func cluster(name: String = "\"ceph-x\"", fsid: String = "\"\(fsid)\"", user: String = "\"cinder\"", key: String = "\"\(key)\"") -> String {
                #"{"name": \#(name), "fsid": \#(fsid), "mon_host": ["127.0.0.1:6789"], "users": [{"name": \#(user), "key": \#(key)}]}"#
            }
            for name in [#""../ceph""#, #""ceph\u0000x""#, #""ceph\nx""#, "\"\(String(repeating: "c", count: 10_000))\"", #"".""#] {
                try await lab.expectRefused("POST", "/v1/clusters", body: cluster(name: name), field: "name")
                try await lab.expectRefused(
                    "POST", "/v1/exports", body: #"{"volume": {"id": "v-rbd", "rbd": {"cluster": \#(name), "pool": "rbd", "image": "i"}}, "connector": {}}"#,
                    field: "volume.rbd.cluster")
            }
            try await lab.expectRefused("POST", "/v1/clusters", body: cluster(fsid: #""not-a-uuid""#), field: "fsid")
            try await lab.expectRefused("POST", "/v1/clusters", body: cluster(user: #""cinder\n[client.admin]""#), field: "users[0].name")
            try await lab.expectRefused("POST", "/v1/clusters", body: cluster(key: #""key\n[client.admin]\n\tkey = x""#), field: "users[0].key")
            for image in [#""../../x""#, #""a/b""#, #""img\u0000""#] {
                try await lab.expectRefused(
                    "POST", "/v1/exports", body: #"{"volume": {"id": "v-rbd", "rbd": {"cluster": "ceph", "pool": "rbd", "image": \#(image)}}, "connector": {}}"#,
                    field: "volume.rbd.image")
            }
        }
    }

    /// `encrypted: true` in any shape is `unsupported`, before any login or secret file.
    @Test func encryptedVolumes() async throws {
        try await Self.withLab { lab in
            for value in ["true", "\"true\"", "\"True\"", "1"] {
                try await lab.expectRefused("POST", "/v1/attachments", body: lab.attachBody("encrypted", value), code: "unsupported", field: "connection_info.data.encrypted")
                try await lab.expectRefused("POST", "/v1/attachments", body: lab.attachBody("encrypted", value, nested: false), code: "unsupported", field: "connection_info.encrypted")
            }
            for mode in ["network", "kernel"] {
                let body = lab.attachBody("encrypted", "true").dropLast() + #", "mode": "\#(mode)"}"#
                try await lab.expectRefused("POST", "/v1/attachments", body: String(body), code: "unsupported", field: "encrypted")
            }
        }
    }
}
