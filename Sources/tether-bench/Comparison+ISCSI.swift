import TetherAPI
import TetherCore

extension Comparison {
    /// Network iSCSI, 2 portals, CHAP: Tether through the API against the bare-libiscsi floor on
    /// the same LUN, and the CPU of a whole cycle on each side.
    func measureISCSI() async throws {
        let export = try await client.createExport(CreateExportRequest(
            volume: .init(id: "cmp-iscsi", path: tgtd.directory.file("cmp.img"), sizeBytes: 64 << 20),
            connector: ConnectorProperties(initiator: agent.initiator))).export
        let info = try ISCSIConnectionData(export.connectionInfo)
        guard info.paths.count == 2, info.chap != nil, !info.needsDiscovery else {
            throw TetherError(.internalError, "the export's connection_info is not 2 portals with CHAP: \(info.paths)")
        }
        let tether = try await cycles(CreateAttachmentRequest(connectionInfo: export.connectionInfo), label: "iscsi")
        let initiator = agent.initiator
        let floor = try await self.floor(count: options.samples, warmups: warmups) {
            try ISCSIFloor.attach(info, initiator: initiator)
            return nil
        }
        iscsiFloor = floor
        table.add("network iSCSI attach (2 portals, CHAP)", tether: tether.attach, peer: "libiscsi floor", floor)
        table.add("network iSCSI detach", tether: tether.detach, peer: "-", nil, why: "Tether's detach does no iSCSI (it holds no session)")
        let cycle = (tether.attach.cpu ?? .zero) + (tether.detach.cpu ?? .zero)
        let perCycle = cycle / options.samples
        table.add(
            "CPU per iSCSI attach+detach cycle", samples: "\(options.samples)/\(options.samples)", tether: ("-", "-", ComparisonTable.ms(perCycle)),
            peer: "libiscsi floor", ("-", "-", floor.cpuPerOperation.map(ComparisonTable.ms) ?? "-"),
            ratio: floor.cpuPerOperation.map { String(format: "%.2fx", perCycle.milliseconds / max(0.001, $0.milliseconds)) } ?? "-")
        table.targets.append(.init(name: "network-iscsi-attach", value: tether.attach.median.milliseconds / floor.median.milliseconds, unit: "x", goal: 2))
        _ = try await client.deleteExport(volumeID: "cmp-iscsi")
    }
}
