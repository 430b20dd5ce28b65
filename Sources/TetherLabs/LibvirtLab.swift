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

    public init() throws {
        directory = try TemporaryDirectory(prefix: "lv")
        let result = try Lab.run("/bin/bash", [Self.script, "start", directory.path])
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

    public func stop() {
        _ = try? Lab.run("/bin/bash", [Self.script, "stop", directory.path])
        directory.remove()
    }

    public static func with<Value>(_ body: (LibvirtLab) async throws -> Value) async throws -> Value {
        let lab = try LibvirtLab()
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
