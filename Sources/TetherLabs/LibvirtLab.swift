import Foundation
import TetherCore
import TetherFakes

/// A private libvirtd for a test (scripts/libvirt-lab.sh): own config, state and socket, in its
/// own mount namespace, so tests never touch this machine's libvirt.
public final class LibvirtLab: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let uri: String

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/libvirt-lab.sh").path
    }

    public static var isAvailable: Bool { Lab.has("libvirtd") && Lab.has("virsh") && Lab.has("unshare") }

    /// Tether's qemu hook installed in the lab's own /etc/libvirt/hooks/qemu.d: the `tether`
    /// client it runs, tetherd's socket, and its time bound in seconds.
    public struct Hook: Sendable {
        public var tether: String
        public var socket: String
        public var timeoutSeconds: Int

        public init(tether: String, socket: String, timeoutSeconds: Int = 5) {
            self.tether = tether
            self.socket = socket
            self.timeoutSeconds = timeoutSeconds
        }
    }

    /// - Parameter namespace: the network namespace libvirtd (and so its QEMUs) runs in; the test's own when nil.
    public init(hook: Hook? = nil, namespace: NodeNamespace? = nil) throws {
        directory = try TemporaryDirectory(prefix: "lv")
        let hookSettings = hook.map {
            ["LIBVIRT_LAB_HOOK_TETHER": $0.tether, "LIBVIRT_LAB_HOOK_SOCKET": $0.socket, "LIBVIRT_LAB_HOOK_TIMEOUT": "\($0.timeoutSeconds)"]
        } ?? [:]
        let result =
            if let namespace {
                try namespace.run("/bin/bash", [Self.script, "start", directory.path], environment: hookSettings)
            } else {
                try Lab.run("/bin/bash", [Self.script, "start", directory.path], environment: hookSettings)
            }
        guard result.status == 0 else {
            _ = try? Lab.run("/bin/bash", [Self.script, "stop", directory.path])
            throw TetherError(.internalError, "libvirt-lab start failed: \(result.output.suffix(2000))")
        }
        let environment = try String(contentsOfFile: directory.file("libvirt.env"), encoding: .utf8)
        uri = environment.split(separator: "\n").first { $0.hasPrefix("URI=") }.map { String($0.dropFirst(4)) } ?? ""
    }

    /// Runs virsh against this libvirtd. Never pass a secret.
    public func virsh(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Lab.run("virsh", ["-c", uri] + arguments)
    }

    /// Runs virsh and answers its output; a non-zero exit throws with it.
    @discardableResult
    public func check(_ arguments: [String]) throws -> String {
        let result = try virsh(arguments)
        guard result.status == 0 else {
            throw TetherError(.internalError, "virsh \(arguments.prefix(2).joined(separator: " ")) failed (\(result.status)): \(result.output.suffix(2000))")
        }
        return result.output
    }

    /// Defines a secret as another tool would (`virsh secret-define`, the value from a 0600 file,
    /// never argv): Nova's `rbd_secret_uuid`, or what an older Tether left.
    /// - Parameter base64Value: a cephx key is already base64; libvirt keeps its bytes.
    public func defineSecret(uuid: String, usage: String, type: String = "ceph", private isPrivate: Bool, base64Value: Secret) throws {
        let element = type == "iscsi" ? "target" : "name"
        let xml = """
            <secret ephemeral='no' private='\(isPrivate ? "yes" : "no")'>
              <uuid>\(uuid)</uuid>
              <usage type='\(type)'><\(element)>\(usage)</\(element)></usage>
            </secret>
            """
        let xmlFile = directory.file("secret-\(uuid).xml")
        let valueFile = directory.file("secret-\(uuid).value")
        try xml.write(toFile: xmlFile, atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: valueFile, contents: nil, attributes: [.posixPermissions: 0o600])
        try base64Value.reveal { try $0.write(toFile: valueFile, atomically: false, encoding: .utf8) }
        defer { try? FileManager.default.removeItem(atPath: valueFile) }  // the value lives in libvirt now; a failed removal leaves a 0600 file in the lab's own directory
        try check(["secret-define", xmlFile])
        try check(["secret-set-value", uuid, "--file", valueFile])
    }

    /// The ceph (or iscsi) secrets libvirt has: UUID and usage name, one line each from `virsh secret-list`.
    public func secrets() throws -> [(uuid: String, usage: String)] {
        try virsh(["secret-list"]).output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard fields.count == 2, UUID(uuidString: String(fields[0])) != nil else { return nil }
            return (String(fields[0]), fields[1].trimmingCharacters(in: .whitespaces))
        }
    }

    public func stop() {
        _ = try? Lab.run("/bin/bash", [Self.script, "stop", directory.path])
        directory.remove()
    }

    /// The lab's domain logs, QEMU's stderr included (scripts/libvirt-lab.sh keeps them in the lab).
    public func domainLog(_ name: String) -> String {
        // A domain that never started has no log yet: that reads as empty.
        (try? String(contentsOfFile: directory.file("log/domains/qemu/\(name).log"), encoding: .utf8)) ?? ""
    }

    public static func with<Value>(hook: Hook? = nil, namespace: NodeNamespace? = nil, _ body: (LibvirtLab) async throws -> Value) async throws -> Value {
        let lab = try LibvirtLab(hook: hook, namespace: namespace)
        do {
            let value = try await body(lab)
            lab.stop()
            return value
        } catch {
            lab.stop()
            throw error
        }
    }
}
