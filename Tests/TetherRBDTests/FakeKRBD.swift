import Foundation
import TetherCeph
import TetherCore
import TetherRBD
import TetherFakes
@testable import tether

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's rbd driver and udev, simulated on a FakeHost: the add attribute parses the line as
/// rbd.c does, asks the "cluster" behind the first monitor, and makes devices/N and block/rbdN;
/// udev then makes /dev/rbdN and the links `tether udev rbd` names (the real helper's logic, run
/// over the FakeHost's files), and emits the events.
final class FakeKRBD: @unchecked Sendable {
    struct Cluster {
        var fsid: String
        var keys: [String: String]
        var images: [String: UInt64]
    }

    let host: FakeHost
    private let lock = NSLock()
    private var clusters: [String: Cluster] = [:]
    private var linksByDevice: [Int: [String]] = [:]
    private var busy: Set<Int> = []
    private var lines: [String] = []
    private var refusal: Int32?

    /// How udev behaves: runs at once, later, never, or without Tether's rules.
    enum Udev { case immediate, delayed(Duration), absent, withoutTetherRules }
    var udev: Udev = .immediate
    var registryDirectory = "/etc/tether"
    var mapDirectory = StableNames.defaultMapDirectory

    init(host: FakeHost) {
        self.host = host
        host.makeDirectory("/sys/bus/rbd")
        host.makeDirectory("/sys/bus/rbd/devices")
        host.setFile("/sys/bus/rbd/add_single_major", "", mode: 0o200)
        host.setFile("/sys/bus/rbd/remove_single_major", "", mode: 0o200)
        host.onAttributeWrite("/sys/bus/rbd/add_single_major") { [unowned self] in try self.add($0) }
        host.onAttributeWrite("/sys/bus/rbd/remove_single_major") { [unowned self] in try self.remove($0) }
    }

    /// A cluster answering at `monitor` ("ip:port", its v1 address).
    func serve(monitor: String, fsid: String, user: String, key: String, images: [String: UInt64]) {
        lock.withLock { clusters[monitor] = Cluster(fsid: fsid, keys: [user: key], images: images) }
    }

    func setBusy(_ id: Int) { _ = lock.withLock { busy.insert(id) } }
    /// The next add fails with `code`, as the kernel would.
    func refuseNextAdd(_ code: Int32) { lock.withLock { refusal = code } }
    var addLines: [String] { lock.withLock { lines } }

    func resize(_ id: Int, to bytes: UInt64) {
        host.setFile("/sys/block/rbd\(id)/size", "\(bytes / 512)\n")
    }

    static func refused(_ path: String, _ code: Int32) -> TetherError {
        TetherError(.hostCommandFailed, "the kernel refused the write to \(path): \(String(cString: strerror(code)))")
    }

    private func add(_ line: String) throws {
        let path = "/sys/bus/rbd/add_single_major"
        let fields = line.split(separator: " ").map(String.init)
        guard fields.count == 5 else { throw Self.refused(path, EINVAL) }
        var options: [String: String] = [:]
        for option in fields[1].split(separator: ",") {
            let pair = option.split(separator: "=", maxSplits: 1).map(String.init)
            options[pair[0]] = pair.count == 2 ? pair[1] : ""
        }
        let (refusal, cluster) = lock.withLock { () -> (Int32?, Cluster?) in
            lines.append(line)
            defer { self.refusal = nil }
            return (self.refusal, fields[0].split(separator: ",").first.flatMap { clusters[String($0)] })
        }
        if let refusal { throw Self.refused(path, refusal) }
        guard let cluster else { throw Self.refused(path, ETIMEDOUT) }
        guard let user = options["name"], let secret = options["secret"], cluster.keys[user] == secret else { throw Self.refused(path, EACCES) }
        guard let size = cluster.images["\(fields[2])/\(fields[3])"] else { throw Self.refused(path, ENOENT) }

        let id = lowestFreeID()
        let directory = "/sys/bus/rbd/devices/\(id)"
        for (name, value) in [
            ("cluster_fsid", cluster.fsid), ("pool", fields[2]), ("pool_ns", options["_pool_ns"] ?? ""), ("name", fields[3]),
            ("current_snap", fields[4]), ("major", "251"), ("minor", "\(id << 4)"), ("client_id", "client41\(id)"),
            ("client_addr", "192.0.2.50:0/\(1000 + id)"), ("size", "\(size)"), ("config_info", line),
        ] {
            host.setFile("\(directory)/\(name)", value + "\n")
        }
        host.setFile("/sys/block/rbd\(id)/dev", "251:\(id << 4)\n")
        host.setFile("/sys/block/rbd\(id)/size", "\(size / 512)\n")
        host.setFile("/sys/block/rbd\(id)/ro", options["ro"] != nil ? "1\n" : "0\n")
        host.setFile("/sys/block/rbd\(id)/queue/logical_block_size", "512\n")
        switch udev {
        case .immediate: runUdev(id, rules: true)
        case .withoutTetherRules: runUdev(id, rules: false)
        case .absent: break
        case .delayed(let delay):
            Task {
                try? await Task.sleep(for: delay)
                self.runUdev(id, rules: true)
            }
        }
    }

    /// What udevd does for the new block device: the node, the rules' links, then the event.
    func runUdev(_ id: Int, rules: Bool) {
        host.setFile("/dev/rbd\(id)", "")
        var links: [String] = []
        if rules {
            let files = UdevFiles(
                read: { [host] in host.file($0).map { String(decoding: $0.contents, as: UTF8.self) } },
                list: { [host] directory in
                    Array(Set(host.filePaths.filter { $0.hasPrefix(directory + "/") }.compactMap { $0.dropFirst(directory.count + 1).split(separator: "/").first.map(String.init) })).sorted()
                })
            let naming = UdevNaming(files: files, sysfs: "/sys", mapDirectory: mapDirectory, registryDirectory: registryDirectory)
            let properties = Dictionary(naming.rbdProperties(device: "rbd\(id)") ?? [], uniquingKeysWith: { first, _ in first })
            if let name = properties["TETHER_RBD_NAME"] { links.append("/dev/rbd/\(name)") }
            if let volume = properties["TETHER_VOLUME_ID"] { links.append("/dev/disk/by-tether/\(volume)") }
        }
        for link in links { host.link(link, to: "/dev/rbd\(id)") }
        lock.withLock { linksByDevice[id] = links }
        host.emit(DeviceEvent(action: "add", subsystem: "rbd", sysPath: "/sys/devices/rbd/\(id)"))
        host.emit(DeviceEvent(action: "add", subsystem: "block", sysPath: "/sys/devices/virtual/block/rbd\(id)", deviceNode: "/dev/rbd\(id)"))
    }

    private func remove(_ value: String) throws {
        let path = "/sys/bus/rbd/remove_single_major"
        let words = value.split(separator: " ")
        guard let id = words.first.flatMap({ Int($0) }), words.count <= 2, words.count == 1 || words[1] == "force" else { throw Self.refused(path, EINVAL) }
        guard host.file("/sys/bus/rbd/devices/\(id)/pool") != nil else { throw Self.refused(path, ENOENT) }
        let links = try lock.withLock { () -> [String] in
            if busy.contains(id), words.count == 1 { throw Self.refused(path, EBUSY) }
            busy.remove(id)
            return linksByDevice.removeValue(forKey: id) ?? []
        }
        host.removeTree("/sys/bus/rbd/devices/\(id)")
        host.removeTree("/sys/block/rbd\(id)")
        host.removeTree("/dev/rbd\(id)")
        for link in links { host.removeTree(link) }
        host.emit(DeviceEvent(action: "remove", subsystem: "block", sysPath: "/sys/devices/virtual/block/rbd\(id)", deviceNode: "/dev/rbd\(id)"))
        host.emit(DeviceEvent(action: "remove", subsystem: "rbd", sysPath: "/sys/devices/rbd/\(id)"))
    }

    private func lowestFreeID() -> Int {
        var id = 0
        while host.file("/sys/bus/rbd/devices/\(id)/pool") != nil { id += 1 }
        return id
    }

    /// Mapped device ids, sorted.
    var mappedIDs: [Int] {
        Set(host.filePaths.compactMap { path -> Int? in
            guard path.hasPrefix("/sys/bus/rbd/devices/"), path.hasSuffix("/pool") else { return nil }
            return Int(path.dropFirst("/sys/bus/rbd/devices/".count).dropLast("/pool".count))
        }).sorted()
    }
}
