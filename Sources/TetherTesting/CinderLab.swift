import Foundation
import Synchronization
import TetherCore

/// A real Cinder (scripts/cinder-lab.sh) over two Ceph lab clusters, shared by the tests of one
/// process: it takes ~15 s to start. Stopped when the test process exits.
public final class CinderLab: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let cephA: CephLab
    public let cephB: CephLab
    public let values: [String: String]

    public var url: String { values["CINDER_URL"] ?? "" }
    public var projectID: String { values["PROJECT_ID"] ?? "" }
    public var apiPort: Int { Int(values["API_PORT"] ?? "") ?? 0 }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/cinder-lab.sh").path
    }

    public static var isAvailable: Bool {
        CephLab.isAvailable && Lab.has("cinder-api") && FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/postgres")
    }

    private static let shared = Mutex<Task<CinderLab, any Error>?>(nil)

    /// The process's lab, started on first use.
    public static func running() async throws -> CinderLab {
        let task = shared.withLock { current in
            if let current { return current }
            let started = Task { try await Lab.offPool { try CinderLab() } }
            current = started
            return started
        }
        return try await task.value
    }

    private init() throws {
        let base = CephLab.nextBasePort()
        cephA = try CephLab(name: "ceph-a", basePort: base)
        do {
            cephB = try CephLab(name: "ceph-b", basePort: base + 200)
        } catch {
            cephA.stop()
            throw error
        }
        directory = try TemporaryDirectory(prefix: "cinder")
        // 44100-44120: above the Ceph labs' ports, below tgtd's.
        let result = try Lab.run(
            "/bin/bash", [Self.script, "start", directory.path, cephA.directory.path, cephB.directory.path], environment: ["CINDER_LAB_BASE": "44100"])
        guard result.status == 0 else {
            _ = try? Lab.run("/bin/bash", [Self.script, "stop", directory.path])
            cephA.stop()
            cephB.stop()
            throw TetherError(.internalError, "cinder-lab start failed: \(result.output.suffix(3000))")
        }
        var values: [String: String] = [:]
        for line in try String(contentsOfFile: directory.file("cinder.env"), encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        self.values = values
        Self.stopAtExit(self)
    }

    private static let toStop = Mutex<[CinderLab]>([])

    private static func stopAtExit(_ lab: CinderLab) {
        let first = toStop.withLock { labs in
            labs.append(lab)
            return labs.count == 1
        }
        guard first else { return }
        atexit {
            for lab in CinderLab.toStop.withLock({ $0 }) { lab.stop() }
        }
    }

    private let stopped = Mutex(false)

    /// Stops everything; again is a no-op.
    public func stop() {
        guard stopped.withLock({ done in defer { done = true }; return !done }) else { return }
        _ = try? Lab.run("/bin/bash", [Self.script, "stop", directory.path])
        directory.remove()
        cephA.stop()
        cephB.stop()
    }

    public func stopAPI() throws {
        let result = try Lab.run("/bin/bash", [Self.script, "stop-api", directory.path])
        guard result.status == 0 else { throw TetherError(.internalError, "cinder-lab stop-api failed: \(result.output.suffix(2000))") }
    }

    public func startAPI() throws {
        let result = try Lab.run("/bin/bash", [Self.script, "start-api", directory.path])
        guard result.status == 0 else { throw TetherError(.internalError, "cinder-lab start-api failed: \(result.output.suffix(2000))") }
    }

    /// The `[cinder]` table of a tether.toml for this lab; `endpoint` overrides the URL (a tap).
    public func agentConfig(endpoint: String? = nil, microversion: String? = nil) -> String {
        var text = """
            [cinder]
            auth_type = "noauth"
            endpoint = "\(endpoint ?? url)"
            project_id = "\(projectID)"
            timeout = 10
            retry_interval = 1
            """
        if let microversion { text += "\nmicroversion = \"\(microversion)\"" }
        return text
    }

    // MARK: - Cinder's API, as an admin would use it

    /// One request as the lab's admin; the answer's JSON, or an error with Cinder's message.
    @discardableResult
    public func api(_ method: String, _ path: String, _ body: String? = nil, microversion: String = "3.44") throws -> JSONValue {
        var arguments = [
            "-sS", "--noproxy", "*", "--max-time", "30", "-X", method, "-H", "X-Auth-Token: admin:\(projectID)", "-H", "Accept: application/json",
            "-H", "OpenStack-API-Version: volume \(microversion)", "-w", "\n%{http_code}",
        ]
        if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
        let result = try Lab.run("curl", arguments + [url + path])
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        let text = lines.dropLast().joined(separator: "\n")
        guard result.status == 0, (200..<300).contains(status) else {
            throw TetherError(.internalError, "Cinder \(method) \(path): HTTP \(status): \(text.prefix(500))")
        }
        guard !text.isEmpty else { return .null }
        return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// Creates a volume of `type` (ceph-a or ceph-b) and waits until it is available.
    public func createVolume(type: String, sizeGiB: Int = 1) async throws -> String {
        let created = try api("POST", "/volumes", #"{"volume": {"size": \#(sizeGiB), "volume_type": "\#(type)", "name": "tether-test"}}"#)
        guard let id = created["volume"]?["id"]?.stringValue else { throw TetherError(.internalError, "no volume id in \(created)") }
        try await waitForStatus(id, "available")
        return id
    }

    public func volume(_ id: String) throws -> JSONValue {
        try api("GET", "/volumes/\(id)")["volume"] ?? .null
    }

    public func status(_ id: String) throws -> String {
        try volume(id)["status"]?.stringValue ?? ""
    }

    /// Cinder's attachments of the volume, whatever their state.
    public func attachments(_ id: String) throws -> [JSONValue] {
        try api("GET", "/attachments/detail?volume_id=\(id)", microversion: "3.31")["attachments"]?.arrayValue ?? []
    }

    public func waitForStatus(_ id: String, _ status: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            last = try self.status(id)
            if last == status { return }
            if last == "error", status != "error" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TetherError(.timedOut, "volume \(id) is \(last), not \(status)")
    }

    public func resetStatus(_ id: String, to status: String) throws {
        try api("POST", "/volumes/\(id)/action", #"{"os-reset_status": {"status": "\#(status)"}}"#)
    }

    public func deleteVolume(_ id: String) {
        _ = try? api("DELETE", "/volumes/\(id)")
    }
}
