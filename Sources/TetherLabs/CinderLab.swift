import Foundation
import Synchronization
import TetherCore
import TetherFakes

/// A real Cinder (scripts/cinder-lab.sh) over two Ceph lab clusters, with a real Keystone
/// (`CINDER_LAB_AUTH=noauth` in the test's environment: none, Cinder in noauth), shared by the
/// tests of one process: it takes ~20-60 s to start. Stopped when the test process exits.
public final class CinderLab: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let cephA: CephLab
    public let cephB: CephLab
    public let values: [String: String]

    public var url: String { values["CINDER_URL"] ?? "" }
    public var projectID: String { values["PROJECT_ID"] ?? "" }
    public var apiPort: Int { Int(values["API_PORT"] ?? "") ?? 0 }
    /// Whether Cinder checks tokens with the lab's Keystone (else noauth).
    public var usesKeystone: Bool { values["AUTH"] == "keystone" }
    public var keystoneURL: String { values["KEYSTONE_URL"] ?? "" }
    /// Where `withExpiringKeystone` serves: the port after the lab's Keystone.
    public var expiringKeystonePort: Int { (Int(values["KEYSTONE_PORT"] ?? "") ?? -1) + 1 }
    /// The port of each volumev3 endpoint in the catalog, by "REGION/INTERFACE".
    public var endpointPorts: [String: Int] {
        var ports: [String: Int] = [:]
        for item in (values["KEYSTONE_ENDPOINT_PORTS"] ?? "").split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let port = Int(parts[1]) { ports[String(parts[0])] = port }
        }
        return ports
    }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/cinder-lab.sh").path
    }

    public static var isAvailable: Bool {
        CephLab.isAvailable && Lab.has("cinder-api") && FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/postgres")
    }

    /// The lab's auth, from the test's environment: keystone unless CINDER_LAB_AUTH=noauth.
    public static var authMode: String {
        ProcessInfo.processInfo.environment["CINDER_LAB_AUTH"] == "noauth" ? "noauth" : "keystone"
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
            "/bin/bash", [Self.script, "start", directory.path, cephA.directory.path, cephB.directory.path], environment: ["CINDER_LAB_BASE": "44100", "CINDER_LAB_AUTH": Self.authMode])
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

    /// How the agent proves who it is to the lab's Keystone.
    public enum AgentAuth: Sendable {
        /// User tether's password (the lab's 0600 file).
        case password
        /// This password file instead (a wrong password).
        case passwordFile(String)
        /// Tether's application credential.
        case applicationCredential
        /// A token issued beforehand, in this 0600 file; the catalog from exchanging it.
        case token(file: String)
    }

    /// The `[cinder]` table of a tether.toml for this lab; `endpoint` overrides the URL (a tap),
    /// else the catalog's endpoint for `interface` and `region` is used. Without Keystone: noauth.
    /// `authURL` overrides the lab's Keystone (a tap, the expiring Keystone).
    public func agentConfig(
        endpoint: String? = nil, microversion: String? = nil, auth: AgentAuth = .password, interface: String? = nil, region: String? = nil,
        authURL: String? = nil
    ) -> String {
        var text = "[cinder]\ntimeout = 10\nretry_interval = 1\n"
        if !usesKeystone {
            text += "auth_type = \"noauth\"\nendpoint = \"\(endpoint ?? url)\"\nproject_id = \"\(projectID)\"\n"
        } else {
            text += "auth_url = \"\(authURL ?? keystoneURL)\"\n"
            if let endpoint { text += "endpoint = \"\(endpoint)\"\n" }
            switch auth {
            case .password, .passwordFile:
                let file: String
                if case .passwordFile(let given) = auth { file = given } else { file = values["TETHER_PASSWORD_FILE"] ?? "" }
                text += "auth_type = \"password\"\nusername = \"\(values["TETHER_USER"] ?? "")\"\npassword_file = \"\(file)\"\nproject_name = \"admin\"\n"
            case .applicationCredential:
                text += """
                    auth_type = "v3applicationcredential"
                    application_credential_id = "\(values["APPCRED_ID"] ?? "")"
                    application_credential_secret_file = "\(values["APPCRED_SECRET_FILE"] ?? "")"

                    """
            case .token(let file):
                text += "auth_type = \"token\"\ntoken_file = \"\(file)\"\n"
            }
            if let interface { text += "interface = \"\(interface)\"\n" }
            // RegionOne unless told: without a region the first endpoint of the interface would do,
            // and the catalog's order is Keystone's.
            text += "region = \"\(region ?? "RegionOne")\"\n"
        }
        if let microversion { text += "microversion = \"\(microversion)\"\n" }
        return text
    }

    // MARK: - Keystone, as the test uses it

    /// A project-scoped token of user tether, written to a new 0600 file in `directory`.
    public func issueToken(in directory: TemporaryDirectory) throws -> String {
        let password = try String(contentsOfFile: values["TETHER_PASSWORD_FILE"] ?? "", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let body: JSONValue = [
            "auth": [
                "identity": ["methods": ["password"], "password": ["user": ["name": "tether", "domain": ["id": "default"], "password": .string(password)]]],
                "scope": ["project": ["name": "admin", "domain": ["id": "default"]]],
            ]
        ]
        // The password goes in a file curl reads: never on a command line.
        let bodyFile = directory.file("token-request.json")
        let headers = directory.file("token-answer.headers")
        try Self.writePrivate(String(decoding: try JSONEncoder().encode(body), as: UTF8.self), to: bodyFile)
        defer { try? FileManager.default.removeItem(atPath: bodyFile) }  // the password must not stay; a leftover dies with the directory
        let result = try Lab.run(
            "curl", ["-sS", "-f", "--noproxy", "*", "--max-time", "30", "-o", "/dev/null", "-D", headers, "-H", "Content-Type: application/json",
                     "-d", "@" + bodyFile, keystoneURL + "/auth/tokens"])
        let answer = (try? String(contentsOfFile: headers, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: headers)  // holds the token; the directory goes anyway
        guard result.status == 0,
            let line = answer.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("x-subject-token:") })
        else { throw TetherError(.internalError, "Keystone issued no token: \(result.output.suffix(500))") }
        let token = line.dropFirst("x-subject-token:".count).trimmingCharacters(in: .whitespaces)
        let file = directory.file("tether.token")
        try Self.writePrivate(token, to: file)
        return file
    }

    /// Revokes a token in Keystone, as an admin; Cinder refuses it from then on (the lab's
    /// keystonemiddleware caches no token).
    public func revoke(token: String) throws {
        let headers = directory.file("revoke.headers")
        let admin = try String(contentsOfFile: values["ADMIN_HEADER"] ?? "", encoding: .utf8)
        try Self.writePrivate(admin.trimmingCharacters(in: .whitespacesAndNewlines) + "\nX-Subject-Token: \(token)\n", to: headers)
        defer { try? FileManager.default.removeItem(atPath: headers) }  // a leftover goes with the lab's directory
        let result = try Lab.run("curl", ["-sS", "-f", "--noproxy", "*", "--max-time", "30", "-X", "DELETE", "-H", "@" + headers, keystoneURL + "/auth/tokens"])
        guard result.status == 0 else { throw TetherError(.internalError, "Keystone did not revoke the token: \(result.output.suffix(500))") }
    }

    /// Whether the lab's Keystone takes `token` as valid now (200), by its own clock; false when it
    /// answers 404 (expired or revoked).
    public func isValid(token: String) throws -> Bool {
        let headers = directory.file("validate.headers")
        let admin = try String(contentsOfFile: values["ADMIN_HEADER"] ?? "", encoding: .utf8)
        try Self.writePrivate(admin.trimmingCharacters(in: .whitespacesAndNewlines) + "\nX-Subject-Token: \(token)\n", to: headers)
        defer { try? FileManager.default.removeItem(atPath: headers) }  // a leftover goes with the lab's directory
        let result = try Lab.run(
            "curl", ["-sS", "--noproxy", "*", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}", "-H", "@" + headers, keystoneURL + "/auth/tokens"])
        switch result.output.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "200": return true
        case "404": return false
        default: throw TetherError(.internalError, "Keystone did not validate the token: \(result.output.suffix(500))")
        }
    }

    /// Runs `body` with a second Keystone of the lab (same database and keys) whose tokens live
    /// `tokenLifetime` seconds, given its auth URL; ends it afterwards. The lab's own Keystone keeps
    /// its lifetime: the admin's token and Cinder's service user go on working meanwhile.
    public func withExpiringKeystone<T>(tokenLifetime: Int, _ body: (String) async throws -> T) async throws -> T {
        let result = try Lab.run("/bin/bash", [Self.script, "start-keystone-expiring", directory.path, String(tokenLifetime)])
        let stop = { _ = try? Lab.run("/bin/bash", [Self.script, "stop-keystone-expiring", self.directory.path]) }
        guard result.status == 0 else {
            stop()
            throw TetherError(.internalError, "cinder-lab start-keystone-expiring failed: \(result.output.suffix(2000))")
        }
        do {
            let value = try await body("http://127.0.0.1:\(expiringKeystonePort)/v3")
            stop()
            return value
        } catch {
            stop()
            throw error
        }
    }

    public static func writePrivate(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw TetherError(.internalError, "cannot write \(path)")
        }
    }

    // MARK: - Cinder's API, as an admin would use it

    /// One request as the lab's admin; the answer's JSON, or an error with Cinder's message.
    @discardableResult
    public func api(_ method: String, _ path: String, _ body: String? = nil, microversion: String = "3.44") throws -> JSONValue {
        var arguments = [
            "-sS", "--noproxy", "*", "--max-time", "30", "-X", method, "-H", "@" + (values["ADMIN_HEADER"] ?? ""), "-H", "Accept: application/json",
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
