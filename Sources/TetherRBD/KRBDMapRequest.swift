import TetherCeph
import TetherCore

/// The line the kernel's rbd `add` attribute takes, as Ceph's krbd.cc `build_map_buf` writes it:
///
///     <mon>[,<mon>...] name=<user>,secret=<base64 key>[,<option>...] <pool> <image> <snapshot>
///
/// Monitors are `ip:port` of the messenger in use (v1 unless `ms_mode` says msgr2). The key goes as
/// `secret=`, not `key=` (which names a kernel keyring entry and needs add_key(2)), so it exists
/// only in the one write; the line is a `Secret` and `redactedLine` is what may be shown.
struct KRBDMapRequest {
    var monitors: [Portal]
    var user: String
    /// Options after name and secret: mount_timeout, ms_mode, ro, the operator's, _pool_ns.
    var options: [String]
    var spec: KRBDImageSpec

    /// Options the connector sets itself; operators may not.
    static let reservedOptions: Set<String> = [
        "name", "secret", "key", "_pool_ns", "mount_timeout", "ms_mode", "ro", "rw", "read_only", "read_write",
    ]

    /// - Throws: `invalid_input` for names the kernel cannot take, a cluster without monitor
    ///   addresses of the messenger, or a malformed extra option.
    init(
        cluster: CephCluster, user: CephUser, spec: KRBDImageSpec, readOnly: Bool, messenger: KRBDMessengerMode,
        connectTimeout: Duration, extraOptions: [String]
    ) throws {
        try spec.checkMappable()
        monitors = try Self.monitorPortals(cluster, messenger: messenger)
        self.user = user.name
        self.spec = spec
        var options = ["mount_timeout=\(max(1, connectTimeout.components.seconds))"]
        if messenger.usesMsgr2 { options.append("ms_mode=\(messenger.rawValue)") }
        if readOnly { options.append("ro") }
        for option in extraOptions {
            try Self.checkExtraOption(option)
            options.append(option)
        }
        if !spec.namespace.isEmpty { options.append("_pool_ns=\(spec.namespace)") }
        self.options = options
    }

    /// The monitors' addresses for `messenger`: one per monitor, v1 (or a port that speaks both)
    /// for legacy, v2 for msgr2, as krbd.cc filters the monmap.
    static func monitorPortals(_ cluster: CephCluster, messenger: KRBDMessengerMode) throws -> [Portal] {
        let wanted: CephMonitorAddress.Messenger = messenger.usesMsgr2 ? .v2 : .v1
        let portals = cluster.monitors.compactMap { monitor in
            (monitor.addresses.first { $0.messenger == wanted } ?? monitor.addresses.first { $0.messenger == .either })?.portal
        }
        guard !portals.isEmpty else {
            throw TetherError.invalidInput(
                "cluster \(cluster.name) lists no \(wanted.rawValue) monitor address (mon_host \(cluster.monHost)), which the kernel needs with ms_mode \(messenger.rawValue)",
                hint: messenger.usesMsgr2 ? "add the monitors' v2 addresses to clusters.d/\(cluster.name).toml" : "add the monitors' v1 addresses (port 6789) to clusters.d/\(cluster.name).toml, or set a msgr2 ms_mode for krbd")
        }
        return portals
    }

    static func checkExtraOption(_ option: String) throws {
        let name = option.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
        let valid = !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
            && !option.contains { $0.isWhitespace || $0 == "," || ($0.asciiValue ?? 0x20) < 0x20 }
        guard valid, !reservedOptions.contains(name) else {
            throw TetherError.invalidInput(
                "krbd map option \"\(option)\" is not allowed",
                hint: "give rbd map options as name or name=value without blanks or commas; Tether sets \(reservedOptions.sorted().joined(separator: ", ")) itself")
        }
    }

    /// The whole line with `key`. Hand it to `writeAttribute` and nowhere else.
    /// - Throws: `invalid_input` when the key is not base64 (it would change the option list).
    func line(key: Secret) throws -> Secret {
        let base64 = key.reveal { text in
            !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+/=".contains($0)) }
        }
        guard base64 else {
            throw TetherError.invalidInput("the cephx key of client.\(user) is not base64", hint: "a key file holds the key as `ceph auth print-key` prints it")
        }
        return key.reveal { Secret(render(secret: $0)) }
    }

    /// The line with `secret=<redacted>`: for logs, errors and tests.
    var redactedLine: String { render(secret: "<redacted>") }

    private func render(secret: String) -> String {
        let optionList = (["name=\(user)", "secret=\(secret)"] + options).joined(separator: ",")
        return "\(monitors.map(\.description).joined(separator: ",")) \(optionList) \(spec.pool) \(spec.image) \(spec.snapshot)"
    }
}
