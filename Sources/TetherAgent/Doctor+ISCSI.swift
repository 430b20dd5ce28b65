import Foundation
import TetherAPI
import TetherCore

extension Doctor {
    /// kernel-modules: one finding per module a feature in use needs — iscsi_tcp (kernel iSCSI),
    /// dm_multipath ([multipath]), rbd (krbd) — built in or loaded (/sys/module, /proc/modules),
    /// or loadable (modules.dep: iscsid, multipathd and tetherd load them when needed).
    func kernelModules(_ uses: Uses) async -> [DoctorFinding] {
        var wanted: [(module: String, why: String)] = []
        if let why = uses.kernelISCSI { wanted.append(("iscsi_tcp", why)) }
        if uses.multipath { wanted.append(("dm_multipath", "[multipath] is enabled")) }
        if let why = uses.kernelRBD { wanted.append(("rbd", why)) }
        guard !wanted.isEmpty else {
            return [DoctorFinding(.kernelModules, .skipped, "no kernel-mode feature is in use: \(Self.noKernelISCSI); \(Self.noKernelRBD)")]
        }
        let modules = (try? await host.read("\(base)/proc/modules")) ?? ""
        let loaded = Set<String>(modules.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        var findings: [DoctorFinding] = []
        for (module, why) in wanted {
            if loaded.contains(module) {
                findings.append(DoctorFinding(.kernelModules, .ok, "\(module) is loaded"))
                continue
            }
            switch await kernelSupport.availability(of: module) {
            case .loaded:
                findings.append(DoctorFinding(.kernelModules, .ok, "\(module) is loaded or built in"))
            case .loadable:
                findings.append(DoctorFinding(.kernelModules, .ok, "\(module) is not loaded but loadable (modules.dep); it is loaded when first needed"))
            case .missing:
                findings.append(
                    DoctorFinding(
                        .kernelModules, .failed, "\(module) is neither built in, loaded nor loadable; needed because \(why)",
                        hint: "install this kernel's modules (Debian: linux-image-$(uname -r)) and run modprobe \(module), or use network mode"))
            }
        }
        return findings
    }

    /// iscsid: open-iscsi's daemon runs (its pid file, or a process named iscsid), or systemd
    /// starts it on demand (iscsid.socket active).
    func iscsid(_ uses: Uses) async -> DoctorFinding {
        guard uses.kernelISCSI != nil else { return DoctorFinding(.iscsid, .skipped, Self.noKernelISCSI) }
        for file in ["\(base)/run/iscsid.pid", "\(base)/var/run/iscsid.pid"] {
            if let text = try? await host.read(file), let pid = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), await isIscsid(pid) {
                return DoctorFinding(.iscsid, .ok, "iscsid runs (pid \(pid))")
            }
        }
        for entry in (try? await host.listDirectory("\(base)/proc")) ?? [] {
            if let pid = Int(entry), await isIscsid(pid) { return DoctorFinding(.iscsid, .ok, "iscsid runs (pid \(pid))") }
        }
        // systemd links each active unit's invocation id here; the link itself dangles.
        if ((try? await host.listDirectory("\(base)/run/systemd/units")) ?? []).contains("invocation:iscsid.socket") {
            return DoctorFinding(.iscsid, .ok, "iscsid is not running; iscsid.socket starts it on demand")
        }
        return DoctorFinding(
            .iscsid, .failed, "iscsid is not running; needed because \(uses.kernelISCSI ?? "")",
            hint: "start open-iscsi's daemon: systemctl enable --now iscsid.socket (or run iscsid)")
    }

    private func isIscsid(_ pid: Int) async -> Bool {
        (try? await host.read("\(base)/proc/\(pid)/comm"))?.trimmingCharacters(in: .whitespacesAndNewlines) == "iscsid"
    }

    /// initiator-name: open-iscsi's initiatorname.iscsi names a valid iSCSI name, and it is the
    /// one the agent reports as its connector (else exports and Cinder grant one name while
    /// open-iscsi logs in with another). Network mode needs only the connector's name.
    func initiatorName(_ uses: Uses) async -> DoctorFinding {
        let file = configuration.initiatorFile
        let reported = node.initiator
        guard let text = try? await host.read(file) else {
            if uses.kernelISCSI != nil {
                return DoctorFinding(
                    .initiatorName, .failed, "\(file) cannot be read: open-iscsi logs in with the name it holds; needed because \(uses.kernelISCSI ?? "")",
                    hint: "write InitiatorName=\(reported ?? "iqn.YYYY-MM.<domain>:<host>") to \(file) (Debian: dpkg-reconfigure open-iscsi), then restart iscsid")
            }
            if let reported {
                return DoctorFinding(.initiatorName, .ok, "\(reported) (from tether.toml; \(file) is missing, which only kernel mode needs)")
            }
            return DoctorFinding(
                .initiatorName, .failed, "this node has no iSCSI initiator name: no [iscsi] initiator and no \(file)",
                hint: "set [iscsi] initiator in tether.toml or write InitiatorName=... to \(file)")
        }
        guard let name = NodeIdentity.parseInitiatorName(text) else {
            return DoctorFinding(
                .initiatorName, .failed, "\(file) has no InitiatorName= line", hint: "write InitiatorName=\(reported ?? "iqn.YYYY-MM.<domain>:<host>") to \(file)")
        }
        do {
            _ = try ISCSINameGrammar.check(name, field: "InitiatorName", what: "an initiator name")
        } catch let error as TetherError {
            return DoctorFinding(
                .initiatorName, .failed, "\(file): \(error.message)", hint: "write a valid name (iqn.YYYY-MM.<reversed domain>:<name>) to \(file), then restart iscsid")
        } catch {
            return DoctorFinding(.initiatorName, .failed, "\(file): \(error)")
        }
        guard let reported, reported != name else { return DoctorFinding(.initiatorName, .ok, "\(name) (\(file))") }
        let message = "\(file) names \(name), but the agent reports \(reported) as its connector's initiator ([iscsi] initiator)"
        let hint = "make them one: remove [iscsi] initiator from tether.toml, or write InitiatorName=\(reported) to \(file) and restart iscsid"
        return uses.kernelISCSI != nil ? DoctorFinding(.initiatorName, .failed, message, hint: hint) : DoctorFinding(.initiatorName, .warning, message, hint: hint)
    }
}
