import TetherCore

/// Turns libiscsi's error text into Tether's error codes.
///
/// libiscsi reports a login failure only as text ("Failed to log in to target. Status: ...(513)"),
/// so the iSCSI login status class/detail (RFC 7143 11.13.5) is read back out of it.
enum ISCSIFailure {
    static func classify(what: String, portal: Portal, target: String, libiscsiError: String, timedOut: Bool) -> TetherError {
        let place = target.isEmpty ? "\(portal)" : "\(portal) \(target)"
        if timedOut {
            return TetherError(.timedOut, "\(what) timed out (\(place)): \(libiscsiError)", hint: "check the target and the network; timeouts are in tether.toml [iscsi]")
        }
        switch loginStatus(libiscsiError) {
        case 0x0201?:
            return TetherError(.iscsiAuthFailed, "CHAP authentication failed at \(place)", hint: "check auth_username/auth_password against the target's account")
        case 0x0202?:
            return TetherError(.iscsiNotAuthorized, "the initiator is not authorized at \(place)", hint: "add this node's initiator to the target's ACL (initialize_connection with this connector)")
        case 0x0203?:
            return TetherError(
                .iscsiNotAuthorized, "target not found, or this initiator is not in its ACL, at \(place)",
                hint: "check target_iqn, and export the volume to this node's initiator (tether connector shows it)")
        case let status?:
            return TetherError(.iscsiLoginFailed, "login failed at \(place) with iSCSI status 0x\(String(status, radix: 16)): \(libiscsiError)")
        case nil:
            break
        }
        let lowered = libiscsiError.lowercased()
        // Mutual CHAP: the target answered our challenge wrongly. libiscsi says so in text only
        // ("Authentication failed. Invalid CHAP_R response from the target"), with no status.
        if lowered.contains("authentication failed") || lowered.contains("chap_r") {
            return TetherError(
                .iscsiAuthFailed, "mutual CHAP failed at \(place): \(libiscsiError)",
                hint: "check target_auth_username/target_auth_password against the target's outgoing account")
        }
        if what.hasPrefix("connect") || lowered.contains("connect") || lowered.contains("refused") || lowered.contains("unreachable") || lowered.contains("socket") {
            return TetherError(.iscsiUnreachable, "cannot reach portal \(portal): \(libiscsiError)", hint: "check the portal address and that the target listens there")
        }
        return TetherError(.iscsiCommandFailed, "\(what) failed (\(place)): \(libiscsiError)")
    }

    /// The login status number in libiscsi's "...Status: <text>(<number>)" message.
    static func loginStatus(_ text: String) -> Int? {
        guard text.contains("log in"), let open = text.lastIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else {
            return nil
        }
        return Int(text[text.index(after: open)..<close])
    }
}
