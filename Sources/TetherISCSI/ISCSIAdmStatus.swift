import TetherCore

/// iscsiadm's exit codes that Tether tells apart (open-iscsi include/iscsi_err.h).
enum ISCSIAdmStatus: Int32 {
    case success = 0
    case sessionNotFound = 2
    case transportError = 4
    case loginFailed = 5
    case databaseError = 6
    case transportTimeout = 8
    case transportNotFound = 12
    case sessionExists = 15
    case iscsidCommunication = 18
    case fatalLogin = 19
    case iscsidNotConnected = 20
    case noObjectsFound = 21
    case loginAuthFailed = 24

    /// The error for an iscsiadm `operation` on `path` that exited with `result`.
    static func error(_ operation: String, path: ISCSIPath, result: CommandResult) -> TetherError {
        let place = "\(path.portal) \(path.iqn)"
        let output = result.stderr.trimmedLine.isEmpty ? result.stdout.trimmedLine : result.stderr.trimmedLine
        let detail = "iscsiadm \(operation) exited \(result.exitCode)\(output.isEmpty ? "" : ": \(output)")"
        switch ISCSIAdmStatus(rawValue: result.exitCode) {
        case .loginAuthFailed?:
            return TetherError(.iscsiAuthFailed, "CHAP authentication failed at \(place) (\(detail))", hint: "check auth_username/auth_password against the target's account")
        case .fatalLogin?:
            return TetherError(
                .iscsiNotAuthorized, "the target refused the login at \(place): no such target, or this initiator is not in its ACL (\(detail))",
                hint: "check target_iqn, and export the volume to this node's initiator (tether connector shows it)")
        case .transportTimeout?, .transportError?:
            return TetherError(.iscsiUnreachable, "cannot reach portal \(path.portal) (\(detail))", hint: "check the portal address and that the target listens there")
        case .transportNotFound?:
            return TetherError(.iscsiLoginFailed, "the kernel has no iSCSI TCP transport (\(detail))", hint: "load it: modprobe iscsi_tcp")
        case .iscsidNotConnected?, .iscsidCommunication?:
            return TetherError(.iscsiLoginFailed, "iscsid does not answer (\(detail))", hint: "start iscsid (systemctl start iscsid.socket iscsid)")
        case .noObjectsFound?:
            return TetherError(.iscsiCommandFailed, "open-iscsi has no node record for \(place) (\(detail))")
        case .loginFailed?:
            return TetherError(.iscsiLoginFailed, "login failed at \(place) (\(detail))", hint: "see iscsid's log for the target's answer")
        default:
            return TetherError(operation == "login" ? .iscsiLoginFailed : .iscsiCommandFailed, "\(detail) for \(place)")
        }
    }
}
