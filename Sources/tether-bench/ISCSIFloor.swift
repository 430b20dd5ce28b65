internal import CISCSI
import Foundation
import Synchronization
import TetherCore

/// The bare-libiscsi floor: what Tether's network iSCSI attach asks of the targets, called
/// straight on libiscsi's synchronous API in this process, both paths at once.
///
/// It mirrors `NetworkISCSIConnector.probe` and `ISCSISession`: per portal a context with the same
/// settings (no auto-reconnect, timeouts, no header digest, CHAP), connect, login, REPORT LUNS,
/// INQUIRY VPD 0x83, READ CAPACITY(16) (each repeated on UNIT ATTENTION, as Tether does), then the
/// context is destroyed without a logout, as `ISCSISession.close` does. Its own threads (two
/// paths in parallel), no queue hop per command, no HTTP, journal or files.
enum ISCSIFloor {
    static func attach(_ info: ISCSIConnectionData, initiator: String) throws {
        let paths = info.paths
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: paths.count) { index in
            do {
                try probe(paths[index], initiator: initiator, chap: info.chap)
            } catch {
                failures.withLock { $0.append("\(paths[index]): \(error)") }
            }
        }
        let failed = failures.withLock { $0 }
        guard failed.isEmpty else { throw TetherError(.iscsiCommandFailed, "floor: \(failed.joined(separator: "; "))") }
    }

    static func probe(_ path: ISCSIPath, initiator: String, chap: CHAPCredentials?) throws {
        guard let context = iscsi_create_context(initiator) else { throw TetherError(.internalError, "iscsi_create_context") }
        defer { iscsi_destroy_context(context) }
        iscsi_set_noautoreconnect(context, 1)
        iscsi_set_timeout(context, 11)
        iscsi_set_tcp_user_timeout(context, 5000)
        iscsi_set_header_digest(context, ISCSI_HEADER_DIGEST_NONE)
        iscsi_set_session_type(context, ISCSI_SESSION_NORMAL)
        iscsi_set_targetname(context, path.iqn)
        if let chap {
            _ = chap.password.reveal { iscsi_set_initiator_username_pwd(context, chap.username, $0) }
        }
        guard iscsi_connect_sync(context, path.portal.description) == 0, iscsi_login_sync(context) == 0 else {
            throw TetherError(.iscsiLoginFailed, "\(path): \(iscsi_get_error(context).map { String(cString: $0) } ?? "")")
        }
        let lun = Int32(path.lun)
        try command("REPORT LUNS") { iscsi_reportluns_sync(context, 0, 4096) }
        try command("INQUIRY VPD 0x83") { iscsi_inquiry_sync(context, lun, 1, 0x83, 255) }
        try command("READ CAPACITY(16)") { iscsi_readcapacity16_sync(context, lun) }
    }

    /// One SCSI command, repeated on UNIT ATTENTION up to four times in all (as `ISCSISession`).
    static func command(_ what: String, _ send: () -> UnsafeMutablePointer<scsi_task>?) throws {
        for _ in 0..<4 {
            guard let task = send() else { throw TetherError(.iscsiCommandFailed, "\(what): no task") }
            defer { scsi_free_scsi_task(task) }
            if task.pointee.status == Int32(SCSI_STATUS_GOOD.rawValue), task.pointee.datain.size > 0 { return }
            guard task.pointee.status == Int32(SCSI_STATUS_CHECK_CONDITION.rawValue), task.pointee.sense.key == SCSI_SENSE_UNIT_ATTENTION else {
                throw TetherError(.iscsiCommandFailed, "\(what): status \(task.pointee.status)")
            }
        }
        throw TetherError(.iscsiCommandFailed, "\(what): UNIT ATTENTION four times")
    }
}
