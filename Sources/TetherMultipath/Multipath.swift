import Logging
import TetherCore

/// dm-multipath, through multipathd, `multipath`, `dmsetup` and sysfs.
///
/// Maps are found by their slaves in /sys/block/dm-N, not by name: friendly names ("mpatha") or
/// another `uid_attribute` change a map's name and uuid, never which sdX devices sit under it.
public struct Multipath: Sendable {
    public struct Timeouts: Sendable, Hashable {
        /// One multipathd or multipath command.
        public var command: Duration
        /// From handing multipathd the paths until the map holds them all.
        public var mapAssembly: Duration
        /// One `multipath -f`: flushing I/O queued for a slow target may take this long.
        public var flush: Duration
        /// Flush attempts: udev and blkid hold a map open for a moment after it changed.
        public var flushAttempts: Int
        public var retryDelay: Duration

        public init(
            command: Duration = .seconds(30), mapAssembly: Duration = .seconds(20), flush: Duration = .seconds(120), flushAttempts: Int = 3,
            retryDelay: Duration = .seconds(2)
        ) {
            self.command = command
            self.mapAssembly = mapAssembly
            self.flush = flush
            self.flushAttempts = flushAttempts
            self.retryDelay = retryDelay
        }
    }

    /// The kernel's list of unix sockets of this network namespace, abstract ones with a leading @.
    static let unixSockets = "/proc/net/unix"
    /// multipathd's abstract socket (multipath-tools' DEFAULT_SOCKET).
    static let socketName = "@/org/kernel/linux/storage/multipathd"

    let host: any Host
    let paths: SystemPaths
    let timeouts: Timeouts
    let logger: Logger

    public init(host: any Host, paths: SystemPaths = SystemPaths(), timeouts: Timeouts = Timeouts(), logger: Logger = Logger(label: "tether.multipath")) {
        self.host = host
        self.paths = paths
        self.timeouts = timeouts
        self.logger = logger
    }

    /// Whether multipathd runs and answers on its socket. Its listening socket in
    /// /proc/net/unix answers without a process (an attach asks on every multipath attach);
    /// without that file, `multipathd show status` answers.
    public func isRunning() async -> Bool {
        // A file that cannot be read (or reads empty: it has a header line) is no answer:
        // multipathd is asked then.
        if let sockets = try? await host.read(Self.unixSockets), !sockets.isEmpty {
            return sockets.split(separator: "\n").contains { $0.hasSuffix(" " + Self.socketName) }
        }
        guard let result = try? await host.run(Command("multipathd", ["show", "status"], timeout: timeouts.command)) else { return false }
        // Older multipathd printed this and still exited 0 when the daemon was down.
        return result.succeeded && !result.stdout.hasPrefix("error receiving packet")
    }

    /// Whether multipath takes `device` as a path of a map (`multipath -c`): with find_multipaths
    /// off or greedy, or its WWID in the wwids file, multipathd wraps even a lone disk in a map
    /// once udev has seen it. False when multipath is not installed.
    public func claims(_ device: PathDevice) async -> Bool {
        let result = try? await host.run(Command("multipath", ["-c", paths.deviceNode(device.name)], timeout: timeouts.command))
        return result?.succeeded == true
    }

    // MARK: - Finding maps

    /// Every multipath map in sysfs.
    public func maps() async throws -> [MultipathMap] {
        var maps: [MultipathMap] = []
        for name in try await host.listDirectory(paths.block) where name.hasPrefix("dm-") {
            if let map = try await map(kernelName: name) { maps.append(map) }
        }
        return maps
    }

    /// The map /sys/block/`kernelName`, when it is a multipath map.
    public func map(kernelName: String) async throws -> MultipathMap? {
        let directory = "\(paths.block)/\(kernelName)"
        guard let uuid = try? await host.read("\(directory)/dm/uuid").trimmedLine, uuid.hasPrefix("mpath-") else { return nil }
        let name = (try? await host.read("\(directory)/dm/name").trimmedLine) ?? ""
        let sectors = (try? await host.read("\(directory)/size")).flatMap { UInt64($0.trimmedLine) } ?? 0
        let readOnly = (try? await host.read("\(directory)/ro").trimmedLine) == "1"
        return MultipathMap(
            kernelName: kernelName, name: name.isEmpty ? kernelName : name, uuid: uuid,
            slaves: try await host.listDirectory("\(directory)/slaves"), sizeBytes: sectors * 512, readOnly: readOnly)
    }

    /// The map that holds any of `devices` ("sdb") as a path.
    public func map(holding devices: some Collection<String>) async throws -> MultipathMap? {
        try await maps().first { map in devices.contains { map.slaves.contains($0) } }
    }

    /// The map multipathd made for `wwid`, found by its uuid; for maps whose paths are gone.
    public func map(for wwid: WWID) async throws -> MultipathMap? {
        try await maps().first { $0.uuid == wwid.multipathUUID }
    }

    /// Every path multipathd knows, with its state in the map and its checker's.
    /// - Throws: `multipath.failed` when multipathd does not answer.
    public func pathStates() async throws -> [MultipathPathState] {
        let result = try await host.run(Command("multipathd", ["show", "paths", "format", MultipathPathState.format], timeout: timeouts.command))
        // Older multipathd exits 0 with this on stdout when the daemon is down.
        guard result.succeeded, !result.stdout.hasPrefix("error receiving packet") else {
            let output = result.stderr.trimmedLine.isEmpty ? result.stdout.trimmedLine : result.stderr.trimmedLine
            throw TetherError(.multipathFailed, "multipathd show paths exited \(result.exitCode): \(output)", hint: "check that multipathd runs")
        }
        return MultipathPathState.parse(result.stdout)
    }

    // MARK: - Building, removing, resizing

    /// Has multipathd build (or grow) the map over `devices`, which share `wwid`, and waits until
    /// the map holds them all. A map that holds only some of them when the time is up is
    /// returned as it is: multipathd adds the others when their checker passes.
    ///
    /// Each command is a process, a large part of an attach on a slow CPU, so none runs that
    /// cannot change the outcome: no `multipath -a` for a WWID the wwids file holds already, no
    /// `add path` for a disk a map of multipathd's own (from the disk's uevent) holds; the others
    /// are handed over at once, not one after the other.
    /// - Throws: `multipath.failed` when no map holds any of them in time.
    public func assemble(_ devices: [PathDevice], wwid: WWID) async throws -> MultipathMap {
        let names = Set(devices.map(\.name))
        let before = try await map(holding: names)
        if let before, names.isSubset(of: before.slaves) { return before }
        // With find_multipaths on, multipathd passes over a WWID it has not seen on two paths
        // before: `multipath -a` records it, and `add path` makes multipathd look again.
        // Both are nudges: when one fails, the wait for the map below reports what is wrong, and
        // the nudge's own error goes to the debug log.
        if await !isRecorded(wwid) {
            do {
                let added = try await host.run(Command("multipath", ["-a", wwid.udev], timeout: timeouts.command))
                logger.debug("multipath -a", metadata: ["wwid": "\(wwid.udev)", "exit": "\(added.exitCode)"])
            } catch {
                logger.debug("multipath -a", metadata: ["wwid": "\(wwid.udev)", "error": "\(error)"])
            }
        }
        let missing = devices.filter { !(before?.slaves.contains($0.name) ?? false) }
        await withTaskGroup(of: Void.self) { group in
            for device in missing {
                group.addTask {
                    do {
                        let result = try await host.run(Command("multipathd", ["add", "path", paths.deviceNode(device.name)], timeout: timeouts.command))
                        if result.stdout.trimmedLine != "ok" {
                            logger.debug("multipathd add path", metadata: ["device": "\(device.name)", "answer": "\(result.stdout.trimmedLine)"])
                        }
                    } catch {
                        logger.debug("multipathd add path", metadata: ["device": "\(device.name)", "error": "\(error)"])
                    }
                }
            }
        }
        let what = "the multipath map of \(wwid) over \(names.sorted().joined(separator: ", "))"
        do {
            return try await host.waitFor(what, subsystems: ["block"], timeout: timeouts.mapAssembly) {
                guard let map = try await self.map(holding: names), names.isSubset(of: map.slaves) else { return nil }
                return map
            }
        } catch let error as TetherError where error.code == .timedOut {
            if let partial = try await map(holding: names) {
                logger.warning("multipath map holds only some paths", metadata: ["map": "\(partial)", "missing": "\(names.subtracting(partial.slaves).sorted())"])
                return partial
            }
            throw TetherError(
                .multipathFailed, "multipathd made no map for \(wwid) over \(names.sorted().joined(separator: ", ")) within \(timeouts.mapAssembly)",
                hint: "check `multipathd show paths` and /etc/multipath.conf (blacklist, find_multipaths)", cause: error)
        }
    }

    /// Whether multipath's wwids file (`paths.wwids`, where `multipath -a` writes) lists `wwid`.
    /// False when the file cannot be read: then `multipath -a` runs, as it always did.
    func isRecorded(_ wwid: WWID) async -> Bool {
        // No file (or none readable) is the answer "not recorded": `multipath -a` makes it.
        guard let text = try? await host.read(paths.wwids) else { return false }
        return text.split(separator: "\n").contains { String($0).trimmedLine == "/\(wwid.udev)/" }
    }

    /// Flushes and removes `map`. With `force`, a map that will not flush is removed anyway
    /// (`multipathd del map`, then `dmsetup remove --force`), and I/O still queued on it fails.
    /// A map already gone is fine.
    public func remove(_ map: MultipathMap, force: Bool) async throws {
        var failure: TetherError?
        for attempt in 1...max(1, timeouts.flushAttempts) {
            do {
                let result = try await host.run(Command("multipath", ["-f", map.name], timeout: timeouts.flush))
                if result.succeeded { return }
                if await !exists(map) { return }
                failure = TetherError(
                    .multipathFailed, "multipath -f \(map.name) exited \(result.exitCode): \(result.stderr.trimmedLine)",
                    hint: "something still holds \(paths.deviceNode(map.kernelName)) open (a VM, a mount, LVM); detach with force to drop it")
            } catch let error as TetherError {
                failure = error
            }
            guard attempt < timeouts.flushAttempts else { break }
            try await host.clock.sleep(for: timeouts.retryDelay)
        }
        guard force else { throw failure ?? TetherError(.multipathFailed, "cannot flush \(map)") }
        logger.warning("forcing removal of a multipath map that does not flush", metadata: ["map": "\(map)", "error": "\(failure.map { "\($0)" } ?? "-")"])
        // Stop queueing first, so the removal does not wait for I/O that can never complete.
        _ = try? await host.run(Command("multipathd", ["disablequeueing", "map", map.name], timeout: timeouts.command))
        _ = try? await host.run(Command("multipathd", ["del", "map", map.name], timeout: timeouts.command))
        if await exists(map) {
            _ = try? await host.run(Command("dmsetup", ["remove", "--force", "--retry", map.name], timeout: timeouts.flush))
        }
        if await exists(map) {
            throw TetherError(.multipathFailed, "multipath map \(map) remains after a forced removal", hint: "see `dmsetup info \(map.name)` for who holds it")
        }
    }

    /// Makes multipathd take up the new size of its paths; answers the map's size afterwards.
    public func resize(_ map: MultipathMap) async throws -> UInt64 {
        var answer = ""
        for attempt in 1...max(1, timeouts.flushAttempts) {
            let result = try await host.run(Command("multipathd", ["resize", "map", map.name], timeout: timeouts.command))
            answer = result.stdout.trimmedLine
            // multipathd answers "fail" or "timeout" on stdout, with exit 0 in some versions;
            // "timeout" means a reconfigure is still running.
            if result.succeeded, !answer.contains("fail"), !answer.contains("timeout") {
                return try await self.map(kernelName: map.kernelName)?.sizeBytes ?? map.sizeBytes
            }
            guard attempt < timeouts.flushAttempts, answer.contains("timeout") else { break }
            try await host.clock.sleep(for: timeouts.retryDelay)
        }
        throw TetherError(.multipathFailed, "multipathd resize map \(map.name) answered \"\(answer)\"", hint: "check that every path of \(map.name) is up")
    }

    func exists(_ map: MultipathMap) async -> Bool {
        (try? await host.read("\(paths.block)/\(map.kernelName)/dm/uuid"))?.trimmedLine == map.uuid
    }
}
