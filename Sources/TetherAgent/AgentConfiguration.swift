import Foundation
import Logging
import TetherAPI
import TetherCinder
import TetherCore
import TetherISCSI

/// `/etc/tether/tether.toml`: where the agent listens, keeps state, and how it reaches peers.
/// Every key is optional; README lists them with their defaults.
public struct AgentConfiguration: Sendable {
    public static let defaultPath = "/etc/tether/tether.toml"

    public var socketPath = "/run/tether/tetherd.sock"
    public var stateDirectory = "/var/lib/tether"
    public var logLevel: Logger.Level = .info
    /// This node's iSCSI initiator name; read from /etc/iscsi/initiatorname.iscsi when not set.
    public var initiator: String?
    public var initiatorFile = "/etc/iscsi/initiatorname.iscsi"
    public var hostName: String?
    public var ip: String?
    public var multipath = false
    public var iscsiTimeouts = ISCSITimeouts()
    public var target = Target()
    /// Where `clusters.d/` (the Ceph cluster registry) lives.
    public var registryDirectory = "/etc/tether"
    /// Where Tether writes `<cluster>.conf` and `<cluster>.client.<user>.keyring`.
    public var cephDirectory = "/etc/ceph"
    public var cephConnectTimeout: Duration = .seconds(10)
    /// Where Tether defines the per-cluster libvirt secrets; empty: none.
    public var libvirtURI = "qemu:///system"
    /// Where /sys, /dev, /etc/iscsi and /run are found; "/" but in tests.
    public var systemRoot = "/"
    /// How to reach Cinder for local-attach; nil: not configured.
    public var cinder: CinderSettings?
    /// Why Cinder is off although configured (a secret file others may read); nil otherwise.
    public var cinderRefusal: CinderSettings.RefusedSecretFile?
    public var api = API()
    /// `[local_attach] mode`: the mode of a local-attach that names none.
    public var localAttachMode = LocalAttachModeRule.auto
    public var reconcile = Reconcile()

    /// `[reconcile]`: how often tetherd compares the journal with the host, and whether it repairs.
    public struct Reconcile: Sendable {
        /// Between rounds; nil (`interval = 0`): only at start and on `tether reconcile`.
        public var interval: Duration? = .seconds(60)
        /// Repair what can safely be repaired (log a lost path back in, map an image again);
        /// false: only report (status in `tether list`, /v1/metrics).
        public var heal = true
    }
    /// `TETHER_FAILPOINTS` (from the environment, never the file): steps to crash or fail on purpose.
    public var failpoints: [Failpoint: Failpoints.Action] = [:]

    /// `[api]`: who may use the socket, and how long a connection may sit idle.
    public struct API: Sendable {
        /// The socket's group, whose members may use the API; nil: `tether` if it exists, else root.
        public var group: String?
        /// A connection that sends nothing (or only part of a request head) this long is closed.
        public var idleTimeout: Duration = .seconds(30)
        /// `[api.tcp]`: the TLS listener; nil (the default): none, the unix socket only.
        public var tcp: TCPListenerSettings?
    }
    /// `[connect]`: this agent's client identity towards storage nodes' agents; nil: no connect.
    public var connect: ConnectSettings?

    public struct Target: Sendable {
        /// The portals this node's tgtd serves; connection_info lists all of them.
        public var portals: [Portal] = []
        public var iqnPrefix = "iqn.2026-11.io.tether"
        public var tgtSocket = "/var/run/tgtd/socket"
        public var tgtControlPort = 0
        /// Directories export backing files and devices must lie in (canonical paths compared);
        /// empty: file exports are refused.
        public var backingDirectories: [String] = []
    }

    public init() {}

    /// Reads `path`; a missing file at the default path means all defaults.
    /// - Throws: `ConfigurationError` naming the file, line and key.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AgentConfiguration {
        let file = path ?? defaultPath
        guard let data = FileManager.default.contents(atPath: file) else {
            if path == nil { return try parse("", file: file, environment: environment) }
            throw ConfigurationError(file: file, message: "cannot read the file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: file, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> AgentConfiguration {
        let document = try TOML.parse(text, file: file)
        var configuration = AgentConfiguration()
        var reader = Reader(document: document, file: file)
        configuration.socketPath = try reader.string("", "socket") ?? configuration.socketPath
        configuration.stateDirectory = try reader.string("", "state_dir") ?? configuration.stateDirectory
        if let level = try reader.string("", "log_level") {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw ConfigurationError(file: file, message: "log_level \(level) is not one of trace, debug, info, notice, warning, error, critical")
            }
            configuration.logLevel = parsed
        }
        configuration.hostName = try reader.string("node", "host")
        configuration.ip = try reader.string("node", "ip")
        configuration.initiator = try reader.string("iscsi", "initiator")
        // The API's grammar: this name reaches libiscsi, open-iscsi's records and tgt's ACLs too.
        if let initiator = configuration.initiator {
            do { try ISCSINameGrammar.check(initiator, field: "[iscsi] initiator", what: "an initiator name") } catch let error as TetherError {
                throw ConfigurationError(file: file, message: error.message)
            }
        }
        configuration.initiatorFile = try reader.string("iscsi", "initiator_file") ?? configuration.initiatorFile
        configuration.multipath = try reader.bool("multipath", "enabled") ?? false
        configuration.systemRoot = try reader.string("", "system_root") ?? configuration.systemRoot
        if let seconds = try reader.seconds("iscsi", "connect_timeout") { configuration.iscsiTimeouts.connect = seconds }
        if let seconds = try reader.seconds("iscsi", "login_timeout") { configuration.iscsiTimeouts.login = seconds }
        if let seconds = try reader.seconds("iscsi", "command_timeout") { configuration.iscsiTimeouts.command = seconds }
        if let portals = try reader.strings("target", "portals") {
            configuration.target.portals = try portals.map { text in
                do { return try Portal(parsing: text) } catch let error as TetherError {
                    throw ConfigurationError(file: file, message: "[target] portals: \(error.message)")
                }
            }
        }
        configuration.target.iqnPrefix = try reader.string("target", "iqn_prefix") ?? configuration.target.iqnPrefix
        do { try ISCSINameGrammar.check(configuration.target.iqnPrefix, field: "[target] iqn_prefix", what: "a target name prefix") } catch let error as TetherError {
            throw ConfigurationError(file: file, message: error.message)
        }
        configuration.target.tgtSocket = try reader.string("target", "tgt_socket") ?? configuration.target.tgtSocket
        configuration.target.tgtControlPort = try reader.integer("target", "tgt_control_port") ?? 0
        if let directories = try reader.strings("target", "backing_dirs") {
            configuration.target.backingDirectories = try directories.map { directory in
                guard directory.hasPrefix("/"), !directory.contains("\0") else {
                    throw ConfigurationError(file: file, message: "[target] backing_dirs: \"\(directory)\" is not an absolute path")
                }
                return directory
            }
        }
        configuration.registryDirectory = try reader.string("ceph", "registry_dir") ?? configuration.registryDirectory
        configuration.cephDirectory = try reader.string("ceph", "ceph_dir") ?? configuration.cephDirectory
        if let seconds = try reader.seconds("ceph", "connect_timeout") { configuration.cephConnectTimeout = seconds }
        configuration.libvirtURI = try reader.string("libvirt", "uri") ?? configuration.libvirtURI
        configuration.api.group = try reader.string("api", "group")
        if let seconds = try reader.seconds("api", "idle_timeout") { configuration.api.idleTimeout = seconds }
        if case .integer(0)? = reader.document["reconcile"]?["interval"] {
            configuration.reconcile.interval = nil
        } else if let seconds = try reader.seconds("reconcile", "interval") {
            configuration.reconcile.interval = seconds
        }
        configuration.reconcile.heal = try reader.bool("reconcile", "heal") ?? true
        if let text = try reader.string("local_attach", "mode") {
            guard let rule = LocalAttachModeRule(rawValue: text) else {
                throw ConfigurationError(file: file, message: "[local_attach] mode \(text) is not one of kernel, network, auto")
            }
            configuration.localAttachMode = rule
        }
        // Typos first: a misspelt [cinder] key would otherwise surface as a missing one.
        try reader.rejectUnknown()
        configuration.api.tcp = try TCPListenerSettings.read(&reader)
        configuration.connect = try ConnectSettings.read(&reader)
        do {
            configuration.cinder = try CinderSettings.read(&reader, environment: environment)
        } catch let refused as CinderSettings.RefusedSecretFile {
            // A secret file others can read refuses Cinder alone; iSCSI and Ceph still serve.
            configuration.cinderRefusal = refused
        }
        return configuration
    }

    /// Reads typed values and remembers which keys were used, so typos are reported.
    struct Reader {
        let document: TOML.Document
        let file: String
        var used: Set<String> = []

        static let known: [String: Set<String>] = [
            "": ["socket", "state_dir", "log_level", "system_root"],
            "node": ["host", "ip"],
            "iscsi": ["initiator", "initiator_file", "connect_timeout", "login_timeout", "command_timeout"],
            "multipath": ["enabled"],
            "target": ["portals", "iqn_prefix", "tgt_socket", "tgt_control_port", "backing_dirs"],
            "ceph": ["registry_dir", "ceph_dir", "connect_timeout"],
            "libvirt": ["uri"],
            "api": ["group", "idle_timeout"],
            TCPListenerSettings.table: TCPListenerSettings.keys,
            ConnectSettings.table: ConnectSettings.keys,
            "cinder": CinderSettings.keys,
            "local_attach": ["mode"],
            "reconcile": ["interval", "heal"],
        ]

        func name(_ table: String, _ key: String) -> String { table.isEmpty ? key : "[\(table)] \(key)" }

        func fail(_ table: String, _ key: String, _ wanted: String) -> ConfigurationError {
            ConfigurationError(file: file, message: "\(name(table, key)) must be \(wanted)")
        }

        mutating func string(_ table: String, _ key: String) throws -> String? {
            guard let value = document[table]?[key] else { return nil }
            guard case .string(let text) = value else { throw fail(table, key, "a string") }
            return text
        }

        mutating func integer(_ table: String, _ key: String) throws -> Int? {
            guard let value = document[table]?[key] else { return nil }
            guard case .integer(let number) = value else { throw fail(table, key, "an integer") }
            return number
        }

        mutating func bool(_ table: String, _ key: String) throws -> Bool? {
            guard let value = document[table]?[key] else { return nil }
            guard case .boolean(let flag) = value else { throw fail(table, key, "true or false") }
            return flag
        }

        /// The longest timeout or interval: a day. Longer ones overflowed where they become
        /// milliseconds for libiscsi (a trap at the first attach); nothing waits that long anyway.
        static let maximumSeconds = 86_400

        mutating func seconds(_ table: String, _ key: String) throws -> Duration? {
            let wanted = "a positive number of seconds, at most \(Self.maximumSeconds)"
            switch document[table]?[key] {
            case nil: return nil
            case .integer(let number)? where number > 0 && number <= Self.maximumSeconds: return .seconds(number)
            // Checked before the conversion, which would trap on TOML's inf and nan.
            case .float(let number)? where number > 0 && number <= Double(Self.maximumSeconds):
                guard let milliseconds = Int(exactly: (number * 1000).rounded(.up)) else { throw fail(table, key, wanted) }
                return .milliseconds(milliseconds)
            default: throw fail(table, key, wanted)
            }
        }

        /// A required absolute path of a PEM file: `what` says what the table needs it for.
        mutating func pemPath(_ table: String, _ key: String, needs what: String) throws -> String {
            guard let value = try string(table, key) else {
                throw ConfigurationError(file: file, message: "[\(table)] has no \(key): \(what) (a PEM file's absolute path)")
            }
            guard value.hasPrefix("/"), !value.contains("\0") else {
                throw ConfigurationError(file: file, message: "[\(table)] \(key) \"\(value)\" is not an absolute path")
            }
            return value
        }

        mutating func strings(_ table: String, _ key: String) throws -> [String]? {
            guard let value = document[table]?[key] else { return nil }
            guard case .array(let items) = value else { throw fail(table, key, "a list of strings") }
            return try items.map {
                guard case .string(let text) = $0 else { throw fail(table, key, "a list of strings") }
                return text
            }
        }

        func rejectUnknown() throws {
            for (table, keys) in document {
                guard let allowed = Self.known[table] else {
                    throw ConfigurationError(file: file, message: "unknown table [\(table)]")
                }
                if let unknown = keys.keys.sorted().first(where: { !allowed.contains($0) }) {
                    throw ConfigurationError(file: file, message: "unknown key \(name(table, unknown)); known: \(allowed.sorted().joined(separator: ", "))")
                }
            }
        }
    }
}
