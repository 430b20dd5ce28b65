import Foundation
import TetherAPI
import TetherCeph
import TetherCore
import TetherRBD

#if canImport(Glibc)
import Glibc
#endif

/// Asks one cluster's monitors for the time: the clock-skew check's seam. `RADOSMonitorClock` is
/// the real one.
protocol MonitorClock: Sendable {
    /// The monitors' current time.
    func time(of cluster: CephCluster, user: CephUser, key: Secret) async throws -> Date
}

extension Doctor {
    /// Ceph's `mon_clock_drift_allowed`: beyond it Ceph warns of skew between its monitors.
    static let allowedClockSkew = 0.05

    /// ceph-permissions: with clusters registered, the ceph directory exists and only its owner
    /// may write it; each cluster's conf exists; each keyring, and each key file of the
    /// registry, is 0600 (no group or other bits) and owned by root (`SecretFile`).
    func cephPermissions(_ uses: Uses) async -> [DoctorFinding] {
        guard !uses.clusters.isEmpty else { return [DoctorFinding(.cephPermissions, .skipped, "no Ceph cluster is registered")] }
        let directory = configuration.cephDirectory
        var findings: [DoctorFinding] = []
        let agentUID = UInt32(geteuid())
        switch try? await host.fileStatus(directory) {
        case nil:
            return [
                DoctorFinding(
                    .cephPermissions, .failed, "the ceph directory \(directory) does not exist", hint: "run tether cluster sync, which creates it and its files")
            ]
        case let status? where status.kind != .directory:
            return [DoctorFinding(.cephPermissions, .failed, "\(directory) is a \(status.kind.rawValue), not a directory", hint: "move it away and run tether cluster sync")]
        case let status? where status.mode & 0o022 != 0 || (status.owner != 0 && status.owner != agentUID):
            findings.append(
                DoctorFinding(
                    .cephPermissions, .failed,
                    "\(directory) (mode \(SecretFile.octal(status.mode)), uid \(status.owner)) may be written by others: they could swap its confs and keyrings",
                    hint: "run chown root \(directory) && chmod go-w \(directory)"))
        default:
            break
        }
        var checked = 0
        for cluster in uses.clusters {
            let conf = CephFileSet.confPath(cluster: cluster.name, cephDirectory: directory)
            if await !host.fileExists(conf) {
                findings.append(DoctorFinding(.cephPermissions, .failed, "\(conf) of cluster \(cluster.name) is missing", hint: "run tether cluster sync"))
            }
            for user in cluster.users where uses.registry.key(for: user, in: cluster) != nil {
                let keyring = CephFileSet.keyringPath(cluster: cluster.name, user: user.name, cephDirectory: directory)
                for (path, what) in [(keyring, "keyring"), (user.keyFile, "key file")] {
                    checked += 1
                    guard let status = try? await host.fileStatus(path) else {
                        findings.append(
                            DoctorFinding(
                                .cephPermissions, .failed, "the \(what) \(path) of \(user.entity) of cluster \(cluster.name) is missing",
                                hint: what == "keyring" ? "run tether cluster sync" : "write the key to \(path) (chmod 600), then tether cluster sync"))
                        continue
                    }
                    if let problem = SecretFile.problem(path: path, status: status.secretFile, agentUID: agentUID) {
                        findings.append(DoctorFinding(.cephPermissions, .failed, problem.message, hint: problem.hint))
                    }
                }
            }
        }
        if findings.isEmpty {
            findings.append(
                DoctorFinding(.cephPermissions, .ok, "\(directory), \(uses.clusters.count) cluster conf(s) and \(checked) keyring and key file(s) are in order"))
        }
        return findings
    }

    /// clock-skew: this node's clock against each registered cluster's monitors, asked as its
    /// default user (or the first with a key). The monitors' time lies between the moments the
    /// question left and the answer came, so only skew beyond that window counts; over Ceph's
    /// `mon_clock_drift_allowed` (0.05 s) is a warning. Monitors that do not answer fail.
    func clockSkew(_ uses: Uses) async -> [DoctorFinding] {
        guard !uses.clusters.isEmpty else { return [DoctorFinding(.clockSkew, .skipped, "no Ceph cluster is registered")] }
        guard let monitorClock else { return [DoctorFinding(.clockSkew, .skipped, "this agent cannot ask monitors for their time")] }
        var findings: [DoctorFinding] = []
        for cluster in uses.clusters {
            let candidates = [cluster.defaultUser].compactMap { $0 } + cluster.users
            guard let user = candidates.first(where: { uses.registry.key(for: $0, in: cluster) != nil }),
                let key = uses.registry.key(for: user, in: cluster)
            else {
                findings.append(DoctorFinding(.clockSkew, .skipped, "cluster \(cluster.name) has no user with a key to ask its monitors with"))
                continue
            }
            let sent = now()
            let monitors: Date
            do {
                monitors = try await monitorClock.time(of: cluster, user: user, key: key)
            } catch {
                let failure = error as? TetherError
                findings.append(
                    DoctorFinding(
                        .clockSkew, .failed, "cannot ask the monitors of cluster \(cluster.name) (\(cluster.monHost)) for their time: \(failure?.message ?? "\(error)")",
                        hint: failure?.hint ?? "check mon_host in clusters.d/\(cluster.name).toml, the network and the key of \(user.entity)"))
                continue
            }
            let received = now()
            let window = received.timeIntervalSince(sent)
            // Positive: the monitors are ahead of this node.
            let skew =
                monitors < sent ? monitors.timeIntervalSince(sent)
                : monitors > received ? monitors.timeIntervalSince(received) : 0
            let measured = String(format: "%+.3f s (asked within %.3f s)", skew, window)
            if abs(skew) > Self.allowedClockSkew {
                findings.append(
                    DoctorFinding(
                        .clockSkew, .warning, "the monitors of cluster \(cluster.name) are \(measured) off this node's clock, over Ceph's 0.05 s",
                        hint: "synchronise this node's clock with the monitors' time source (chrony or systemd-timesyncd); cephx refuses tickets when clocks differ much"))
            } else {
                findings.append(DoctorFinding(.clockSkew, .ok, "cluster \(cluster.name): skew \(measured)"))
            }
        }
        return findings
    }
}

/// The monitors' time from their `report` command, whose `timestamp` is the monitor's clock
/// when it answered (`mon` `r` caps: Ceph's `profile rbd` has them).
struct RADOSMonitorClock: MonitorClock {
    let connections: RADOSConnections

    func time(of cluster: CephCluster, user: CephUser, key: Secret) async throws -> Date {
        let connection = try await connections.connection(cluster: cluster, user: user, key: key)
        let output = try await connection.monitorCommand(#"{"prefix": "report", "format": "json"}"#)
        struct Report: Decodable { var timestamp: String }
        guard let report = try? JSONDecoder().decode(Report.self, from: Data(output.utf8)), let time = Self.parse(report.timestamp) else {
            throw TetherError(.cephFailed, "the monitors of cluster \(cluster.name) answered `report` without a timestamp this agent can read")
        }
        return time
    }

    /// Ceph's `utime_t` as it prints: "2026-12-07T15:04:05.123456+0000" (or "... 15:04:05.123456"
    /// in the legacy form, taken as UTC).
    static func parse(_ text: String) -> Date? {
        let pattern = #"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"#
        guard let match = try? NSRegularExpression(pattern: pattern).firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
        func group(_ index: Int) -> String? {
            Range(match.range(at: index), in: text).map { String(text[$0]) }
        }
        var components = DateComponents()
        components.calendar = Calendar(identifier: .gregorian)
        components.timeZone = TimeZone(identifier: "UTC")
        components.year = group(1).flatMap(Int.init)
        components.month = group(2).flatMap(Int.init)
        components.day = group(3).flatMap(Int.init)
        components.hour = group(4).flatMap(Int.init)
        components.minute = group(5).flatMap(Int.init)
        components.second = group(6).flatMap(Int.init)
        guard let whole = components.date else { return nil }
        let fraction = group(7).flatMap { Double("0" + $0) } ?? 0
        var offset = 0
        if let zone = group(8), zone != "Z" {
            let digits = zone.dropFirst().filter(\.isNumber)
            let hours = Int(digits.prefix(2)) ?? 0
            let minutes = Int(digits.suffix(2)) ?? 0
            offset = (hours * 3600 + minutes * 60) * (zone.hasPrefix("-") ? -1 : 1)
        }
        return whole.addingTimeInterval(fraction - Double(offset))
    }
}
