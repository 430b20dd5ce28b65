import ArgumentParser
import Foundation
import TetherClient
import TetherCore

extension Tether {
    struct Udev: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Helpers Tether's udev rules run; they read sysfs and files, never the agent.",
            subcommands: [RBD.self])
    }
}

extension Tether.Udev {
    struct RBD: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rbd",
            abstract: "Print udev properties naming a krbd device (for IMPORT{program} in 60-tether-rbd.rules).",
            discussion: """
                TETHER_RBD_CLUSTER is the registered cluster whose fsid the device's cluster_fsid is \
                (the fsid itself when none is), TETHER_RBD_NAME is <cluster>/<pool>[/<namespace>]/<image>[@<snap>] \
                for /dev/rbd/, and TETHER_VOLUME_ID the volume the map file \
                <map-dir>/rbd:<fsid>%2F<pool>%2F<image> names, when there is one.
                """)

        @Argument(help: "The device: rbdN or N (udev's %k or %n).")
        var device: String

        @Option(help: ArgumentHelp("The registry directory holding clusters.d/ (default: $TETHER_REGISTRY_DIR, else [ceph] registry_dir of --config, else /etc/tether).", valueName: "dir"))
        var registryDir: String?

        @Option(help: ArgumentHelp("tetherd's configuration, read for registry_dir.", valueName: "file"))
        var config = "/etc/tether/tether.toml"

        @Option(help: ArgumentHelp("Where the agent's map files are.", valueName: "dir"))
        var mapDir = UdevNaming.defaultMapDirectory

        @Option(help: ArgumentHelp("Where sysfs is mounted.", valueName: "dir"))
        var sysfs = "/sys"

        @Flag(help: "Print the properties as one JSON object; an error as the API's JSON error body on stderr.")
        var json = false

        func run() throws {
            let naming = UdevNaming(
                files: .local, sysfs: sysfs, mapDirectory: mapDir,
                registryDirectory: UdevNaming.registryDirectory(flag: registryDir, environment: ProcessInfo.processInfo.environment, config: config, files: .local))
            guard let properties = naming.rbdProperties(device: device) else {
                // udev only needs a failure here; the code says which, as every command's does.
                let error = TetherError(
                    .notFound, "\(device) is not a mapped rbd device (no \(sysfs)/bus/rbd/devices/N/pool, name, cluster_fsid)",
                    hint: "udev runs this for rbdN devices the kernel maps")
                if json {
                    GlobalOptions.printError(error, json: true)
                } else {
                    FileHandle.standardError.write(Data("tether udev rbd: \(error.message)\n".utf8))
                }
                throw ExitCode(error.code.exitCode)
            }
            if json {
                print(HumanOutput.json(.object(Dictionary(properties.map { ($0.0, JSONValue.string($0.1)) }, uniquingKeysWith: { first, _ in first }))))
            } else {
                print(properties.map { "\($0.0)=\($0.1)" }.joined(separator: "\n"))
            }
        }
    }
}

/// The files the udev helper reads: the machine's, or a test's.
struct UdevFiles: Sendable {
    var read: @Sendable (String) -> String?
    var list: @Sendable (String) -> [String]

    static let local = UdevFiles(
        read: { try? String(contentsOfFile: $0, encoding: .utf8) },
        list: { ((try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? []).sorted() })
}

/// What the udev rules learn about a device, as pure functions of sysfs, the cluster registry and
/// the map files. The names must be what `StableNames` (TetherRBD) builds: the connector waits for
/// exactly those links. TetherRBDTests check both against one simulated device.
struct UdevNaming {
    static let defaultMapDirectory = "/run/tether/by-wwid"

    var files: UdevFiles
    var sysfs = "/sys"
    var mapDirectory = defaultMapDirectory
    var registryDirectory = "/etc/tether"

    /// What the kernel says a krbd device maps.
    struct RBDDevice: Hashable {
        var fsid: String
        var pool: String
        var namespace: String
        var image: String
        var snapshot: String
    }

    /// `--registry-dir`, else $TETHER_REGISTRY_DIR, else `[ceph] registry_dir` of the agent's
    /// configuration, else /etc/tether: where the agent reads its registry from.
    static func registryDirectory(flag: String?, environment: [String: String], config: String, files: UdevFiles) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let value = environment["TETHER_REGISTRY_DIR"], !value.isEmpty { return value }
        if let text = files.read(config), let document = try? TOML.parse(text, file: config),
            case .string(let directory)? = document["ceph"]?["registry_dir"], !directory.isEmpty
        {
            return directory
        }
        return "/etc/tether"
    }

    /// The device `rbdN` or `N` (a partition `rbdNpM` counts as its disk), nil when sysfs has no
    /// such mapping.
    func rbdDevice(_ name: String) -> RBDDevice? {
        var digits = name.hasPrefix("rbd") ? name.dropFirst(3) : name[...]
        if let partition = digits.firstIndex(of: "p") { digits = digits[..<partition] }
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber) else { return nil }
        let directory = "\(sysfs)/bus/rbd/devices/\(digits)"
        func attribute(_ name: String) -> String? {
            files.read("\(directory)/\(name)")?.trimmingCharacters(in: .newlines)
        }
        guard let fsid = attribute("cluster_fsid"), let pool = attribute("pool"), let image = attribute("name") else { return nil }
        return RBDDevice(fsid: fsid.lowercased(), pool: pool, namespace: attribute("pool_ns") ?? "", image: image, snapshot: attribute("current_snap") ?? "-")
    }

    /// The registered name of the cluster with `fsid`: as the agent reads clusters.d, files in name
    /// order, hidden ones skipped, the name matching the file, the first file of an fsid winning.
    func clusterName(fsid: String) -> String? {
        let directory = "\(registryDirectory)/clusters.d"
        for file in files.list(directory).sorted() where file.hasSuffix(".toml") && !file.hasPrefix(".") {
            let stem = String(file.dropLast(".toml".count))
            guard let text = files.read("\(directory)/\(file)"), let document = try? TOML.parse(text, file: file) else { continue }
            var name = stem
            if case .string(let written)? = document[""]?["name"] { name = written }
            guard name == stem, case .string(let text)? = document[""]?["fsid"], let uuid = UUID(uuidString: text) else { continue }
            if uuid.uuidString.lowercased() == fsid.lowercased() { return name }
        }
        return nil
    }

    /// The volume a map file names, nil when there is none or it cannot be a link name.
    func volumeID(key: String) -> String? {
        guard let text = files.read("\(mapDirectory)/\(Self.mapFileName(key: key))"), let id = StableNames.volumeID(inMapFile: text) else { return nil }
        return Self.isUsableVolumeID(id) ? id : nil
    }

    /// TETHER_RBD_CLUSTER, TETHER_RBD_NAME and, when a map file names one, TETHER_VOLUME_ID.
    func rbdProperties(device name: String) -> [(String, String)]? {
        guard let device = rbdDevice(name) else { return nil }
        let cluster = clusterName(fsid: device.fsid) ?? device.fsid
        let name = StableNames.rbdName(cluster: cluster, pool: device.pool, namespace: device.namespace, image: device.image, snapshot: device.snapshot)
        var properties = [("TETHER_RBD_CLUSTER", Self.linkSafe(cluster)), ("TETHER_RBD_NAME", name)]
        let key = StableNames.rbdKey(fsid: device.fsid, pool: device.pool, namespace: device.namespace, image: device.image, snapshot: device.snapshot)
        if let volume = volumeID(key: key) { properties.append(("TETHER_VOLUME_ID", volume)) }
        return properties
    }

    static func linkSafe(_ text: String) -> String { StableNames.linkSafe(text) }
    static func mapFileName(key: String) -> String { StableNames.mapFileName(key: key) }
    static func isUsableVolumeID(_ id: String) -> Bool { StableNames.isUsableVolumeID(id) }
}
