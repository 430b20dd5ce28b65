import Foundation
import TetherAPI
import TetherCore

extension Doctor {
    /// multipathd: with `[multipath] enabled`, multipathd answers (`multipathd show status`) and
    /// its configuration (`multipathd show config`, else `multipath -t`) does not blacklist the
    /// SCSI disks Tether hands it. Any find_multipaths works: Tether records the WWID
    /// (`multipath -a`) and adds the paths itself (`multipathd add path`).
    func multipathd(_ uses: Uses) async -> [DoctorFinding] {
        guard uses.multipath else { return [DoctorFinding(.multipathd, .skipped, "[multipath] is not enabled")] }
        let status = try? await host.run(Command("multipathd", ["show", "status"], timeout: .seconds(10)))
        // Older multipathd printed this and still exited 0 when the daemon was down.
        guard let status, status.succeeded, !status.stdout.hasPrefix("error receiving packet") else {
            let why = status.map { result in
                let output = (result.stderr + result.stdout).trimmedLine
                return "exited \(result.exitCode)" + (output.isEmpty ? "" : ": \(output)")
            } ?? "cannot be run"
            return [
                DoctorFinding(
                    .multipathd, .failed, "[multipath] is enabled but multipathd does not answer (multipathd show status \(why))",
                    hint: "install multipath-tools and start it: systemctl enable --now multipathd")
            ]
        }
        var config = try? await host.run(Command("multipathd", ["show", "config"], timeout: .seconds(10)))
        if config?.succeeded != true { config = try? await host.run(Command("multipath", ["-t"], timeout: .seconds(10))) }
        guard let config, config.succeeded, !config.stdout.isEmpty else {
            return [
                DoctorFinding(
                    .multipathd, .warning, "multipathd answers but shows no configuration (multipathd show config, multipath -t)",
                    hint: "check /etc/multipath.conf with multipath -t")
            ]
        }
        let parsed = MultipathConfig(parsing: config.stdout)
        let findMultipaths = parsed.defaults["find_multipaths"] ?? "no"
        if let rule = parsed.blacklistedDisk {
            return [
                DoctorFinding(
                    .multipathd, .failed, "multipathd runs, but its blacklist (\(rule)) takes SCSI disks (sdX) away from it: Tether's paths get no map",
                    hint: "remove the rule from /etc/multipath.conf, or add blacklist_exceptions { devnode \"^sd[a-z]+\" }, then multipathd reconfigure")
            ]
        }
        return [DoctorFinding(.multipathd, .ok, "multipathd runs; find_multipaths \(findMultipaths)")]
    }
}

/// The parts of multipathd's configuration (`multipathd show config`) the doctor reads: the
/// defaults section's values and the devnode rules of blacklist and blacklist_exceptions.
struct MultipathConfig: Sendable, Hashable {
    var defaults: [String: String] = [:]
    var blacklistDevnodes: [String] = []
    var exceptionDevnodes: [String] = []

    init(parsing text: String) {
        var stack: [String] = []
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line == "}" {
                _ = stack.popLast()
                continue
            }
            if line.hasSuffix("{") {
                stack.append(line.dropLast().trimmingCharacters(in: .whitespaces))
                continue
            }
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            var value = parts[1].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            switch (stack, parts[0]) {
            case (["defaults"], let key): defaults[key] = value
            case (["blacklist"], "devnode"): blacklistDevnodes.append(value)
            case (["blacklist_exceptions"], "devnode"): exceptionDevnodes.append(value)
            default: break
            }
        }
    }

    /// The blacklist rule that takes a SCSI disk (sdb, sdaa) from multipath, unless an exception
    /// gives it back; nil when none does. A rule starting with "!" blacklists what does not
    /// match the rest.
    var blacklistedDisk: String? {
        let disks = ["sdb", "sdaa"]
        func matches(_ rule: String, _ name: String) -> Bool {
            let negated = rule.hasPrefix("!")
            let pattern = negated ? String(rule.dropFirst()) : rule
            let hit = name.range(of: pattern, options: .regularExpression) != nil
            return negated ? !hit : hit
        }
        for rule in blacklistDevnodes {
            for disk in disks where matches(rule, disk) && !exceptionDevnodes.contains(where: { matches($0, disk) }) {
                return "devnode \"\(rule)\""
            }
        }
        return nil
    }
}
