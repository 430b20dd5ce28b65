import Logging
import TetherCore

/// open-iscsi's `iscsiadm`: node records, logins and logouts.
///
/// iscsiadm is never given a secret: CHAP passwords go straight into the node record file
/// (`writeSecrets`), written 0600 by Tether.
struct OpenISCSI: Sendable {
    let host: any Host
    let configuration: KernelISCSIConfiguration
    let logger: Logger

    enum LoginOutcome: Sendable {
        case loggedIn
        /// Another caller logged in to this portal and target first (exit 15).
        case alreadyLoggedIn
    }

    private func node(_ path: ISCSIPath) -> [String] {
        ["-m", "node", "-T", path.iqn, "-p", path.portal.description, "--interface", configuration.iface]
    }

    /// Runs iscsiadm; again, a few times, when it could not take its record database's lock.
    /// Two iscsiadm started at once (the paths of a multipath attach) can both find open-iscsi's
    /// lock directory missing and race to create it; the loser exits 6 ("Could not open
    /// /run/lock/iscsi: File exists") without having done anything.
    private func run(_ arguments: [String], timeout: Duration? = nil) async throws -> CommandResult {
        let command = Command("iscsiadm", arguments, timeout: timeout ?? configuration.timeouts.command)
        var result = try await host.run(command)
        for _ in 1..<Self.databaseAttempts where ISCSIAdmStatus(rawValue: result.exitCode) == .databaseError {
            logger.debug("iscsiadm found its database locked; again", metadata: ["stderr": "\(result.stderr.trimmedLine)"])
            try await host.clock.sleep(for: .milliseconds(100))
            result = try await host.run(command)
        }
        return result
    }

    static let databaseAttempts = 3

    func nodeExists(_ path: ISCSIPath) async throws -> Bool {
        let result = try await run(node(path))
        switch ISCSIAdmStatus(rawValue: result.exitCode) {
        case .success?: return true
        case .noObjectsFound?: return false
        default: throw ISCSIAdmStatus.error("node show", path: path, result: result)
        }
    }

    /// Whether `path` has a node record, and its file when Tether can find it. The file answers
    /// without an iscsiadm process (a large part of an attach on a slow CPU) where one of the node
    /// directories exists, as open-iscsi keeps its records there; otherwise iscsiadm answers.
    func findRecord(_ path: ISCSIPath) async throws -> (exists: Bool, file: String?) {
        if let file = try await recordFile(path) { return (true, file) }
        for directory in configuration.nodeDirectories where await host.resolvePath(directory) != nil {
            return (false, nil)
        }
        return (try await nodeExists(path), nil)
    }

    func createNode(_ path: ISCSIPath) async throws {
        let result = try await run(node(path) + ["--op", "new"])
        guard result.succeeded else { throw ISCSIAdmStatus.error("--op new", path: path, result: result) }
    }

    /// Sets one node setting; false when iscsiadm refused it (an older open-iscsi without it).
    @discardableResult
    func update(_ path: ISCSIPath, _ name: String, _ value: String) async throws -> Bool {
        try await update(path, [(name, value)])
    }

    /// Sets node settings in one iscsiadm call (it takes repeated -n/-v pairs); false when
    /// iscsiadm refused any of them, which may leave the others set.
    func update(_ path: ISCSIPath, _ settings: [(name: String, value: String)]) async throws -> Bool {
        let pairs = settings.flatMap { ["-n", $0.name, "-v", $0.value] }
        let result = try await run(node(path) + ["--op", "update"] + pairs)
        if !result.succeeded {
            logger.debug(
                "iscsiadm update refused",
                metadata: ["settings": "\(settings.map(\.name).joined(separator: ","))", "exit": "\(result.exitCode)", "portal": "\(path.portal)"])
        }
        return result.succeeded
    }

    func login(_ path: ISCSIPath) async throws -> LoginOutcome {
        let result = try await run(node(path) + ["--login"], timeout: configuration.timeouts.login)
        switch ISCSIAdmStatus(rawValue: result.exitCode) {
        case .success?: return .loggedIn
        case .sessionExists?: return .alreadyLoggedIn
        default: throw ISCSIAdmStatus.error("login", path: path, result: result)
        }
    }

    /// Logs out of the portal and target; no session is fine.
    func logout(_ path: ISCSIPath) async throws {
        let result = try await run(node(path) + ["--logout"])
        switch ISCSIAdmStatus(rawValue: result.exitCode) {
        case .success?, .noObjectsFound?, .sessionNotFound?: return
        default: throw ISCSIAdmStatus.error("logout", path: path, result: result)
        }
    }

    /// Deletes the node record; no record is fine.
    func deleteNode(_ path: ISCSIPath) async throws {
        let result = try await run(node(path) + ["--op", "delete"])
        switch ISCSIAdmStatus(rawValue: result.exitCode) {
        case .success?, .noObjectsFound?: return
        default: throw ISCSIAdmStatus.error("--op delete", path: path, result: result)
        }
    }

    // MARK: - Secrets in the record file

    /// The record file iscsiadm keeps for `path`, when there is one.
    func recordFile(_ path: ISCSIPath) async throws -> String? {
        for directory in configuration.nodeDirectories {
            let target = "\(directory)/\(path.iqn)"
            let entries = try await host.listDirectory(target)
            for candidate in ISCSINodeRecord.candidates(for: path.portal, iface: configuration.iface, in: entries) {
                let file = "\(target)/\(candidate)"
                if (try? await host.read(file)) != nil { return file }
            }
        }
        return nil
    }

    /// Puts the CHAP passwords (and, with mutual CHAP, the target's) into the node record and
    /// leaves the file readable by root only. Names and the method go through iscsiadm first,
    /// which checks them; the passwords are written last, as iscsiadm keeps them on rewrites.
    func writeSecrets(_ path: ISCSIPath, chap: CHAPCredentials, mutual: CHAPCredentials?) async throws {
        guard let file = try await recordFile(path) else {
            throw TetherError(
                .iscsiCommandFailed, "iscsiadm wrote no node record for \(path.portal) \(path.iqn) in \(configuration.nodeDirectories.joined(separator: " or "))",
                hint: "set the node record directory to open-iscsi's (its dbroot + /nodes)")
        }
        try await writeRecord(file, text: try await host.read(file), settings: [], chap: chap, mutual: mutual)
    }

    /// Writes record `file`, read as `text`, with `settings` and the CHAP passwords set, readable
    /// by root only. The callers have checked the values (`ISCSINodeRecord.check`): a line end
    /// in one would add a setting of its own.
    func writeRecord(_ file: String, text: String, settings: [(name: String, value: String)], chap: CHAPCredentials?, mutual: CHAPCredentials?) async throws {
        var all = settings
        if let chap { all.append((name: "node.session.auth.password", value: chap.password.reveal { $0 })) }
        if let mutual { all.append((name: "node.session.auth.password_in", value: mutual.password.reveal { $0 })) }
        let edited = ISCSINodeRecord.setting(all, in: text)
        try await host.writeFile(file, contents: Array(edited.utf8), mode: 0o600)
    }
}
