import Foundation

extension Lab {
    /// A real program an integration suite runs against, and the Debian package that brings it.
    public enum Peer: String, Sendable, CaseIterable {
        case tgtd
        case cephMon = "ceph-mon"
        case cephOSD = "ceph-osd"
        case libvirtd
        case virsh
        case cinderAPI = "cinder-api"
        case keystone = "keystone-manage"
        case postgres = "/usr/lib/postgresql/15/bin/postgres"
        case rabbitMQ = "rabbitmq-server"
        case qemuIO = "qemu-io"
        case qemuSystem = "qemu-system-x86_64"
        case setpriv
        case useradd
        case groupadd
        case promtool
        case openssl
        /// Network namespaces for a second node (`NodeNetwork`).
        case nsenter
        case ip
        case readelf

        public var program: String { rawValue }

        /// The short name used in messages.
        public var name: String { (rawValue as NSString).lastPathComponent }

        var package: String {
            switch self {
            case .tgtd: "tgt"
            case .cephMon: "ceph-mon"
            case .cephOSD: "ceph-osd"
            case .libvirtd: "libvirt-daemon"
            case .virsh: "libvirt-clients"
            case .cinderAPI: "cinder-api"
            case .keystone: "keystone"
            case .postgres: "postgresql-15"
            case .rabbitMQ: "rabbitmq-server"
            case .qemuIO: "qemu-utils"
            case .qemuSystem: "qemu-system-x86"
            case .setpriv, .nsenter: "util-linux"
            case .useradd, .groupadd: "passwd"
            case .promtool: "prometheus"
            case .openssl: "openssl"
            case .ip: "iproute2"
            case .readelf: "binutils"
            }
        }

        /// The installed package's version, as `dpkg-query` says; "?" when it cannot tell.
        public var version: String {
            // Only printed for the reader: a peer from outside Debian's packages is "?", not an error.
            guard let result = try? Lab.run("dpkg-query", ["-W", "-f=${Version}", package]), result.status == 0 else { return "?" }
            // Debian's epoch and revision say nothing a reader of the CI log needs.
            var text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if let colon = text.firstIndex(of: ":") { text = String(text[text.index(after: colon)...]) }
            return text.split(whereSeparator: { $0 == "-" || $0 == "+" }).first.map(String.init) ?? text
        }
    }

    /// Under `CI=true` a suite whose peer is missing runs and fails instead of being skipped: a
    /// green CI must mean the real peers ran.
    public static var required: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true"
    }

    public static func missing(_ peers: [Peer]) -> [Peer] {
        peers.filter { !has($0.program) }
    }

    /// Whether a suite needing `peers` runs: always under CI=true, elsewhere when all are there.
    public static func runs(_ peers: Peer...) -> Bool {
        required || missing(peers).isEmpty
    }
}
