import Foundation
import TetherCore
import TetherFakes

/// A compute node as the kernel iSCSI connector sees it, simulated over FakeHost's sysfs:
/// `iscsiadm` keeps node records and logs in (a session, its SCSI host and connection appear in
/// sysfs), a write to a host's `scan` makes the LUN's disk and a udev event, `delete` removes it,
/// multipathd builds a dm map per WWID from the paths it is given, and storage targets serve
/// LUNs with a WWID and size, optionally behind CHAP.
///
/// Connectors under test get `fake` as their host; this node answers its commands per argument.
final class SimulatedNode: @unchecked Sendable {
    struct LUN: Sendable {
        var wwid: String
        var sizeBytes: UInt64
        var readOnly = false
    }

    struct Session {
        var id: Int
        var host: Int
        var portal: String
        var iqn: String
        var directory: String { "/sys/devices/platform/host\(host)/session\(id)" }
    }

    struct Disk {
        var name: String
        var session: Int
        var lun: Int
        var directory: String
        var wwid: String
    }

    let fake = FakeHost()
    let nodesDirectory = "/etc/iscsi/nodes"
    private let lock = NSLock()
    /// LUNs by "host:port iqn".
    private var targets: [String: [Int: LUN]] = [:]
    private var chapAccounts: [String: (user: String, password: String)] = [:]
    private var loginExits: [String: Int32] = [:]
    private var nodes: Set<String> = []
    private var sessions: [Int: Session] = [:]
    private var disks: [String: Disk] = [:]
    /// dm maps by udev WWID: kernel name and slaves.
    private var maps: [String: (kernelName: String, slaves: Set<String>)] = [:]
    private var nextSession = 1
    private var nextHost = 2
    private var nextDisk = 1
    private var nextMap = 0
    private var failedPaths: Set<String> = []

    /// Whether udev/60-tether.rules is installed: by-tether links from the map files.
    var tetherRules = true
    var multipathdRunning = true
    /// The next this many iscsiadm calls lose the race for open-iscsi's lock directory (exit 6).
    var databaseLockRaces = 0
    /// Node settings this open-iscsi does not know (an older one: node.session.scan).
    var unknownSettings: Set<String> = []
    /// multipath.conf's find_multipaths off: `multipath -c` takes every disk.
    var multipathClaimsEveryDisk = false
    var multipathFlushFails = false
    var blockdevFails = false
    /// Disks appear this long after the scan, announced by their udev event only.
    var scanDelay: Duration?
    /// A scan makes the LUN's SCSI device (with its WWID) at once, its disk only at `releaseDisks`:
    /// a disk driver slower than the connector.
    var holdDisks = false
    private var heldScans: [(session: Int, lun: Int)] = []

    init() {
        // Strong on purpose: the node lives as long as its host, which a test may hold alone.
        fake.onRun { command in self.answer(command) }
        // open-iscsi's record database, as a node that has had a record once keeps it.
        fake.makeDirectory(nodesDirectory)
    }

    var ranCommands: [Command] { fake.ranCommands }

    // MARK: - Storage side

    func serve(_ portal: String, _ iqn: String, lun: Int, _ value: LUN) {
        lock.withLock { targets["\(portal) \(iqn)", default: [:]][lun] = value }
    }

    func requireCHAP(_ portal: String, _ iqn: String, user: String, password: String) {
        lock.withLock { chapAccounts["\(portal) \(iqn)"] = (user, password) }
    }

    func failLogins(at portal: String, exit: Int32) {
        lock.withLock { loginExits[portal] = exit }
    }

    /// Grows a LUN on the storage; the host sees it after a rescan.
    func resize(_ portal: String, _ iqn: String, lun: Int, to size: UInt64) {
        lock.withLock { targets["\(portal) \(iqn)"]?[lun]?.sizeBytes = size }
    }

    // MARK: - What is left on the node

    var sessionCount: Int { lock.withLock { sessions.count } }
    var nodeRecords: Set<String> { lock.withLock { nodes } }
    var diskNames: [String] { lock.withLock { disks.keys.sorted() } }
    var mapCount: Int { lock.withLock { maps.count } }

    func arguments(of executable: String) -> [[String]] {
        ranCommands.filter { $0.executable == executable }.map(\.arguments)
    }

    // MARK: - Commands

    private func answer(_ command: Command) -> CommandResult {
        let (result, events) = lock.withLock { () -> (CommandResult, [DeviceEvent]) in
            var events: [DeviceEvent] = []
            let result: CommandResult
            switch command.executable {
            case "iscsiadm": result = iscsiadm(command.arguments, &events)
            case "multipathd": result = multipathd(command.arguments, &events)
            case "multipath": result = multipath(command.arguments)
            case "dmsetup": result = removeMap(named: command.arguments.last ?? "") ? CommandResult(exitCode: 0) : CommandResult(exitCode: 1, stderr: "no such device")
            case "blockdev": result = blockdevFails ? CommandResult(exitCode: 1, stderr: "Input/output error") : CommandResult(exitCode: 0)
            default: result = CommandResult(exitCode: 127, stderr: "\(command.executable): not simulated")
            }
            return (result, events)
        }
        for event in events { fake.emit(event) }
        return result
    }

    // MARK: - iscsiadm

    private func value(after flag: String, in arguments: [String]) -> String? {
        arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    }

    /// "host,port" of a portal as iscsiadm names record files.
    private func recordFile(_ portal: String, _ iqn: String) -> String {
        let host = portal.split(separator: ":").dropLast().joined(separator: ":").replacingOccurrences(of: "[", with: "").replacingOccurrences(of: "]", with: "")
        let port = portal.split(separator: ":").last ?? "3260"
        return "\(nodesDirectory)/\(iqn)/\(host),\(port)"
    }

    private func iscsiadm(_ arguments: [String], _ events: inout [DeviceEvent]) -> CommandResult {
        guard let iqn = value(after: "-T", in: arguments), let portal = value(after: "-p", in: arguments) else {
            return CommandResult(exitCode: 7, stderr: "iscsiadm: simulated only with -T and -p")
        }
        if databaseLockRaces > 0 {
            databaseLockRaces -= 1
            return CommandResult(exitCode: 6, stderr: "iSCSI ERROR: Could not open /run/lock/iscsi: 17 File exists")
        }
        let key = "\(portal) \(iqn)"
        let file = recordFile(portal, iqn)
        let session = sessions.values.first { $0.portal == portal && $0.iqn == iqn }
        switch value(after: "--op", in: arguments) {
        case "new"?:
            nodes.insert(key)
            // Every setting this open-iscsi knows, as iscsiadm writes a new record.
            let scan = unknownSettings.contains("node.session.scan") ? "" : "node.session.scan = auto\n"
            fake.setFile(
                file,
                "# BEGIN RECORD 2.1.9\nnode.name = \(iqn)\nnode.tpgt = -1\nnode.startup = automatic\n\(scan)node.session.auth.authmethod = None\nnode.conn[0].address = \(portal)\n# END RECORD\n")
            return CommandResult(exitCode: 0, stdout: "New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] \(portal),-1 \(iqn)] added\n")
        case "update"?:
            // Repeated -n/-v pairs, as iscsiadm takes them.
            let settings = arguments.indices.compactMap { index -> (String, String)? in
                guard arguments[index] == "-n", index + 3 < arguments.count, arguments[index + 2] == "-v" else { return nil }
                return (arguments[index + 1], arguments[index + 3])
            }
            guard nodes.contains(key), !settings.isEmpty, let old = fake.file(file)
            else { return CommandResult(exitCode: 21, stderr: "iscsiadm: No records found") }
            if let unknown = settings.first(where: { unknownSettings.contains($0.0) }) {
                return CommandResult(exitCode: 7, stderr: "iscsiadm: Cannot modify \(unknown.0). Invalid param name.")
            }
            // iscsiadm rewrites the whole record in place: the file keeps its mode.
            var lines = String(decoding: old.contents, as: UTF8.self).split(separator: "\n").map(String.init)
            for (name, setting) in settings {
                lines = lines.filter { !$0.hasPrefix(name + " ") }
                lines.insert("\(name) = \(setting)", at: max(0, lines.count - 1))
            }
            fake.setFile(file, lines.joined(separator: "\n") + "\n", mode: old.mode)
            return CommandResult(exitCode: 0)
        case "delete"?:
            guard nodes.remove(key) != nil else { return CommandResult(exitCode: 21, stderr: "iscsiadm: No records found") }
            fake.removeTree(file)
            return CommandResult(exitCode: 0)
        default:
            break
        }
        if arguments.contains("--login") {
            if session != nil { return CommandResult(exitCode: 15, stderr: "iscsiadm: default: 1 session requested, but 1 already present.") }
            guard nodes.contains(key) else { return CommandResult(exitCode: 21, stderr: "iscsiadm: No records found") }
            if let exit = loginExits[portal] { return CommandResult(exitCode: exit, stderr: "iscsiadm: Could not login to [iface: default, target: \(iqn), portal: \(portal)].") }
            guard targets[key] != nil else { return CommandResult(exitCode: 19, stderr: "iscsiadm: initiator reported error (19 - encountered non-retryable iSCSI login failure)") }
            if let account = chapAccounts[key] {
                let record = fake.file(file).map { String(decoding: $0.contents, as: UTF8.self) } ?? ""
                guard record.contains("node.session.auth.authmethod = CHAP\n"), record.contains("node.session.auth.username = \(account.user)\n"),
                    record.contains("node.session.auth.password = \(account.password)\n")
                else { return CommandResult(exitCode: 24, stderr: "iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)") }
            }
            events.append(logIn(portal: portal, iqn: iqn))
            return CommandResult(exitCode: 0, stdout: "Login to [iface: default, target: \(iqn), portal: \(portal)] successful.\n")
        }
        if arguments.contains("--logout") {
            guard let session else { return CommandResult(exitCode: 21, stderr: "iscsiadm: No matching sessions found") }
            logOut(session)
            return CommandResult(exitCode: 0)
        }
        return nodes.contains(key) ? CommandResult(exitCode: 0, stdout: "node.name = \(iqn)\n") : CommandResult(exitCode: 21, stderr: "iscsiadm: No records found")
    }

    /// Makes a session with its SCSI host and connection, as the kernel does at login.
    @discardableResult
    private func logIn(portal: String, iqn: String) -> DeviceEvent {
        let session = Session(id: nextSession, host: nextHost, portal: portal, iqn: iqn)
        nextSession += 1
        nextHost += 1
        sessions[session.id] = session
        let base = "/sys/class/iscsi_session/session\(session.id)"
        fake.makeDirectory(session.directory)
        fake.setFile("\(base)/targetname", iqn + "\n")
        fake.setFile("\(base)/state", "LOGGED_IN\n")
        fake.link("\(base)/device", to: session.directory)
        let address = portal.split(separator: ":").dropLast().joined(separator: ":").replacingOccurrences(of: "[", with: "").replacingOccurrences(of: "]", with: "")
        let connection = "/sys/class/iscsi_connection/connection\(session.id):0"
        fake.setFile("\(connection)/persistent_address", address + "\n")
        fake.setFile("\(connection)/persistent_port", String(portal.split(separator: ":").last ?? "3260") + "\n")
        fake.makeDirectory("/sys/class/iscsi_host/host\(session.host)")
        fake.onAttributeWrite("/sys/class/scsi_host/host\(session.host)/scan") { [weak self] value in
            self?.scan(session: session.id, value)
        }
        return DeviceEvent(action: "add", subsystem: "iscsi_session", sysPath: "\(session.directory)/iscsi_session/session\(session.id)")
    }

    private func logOut(_ session: Session) {
        for disk in disks.values where disk.session == session.id { removeDisk(disk.name) }
        sessions[session.id] = nil
        fake.removeTree(session.directory)
        fake.removeTree("/sys/class/iscsi_session/session\(session.id)")
        fake.removeTree("/sys/class/iscsi_connection/connection\(session.id):0")
        fake.removeTree("/sys/class/iscsi_host/host\(session.host)")
    }

    /// Logs in as an attach cut off after its login would have; for crash tests.
    func simulateLogin(portal: String, iqn: String) {
        lock.withLock {
            nodes.insert("\(portal) \(iqn)")
            fake.setFile(recordFile(portal, iqn), "# BEGIN RECORD 2.1.9\nnode.name = \(iqn)\n# END RECORD\n")
            logIn(portal: portal, iqn: iqn)
        }
    }

    /// Drops the sessions to `portal` (of `iqn` only, when given) as a logout by hand or a dead
    /// network would: their disks go, the node records stay.
    func dropSession(portal: String, iqn: String? = nil) {
        lock.withLock {
            for session in sessions.values where session.portal == portal && (iqn == nil || session.iqn == iqn) { logOut(session) }
        }
    }

    /// Deletes the node record of `portal` (an operator's `iscsiadm -m node -o delete`).
    func deleteNodeRecord(portal: String, _ iqn: String) {
        lock.withLock {
            nodes.remove("\(portal) \(iqn)")
            fake.removeTree(recordFile(portal, iqn))
        }
    }

    /// A reboot: no session, disk, map, /run or udev link is left; node records stay.
    func reboot() {
        lock.withLock {
            for session in sessions.values { logOut(session) }
            for wwid in Array(maps.keys) { _ = removeMap(named: wwid) }
            fake.removeTree("/run")
            fake.removeTree("/dev/disk/by-tether")
        }
    }

    /// multipathd's checker finds `device` faulty: dm fails the path in its map.
    func failInMap(_ device: String) {
        lock.withLock { _ = failedPaths.insert(device) }
    }

    // MARK: - SCSI

    private func scan(session id: Int, _ value: String) {
        let fields = value.split(separator: " ")
        guard fields.count == 3, let lun = Int(fields[2]) else { return }
        if holdDisks {
            lock.withLock {
                guard let session = sessions[id], let served = targets["\(session.portal) \(session.iqn)"]?[lun] else { return }
                let hctl = "\(session.host):0:0:\(lun)"
                fake.setFile("\(session.directory)/target\(session.host):0:0/\(hctl)/wwid", served.wwid + "\n")
                heldScans.append((id, lun))
            }
            return
        }
        if let delay = scanDelay {
            Task {
                try await Task.sleep(for: delay)
                let event = self.lock.withLock { self.makeDisk(session: id, lun: lun) }
                if let event { self.fake.emit(event) }
            }
            return
        }
        let event = lock.withLock { makeDisk(session: id, lun: lun) }
        if let event { fake.emit(event) }
    }

    /// Makes the disks of the scans `holdDisks` held back.
    func releaseDisks() {
        let events = lock.withLock { () -> [DeviceEvent] in
            defer { heldScans = [] }
            return heldScans.compactMap { makeDisk(session: $0.session, lun: $0.lun) }
        }
        for event in events { fake.emit(event) }
    }

    /// The disk for `lun` of a session, when the target has that LUN; the caller holds the lock.
    private func makeDisk(session id: Int, lun: Int) -> DeviceEvent? {
        guard let session = sessions[id], let served = targets["\(session.portal) \(session.iqn)"]?[lun],
            !disks.values.contains(where: { $0.session == id && $0.lun == lun })
        else { return nil }
        nextDisk += 1
        let name = "sd" + String(UnicodeScalar(UInt8(96 + nextDisk)))
        let hctl = "\(session.host):0:0:\(lun)"
        let directory = "\(session.directory)/target\(session.host):0:0/\(hctl)"
        disks[name] = Disk(name: name, session: id, lun: lun, directory: directory, wwid: served.wwid)
        fake.setFile("\(directory)/wwid", served.wwid + "\n")
        fake.setFile("\(directory)/block/\(name)/size", "\(served.sizeBytes / 512)\n")
        fake.setFile("\(directory)/block/\(name)/ro", served.readOnly ? "1\n" : "0\n")
        fake.setFile("\(directory)/block/\(name)/queue/logical_block_size", "512\n")
        // udev: the node and, for the first path of a LUN, its by-id link.
        fake.setFile("/dev/\(name)", "")
        if served.wwid.hasPrefix("naa."), !disks.values.contains(where: { $0.wwid == served.wwid && $0.name != name }) {
            fake.link("/dev/disk/by-id/wwn-0x\(served.wwid.dropFirst(4))", to: "/dev/\(name)")
        }
        // The add event runs 60-tether.rules too: a map file written before it names the disk,
        // unless multipath takes it (every disk, or one of a WWID it has a map for).
        if !(multipathClaimsEveryDisk || maps[udev(served.wwid)] != nil) {
            applyTetherRule(wwid: served.wwid, device: name)
        }
        fake.onAttributeWrite("\(directory)/delete") { [weak self] _ in
            guard let self else { return }
            self.lock.withLock { self.removeDisk(name) }
            self.fake.emit(DeviceEvent(action: "remove", subsystem: "block", sysPath: "\(directory)/block/\(name)"))
        }
        fake.onAttributeWrite("\(directory)/block/\(name)/uevent") { [weak self] _ in
            guard let self else { return }
            self.lock.withLock {
                // 60-multipath.rules marks a disk multipath takes; 60-tether.rules skips those.
                let claimed = self.multipathClaimsEveryDisk || self.maps.values.contains { $0.slaves.contains(name) }
                if !claimed { self.applyTetherRule(wwid: served.wwid, device: name) }
            }
        }
        fake.onAttributeWrite("\(directory)/rescan") { [weak self] _ in
            guard let self else { return }
            self.lock.withLock {
                if let size = self.targets["\(session.portal) \(session.iqn)"]?[lun]?.sizeBytes {
                    self.fake.setFile("\(directory)/block/\(name)/size", "\(size / 512)\n")
                }
            }
        }
        return DeviceEvent(action: "add", subsystem: "block", sysPath: "\(directory)/block/\(name)", deviceNode: "/dev/\(name)")
    }

    /// udev/60-tether.rules: a by-tether link when a map file names the WWID's volume; the
    /// caller holds the lock.
    private func applyTetherRule(wwid: String, device: String) {
        guard tetherRules, let file = fake.file("/run/tether/by-wwid/\(udev(wwid))") else { return }
        let text = String(decoding: file.contents, as: UTF8.self)
        guard text.hasPrefix("TETHER_VOLUME_ID="), text.hasSuffix("\n") else { return }
        let volume = text.dropFirst("TETHER_VOLUME_ID=".count).dropLast()
        fake.link("/dev/disk/by-tether/\(volume)", to: "/dev/\(device)")
    }

    /// The caller holds the lock.
    private func removeDisk(_ name: String) {
        guard let disk = disks.removeValue(forKey: name) else { return }
        fake.removeTree(disk.directory)
        fake.removeTree("/dev/\(name)")
        for (wwid, map) in maps where map.slaves.contains(name) {
            maps[wwid]?.slaves.remove(name)
            fake.removeTree("/sys/block/\(map.kernelName)/slaves/\(name)")
        }
        if disk.wwid.hasPrefix("naa.") {
            // udev points the link at another path of the LUN, or removes it with the last one.
            let link = "/dev/disk/by-id/wwn-0x\(disk.wwid.dropFirst(4))"
            fake.removeTree(link)
            if let other = disks.values.first(where: { $0.wwid == disk.wwid }) { fake.link(link, to: "/dev/\(other.name)") }
        }
    }

    // MARK: - dm-multipath

    private func udev(_ wwid: String) -> String {
        wwid.hasPrefix("naa.") ? "3" + wwid.dropFirst(4) : "8" + wwid
    }

    private func multipathd(_ arguments: [String], _ events: inout [DeviceEvent]) -> CommandResult {
        guard multipathdRunning else { return CommandResult(exitCode: 1, stderr: "error connecting to multipathd socket") }
        switch Array(arguments.prefix(2)) {
        case ["show", "status"]:
            return CommandResult(exitCode: 0, stdout: "path checkers states:\nup 0\n")
        case ["add", "path"]:
            guard let name = arguments.last?.split(separator: "/").last.map(String.init), let disk = disks[name] else {
                return CommandResult(exitCode: 0, stdout: "fail\n")
            }
            let wwid = udev(disk.wwid)
            let kernelName: String
            if let map = maps[wwid] {
                kernelName = map.kernelName
            } else {
                kernelName = "dm-\(nextMap)"
                nextMap += 1
                maps[wwid] = (kernelName, [])
                fake.setFile("/sys/block/\(kernelName)/dm/uuid", "mpath-\(wwid)\n")
                fake.setFile("/sys/block/\(kernelName)/dm/name", "\(wwid)\n")
                fake.setFile("/sys/block/\(kernelName)/ro", "0\n")
                fake.setFile("/dev/\(kernelName)", "")
                fake.link("/dev/disk/by-id/dm-uuid-mpath-\(wwid)", to: "/dev/\(kernelName)")
                applyTetherRule(wwid: disk.wwid, device: kernelName)
            }
            maps[wwid]?.slaves.insert(name)
            fake.makeDirectory("/sys/block/\(kernelName)/slaves/\(name)")
            let sectors = fake.file("\(disk.directory)/block/\(name)/size").map { String(decoding: $0.contents, as: UTF8.self) } ?? "0\n"
            fake.setFile("/sys/block/\(kernelName)/size", sectors)
            events.append(DeviceEvent(action: "change", subsystem: "block", sysPath: "/sys/devices/virtual/block/\(kernelName)"))
            return CommandResult(exitCode: 0, stdout: "ok\n")
        case ["show", "paths"]:
            var lines = ["dev dm_st  chk_st"]
            for (name, _) in disks.sorted(by: { $0.key < $1.key }) {
                let inMap = maps.values.contains { $0.slaves.contains(name) }
                let failed = failedPaths.contains(name)
                lines.append("\(name) \(inMap ? (failed ? "failed" : "active") : "undef") \(failed ? "faulty" : "ready")")
            }
            return CommandResult(exitCode: 0, stdout: lines.joined(separator: "\n") + "\n")
        case ["del", "map"]:
            return removeMap(named: arguments.last ?? "") ? CommandResult(exitCode: 0, stdout: "ok\n") : CommandResult(exitCode: 0, stdout: "fail\n")
        case ["resize", "map"]:
            guard let map = maps.first(where: { $0.key == arguments.last }), let slave = map.value.slaves.first, let disk = disks[slave] else {
                return CommandResult(exitCode: 0, stdout: "fail\n")
            }
            if let size = fake.file("\(disk.directory)/block/\(slave)/size") {
                fake.setFile("/sys/block/\(map.value.kernelName)/size", String(decoding: size.contents, as: UTF8.self))
            }
            return CommandResult(exitCode: 0, stdout: "ok\n")
        default:
            return CommandResult(exitCode: 0, stdout: "ok\n")
        }
    }

    private func multipath(_ arguments: [String]) -> CommandResult {
        switch arguments.first {
        case "-a"?:
            return CommandResult(exitCode: 0, stdout: "wwid '\(arguments.last ?? "")' added\n")
        case "-c"?:
            let device = arguments.last ?? ""
            return multipathClaimsEveryDisk
                ? CommandResult(exitCode: 0, stdout: "\(device) is a valid multipath device path\n")
                : CommandResult(exitCode: 1, stdout: "\(device) is not a valid multipath device path\n")
        case "-f"?:
            if multipathFlushFails { return CommandResult(exitCode: 1, stderr: "\(arguments.last ?? ""): map in use") }
            return removeMap(named: arguments.last ?? "") ? CommandResult(exitCode: 0) : CommandResult(exitCode: 1, stderr: "map not found")
        default:
            return CommandResult(exitCode: 1, stderr: "multipath \(arguments): not simulated")
        }
    }

    /// The caller holds the lock.
    private func removeMap(named name: String) -> Bool {
        guard let map = maps.removeValue(forKey: name) else { return false }
        fake.removeTree("/sys/block/\(map.kernelName)")
        fake.removeTree("/dev/\(map.kernelName)")
        fake.removeTree("/dev/disk/by-id/dm-uuid-mpath-\(name)")
        return true
    }
}
