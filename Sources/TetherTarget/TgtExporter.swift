import Logging
import TetherCore

/// Exports volumes with tgt (the userspace iSCSI target): one target per volume, the volume as
/// LUN 1 with a SCSI id derived from its volume id, an ACL entry and a CHAP account per initiator.
///
/// tgtd keeps its configuration in memory only, so `apply` is written to rebuild a whole export
/// from its spec: the agent re-applies every journaled export when it starts.
public struct TgtExporter: Exporter, TargetNumbering {
    public let portals: [Portal]
    let control: any TgtControl
    let logger: Logger

    public init(control: any TgtControl, portals: [Portal], logger: Logger) {
        self.control = control
        self.portals = portals
        self.logger = logger
    }

    public func targets() async throws -> [TgtTargetState] {
        TgtShow.parse(try await checked(TgtRequest(.target, .show), "list targets").text)
    }

    /// Target numbers tgtd uses now, for choosing a free one.
    public func takenTargetNumbers() async throws -> Set<Int> {
        Set(try await targets().map(\.tid))
    }

    public func apply(_ spec: ExportSpec) async throws {
        let tid = try Self.tid(spec)
        var state = try await targets().first { $0.tid == spec.targetNumber }
        if let existing = state, existing.iqn != spec.targetIQN {
            throw TetherError(.conflict, "tgt target \(tid) is \(existing.iqn), not \(spec.targetIQN)", hint: "another tool manages that target; give Tether its own tgtd")
        }
        if state == nil {
            try await checked(TgtRequest(.target, .new, tid: tid, parameters: "targetname=\(spec.targetIQN)"), "create target \(spec.targetIQN)")
            state = TgtTargetState(tid: spec.targetNumber, iqn: spec.targetIQN)
            logger.info("created tgt target", metadata: ["tid": "\(tid)", "target": "\(spec.targetIQN)"])
        }
        guard let state else { return }

        if let unit = state.logicalUnits.first(where: { $0.lun == spec.lun }) {
            if let backing = unit.backingPath, backing != spec.volume.path {
                throw TetherError(.conflict, "LUN \(spec.lun) of \(spec.targetIQN) is backed by \(backing), not \(spec.volume.path)")
            }
        } else {
            let lun = try Self.lun(spec)
            try await checked(TgtRequest(.device, .new, tid: tid, lun: lun, parameters: "path=\(spec.volume.path)"), "add LUN \(spec.lun) to \(spec.targetIQN)")
            // scsi_id fixes the NAA WWID (6 + id); scsi_sn the unit serial. tgtadm sends --params this way.
            let serial = String(spec.scsiID.prefix(16))
            try await checked(TgtRequest(.device, .update, tid: tid, lun: lun, parameters: "targetOps scsi_id=\(spec.scsiID),scsi_sn=\(serial),"), "set the ids of \(spec.targetIQN) LUN \(spec.lun)")
        }

        let wantedUsers = Set(spec.grants.map(\.chap.username))
        for grant in spec.grants {
            if !state.accounts.contains(grant.chap.username) {
                let parameters = grant.chap.password.reveal { "user=\(grant.chap.username),password=\($0)" }
                let created = try await checked(TgtRequest(.account, .new, parameters: parameters), "create CHAP account \(grant.chap.username)", accept: [.userExists])
                if created.status == .userExists {
                    // An account of that name that this target does not list may hold an old password:
                    // replace it rather than trust it.
                    try await checked(TgtRequest(.account, .delete, parameters: "user=\(grant.chap.username)"), "replace account \(grant.chap.username)", accept: [.noUser])
                    try await checked(TgtRequest(.account, .new, parameters: parameters), "create CHAP account \(grant.chap.username)")
                }
                try await checked(TgtRequest(.account, .bind, tid: tid, parameters: "user=\(grant.chap.username)"), "bind account \(grant.chap.username)", accept: [.bindingExists, .userExists])
            }
            if !state.acl.contains(grant.initiator) {
                try await checked(TgtRequest(.target, .bind, tid: tid, parameters: "initiator-name=\(grant.initiator)"), "allow \(grant.initiator)", accept: [.aclExists])
            }
        }
        let wantedInitiators = Set(spec.grants.map(\.initiator))
        for initiator in state.acl where !wantedInitiators.contains(initiator) {
            try await checked(TgtRequest(.target, .unbind, tid: tid, parameters: "initiator-name=\(initiator)"), "revoke \(initiator)", accept: [.aclMissing])
        }
        for user in state.accounts where !wantedUsers.contains(user) {
            try await removeAccount(user, tid: tid)
        }
    }

    /// The journal's numbers as tgt's header fields: checked, so a bad record is an error, not a trap.
    static func tid(_ spec: ExportSpec) throws -> Int32 {
        guard let tid = Int32(exactly: spec.targetNumber), tid > 0 else {
            throw TetherError(.targetFailed, "target number \(spec.targetNumber) of \(spec.targetIQN) is outside tgt's range")
        }
        return tid
    }

    static func lun(_ spec: ExportSpec) throws -> UInt64 {
        guard let lun = UInt64(exactly: spec.lun) else {
            throw TetherError(.targetFailed, "LUN \(spec.lun) of \(spec.targetIQN) is outside tgt's range")
        }
        return lun
    }

    public func remove(_ spec: ExportSpec) async throws {
        let tid = try Self.tid(spec)
        if let state = try await targets().first(where: { $0.tid == spec.targetNumber }) {
            guard state.iqn == spec.targetIQN else {
                throw TetherError(.conflict, "tgt target \(tid) is \(state.iqn), not \(spec.targetIQN); not removing it")
            }
            for user in state.accounts {
                try await removeAccount(user, tid: tid)
            }
            try await checked(TgtRequest(.target, .delete, tid: tid, force: true), "delete target \(spec.targetIQN)", accept: [.noTarget])
            logger.info("deleted tgt target", metadata: ["tid": "\(tid)", "target": "\(spec.targetIQN)"])
        }
        for grant in spec.grants {
            try await checked(TgtRequest(.account, .delete, parameters: "user=\(grant.chap.username)"), "delete account \(grant.chap.username)", accept: [.noUser])
        }
    }

    func removeAccount(_ user: String, tid: Int32) async throws {
        try await checked(TgtRequest(.account, .unbind, tid: tid, parameters: "user=\(user)"), "unbind account \(user)", accept: [.noUser, .noTarget])
        try await checked(TgtRequest(.account, .delete, parameters: "user=\(user)"), "delete account \(user)", accept: [.noUser])
    }

    @discardableResult
    func checked(_ request: TgtRequest, _ what: String, accept: Set<TgtStatus> = []) async throws -> TgtResponse {
        let response = try await control.send(request)
        guard response.status == .success || accept.contains(response.status) else {
            throw TetherError(.targetFailed, "tgtd refused to \(what): \(response.status)")
        }
        return response
    }
}
