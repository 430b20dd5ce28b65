import Foundation
import TetherAPI
import TetherCore

extension Doctor {
    /// The SHA-256 of each rules file in the repository's udev/ as this version ships them.
    /// `DoctorTests.udevRuleDigestsMatchTheRepository` fails, naming the new value, when a rules
    /// file changes without this table.
    static let udevRuleDigests: [(file: String, sha256: String)] = [
        ("60-tether.rules", "7095892140494bf36a786a5c0498391d511abfa59510ae00a463aba34f8c88b3"),
        ("60-tether-rbd.rules", "fd6dc2657e58c4e4f6f9a592185d3c947627a6e43a0238b524ee423cc1a15e83"),
    ]

    /// Where udev reads rules, first wins for a file name (udev(7)).
    static let udevRuleDirectories = ["/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"]

    /// udev-rules: the rules a feature in use needs (60-tether.rules for kernel iSCSI,
    /// 60-tether-rbd.rules and the `/usr/bin/tether` it runs for krbd) are where udev reads them,
    /// as this version ships them, and udevd runs.
    func udevRules(_ uses: Uses) async -> [DoctorFinding] {
        var wanted: [(file: String, why: String)] = []
        if let why = uses.kernelISCSI { wanted.append(("60-tether.rules", why)) }
        if let why = uses.kernelRBD { wanted.append(("60-tether-rbd.rules", why)) }
        guard !wanted.isEmpty else {
            return [DoctorFinding(.udevRules, .skipped, "no kernel-mode feature is in use, so no stable names are made: \(Self.noKernelISCSI); \(Self.noKernelRBD)")]
        }
        var findings: [DoctorFinding] = []
        if await !host.fileExists("\(base)/run/udev/control") {
            findings.append(
                DoctorFinding(
                    .udevRules, .failed, "udevd is not running (no /run/udev/control): devices get no stable names and Tether waits for udev's events in vain",
                    hint: "start it: systemctl start systemd-udevd"))
        }
        for (file, why) in wanted {
            let expected = Self.udevRuleDigests.first { $0.file == file }?.sha256
            var installed: String?
            for directory in Self.udevRuleDirectories where await host.fileExists("\(base)\(directory)/\(file)") {
                installed = "\(directory)/\(file)"
                break
            }
            guard let installed else {
                findings.append(
                    DoctorFinding(
                        .udevRules, .failed, "\(file) is not installed in \(Self.udevRuleDirectories.joined(separator: ", ")); needed because \(why)",
                        hint: "install udev/\(file) of this version in /etc/udev/rules.d (the package puts it in /usr/lib/udev/rules.d), then udevadm control --reload"))
                continue
            }
            let text = (try? await host.read("\(base)\(installed)")) ?? ""
            if SHA256.hex(of: Array(text.utf8)) != expected {
                findings.append(
                    DoctorFinding(
                        .udevRules, .warning, "\(installed) differs from the \(file) of tether \(TetherVersion.current)",
                        hint: "install udev/\(file) of this version over it, then udevadm control --reload"))
            } else {
                findings.append(DoctorFinding(.udevRules, .ok, "\(installed) is this version's"))
            }
            if file == "60-tether-rbd.rules", await !host.fileExists("\(base)/usr/bin/tether") {
                findings.append(
                    DoctorFinding(
                        .udevRules, .failed, "\(file) runs /usr/bin/tether udev rbd, which is missing: krbd devices get no /dev/rbd/<cluster>/... name",
                        hint: "install tether as /usr/bin/tether"))
            }
        }
        return findings
    }
}
