import Foundation
import TetherAPI
import TetherCeph
import TetherCore

/// `GET /v1/doctor`: checks that this node has what its configuration uses — kernel modules,
/// iscsid, the initiator name, multipathd, Tether's udev rules, the ceph directory, libvirt, the
/// API socket, the clock against each cluster's monitors — and that the journal's attachments are
/// still on the host. Every check reads the machine through `Host` and changes nothing; a check
/// whose feature the configuration does not use answers `skipped`, saying why.
struct Doctor: Sendable {
    let configuration: AgentConfiguration
    let host: any TetherCore.Host
    /// This node's connector properties, as `GET /v1/connector` reports them.
    let node: ConnectorProperties
    /// The socket's group as the agent resolved `[api] group`.
    let access: APIAccess
    let registry: @Sendable () async -> CephRegistry
    let journal: Journal
    /// The journal check (see `JournalAudit`): swapped for the reconciler's report later.
    let journalAudit: any JournalAudit
    /// Asks a cluster's monitors for their time; nil: clock-skew is skipped.
    let monitorClock: (any MonitorClock)?
    /// Opens `[libvirt] uri`: nil when it answers, else why not.
    let libvirtProbe: @Sendable (String) async -> String?
    /// Wall-clock time, for the clock-skew check.
    let now: @Sendable () -> Date

    init(
        configuration: AgentConfiguration, host: any TetherCore.Host, node: ConnectorProperties, access: APIAccess, registry: @escaping @Sendable () async -> CephRegistry,
        journal: Journal, journalAudit: (any JournalAudit)? = nil, monitorClock: (any MonitorClock)? = nil,
        libvirtProbe: @escaping @Sendable (String) async -> String? = { _ in "no libvirt probe in this agent" }, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.host = host
        self.node = node
        self.access = access
        self.registry = registry
        self.journal = journal
        self.journalAudit = journalAudit ?? HostJournalAudit(journal: journal, host: host, root: configuration.systemRoot)
        self.monitorClock = monitorClock
        self.libvirtProbe = libvirtProbe
        self.now = now
    }

    /// `system_root` as a prefix: "" on a node.
    var base: String {
        let root = configuration.systemRoot
        return root == "/" ? "" : (root.hasSuffix("/") ? String(root.dropLast()) : root)
    }

    var kernelSupport: KernelSupport { KernelSupport(host: host, root: configuration.systemRoot) }

    /// Every check, in `DoctorCheck.agentChecks` order.
    func run() async -> DoctorReport {
        let uses = await Uses.read(self)
        var findings: [DoctorFinding] = []
        findings += await kernelModules(uses)
        findings.append(await iscsid(uses))
        findings.append(await initiatorName(uses))
        findings += await multipathd(uses)
        findings += await udevRules(uses)
        findings += await cephPermissions(uses)
        findings.append(await libvirt())
        findings.append(await socket())
        findings += await clockSkew(uses)
        findings += await journalAudit.audit()
        return DoctorReport(findings: findings)
    }

    /// Which features this node's configuration (and its journal) uses: a check of a feature in
    /// no use is skipped.
    struct Uses: Sendable {
        /// Why kernel-mode iSCSI is in use; nil: it is not.
        var kernelISCSI: String?
        var multipath: Bool
        /// Why krbd is in use; nil: it is not.
        var kernelRBD: String?
        var registry: CephRegistry

        var clusters: [CephCluster] { registry.clusters }

        static func read(_ doctor: Doctor) async -> Uses {
            let configuration = doctor.configuration
            // A journal that cannot be read fails the `journal` check, which says why; here it
            // only means no attachment turns a check on.
            let records = (try? await doctor.journal.attachments()) ?? []
            func journaled(_ protocolName: String) -> Bool {
                records.contains { $0.mode == .kernel && $0.protocolName.lowercased() == protocolName }
            }
            let registry = await doctor.registry()
            let auto = configuration.localAttachMode == .auto && configuration.cinder != nil
            var iscsi: String?
            if configuration.localAttachMode == .kernel {
                iscsi = "[local_attach] mode is kernel"
            } else if configuration.multipath {
                iscsi = "[multipath] is enabled"
            } else if journaled("iscsi") {
                iscsi = "the journal holds kernel-mode iSCSI attachments"
            } else if auto, await doctor.kernelSupport.supports(protocolName: "iscsi") {
                iscsi = "[local_attach] mode is auto and this kernel has iscsi_tcp"
            }
            var rbd: String?
            if journaled("rbd") {
                rbd = "the journal holds krbd attachments"
            } else if !registry.clusters.isEmpty, configuration.localAttachMode == .kernel {
                rbd = "clusters are registered and [local_attach] mode is kernel"
            } else if !registry.clusters.isEmpty, auto, await doctor.kernelSupport.supports(protocolName: "rbd") {
                rbd = "clusters are registered, [local_attach] mode is auto and this kernel has rbd"
            }
            return Uses(kernelISCSI: iscsi, multipath: configuration.multipath, kernelRBD: rbd, registry: registry)
        }
    }

    static let noKernelISCSI =
        "kernel-mode iSCSI is not in use ([local_attach] mode is not kernel, [multipath] is off, no kernel-mode iSCSI attachment)"
    static let noKernelRBD = "krbd is not in use (no cluster with [local_attach] mode kernel, no krbd attachment)"
}
