import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherRBD
import TetherTesting

/// `scripts/bench.sh compare [--samples N] [--profile]`: in one run, on the same volumes, Tether
/// beside its peers — the bare-library floors doing the same checks in this process, os-brick's
/// RBDConnector — and one table with medians, p99, CPU per operation and ratios, then a line per
/// target of issue #17. Prints figures; asserts nothing.
final class Comparison {
    struct Options {
        var samples = 200
        var profile = false

        init(_ arguments: [String]) throws {
            var rest = arguments[...]
            while let argument = rest.popFirst() {
                switch argument {
                case "--samples":
                    guard let value = rest.popFirst().flatMap(Int.init), value >= 10 else {
                        throw TetherError.invalidInput("--samples takes a number >= 10")
                    }
                    samples = value
                case "--profile": profile = true
                default: throw TetherError.invalidInput("compare: unknown argument \(argument)", hint: "compare [--samples N] [--profile]")
                }
            }
        }
    }

    /// Images per cluster: 500 on each of two make the 1,000 journaled attachments; the parallel
    /// rows use 128 per cluster of them, from `parallelBase` on.
    static let imagesPerCluster = 500
    static let parallelBase = 100

    let options: Options
    let labs: [CephLab]
    let tgtd: Tgtd
    let agent: AgentProcess
    let client: TetherAgentClient
    let directory: TemporaryDirectory
    var table = ComparisonTable()
    /// Client-side attach times by attachment id, per loop, for --profile.
    var attachTimes: [String: [(id: String, time: Duration)]] = [:]
    /// Figures later rows and the profile refer to.
    var warmRBD: Sampled?
    var rbdFloorWarm: Sampled?
    var iscsiFloor: Sampled?

    var warmups: Int { max(3, options.samples / 20) }
    var pid: Int32 { agent.pid }

    init(options: Options, labs: [CephLab], tgtd: Tgtd, agent: AgentProcess, directory: TemporaryDirectory) {
        self.options = options
        self.labs = labs
        self.tgtd = tgtd
        self.agent = agent
        self.directory = directory
        client = TetherAgentClient(socketPath: agent.socketPath)
    }

    static func run(_ arguments: [String]) async throws {
        let options = try Options(arguments)
        let clock = ContinuousClock()
        let started = clock.now
        try await CephLab.withTwo { a, b in
            try await TemporaryDirectory.with(prefix: "cmp") { directory in
                try await createImages([a, b])
                for lab in [a, b] { try await lab.register(in: directory.path) }
                let tgtd = try Tgtd.start()
                defer { tgtd.stop() }
                // No periodic reconcile: a round in the middle of a row would be measured as Tether's.
                let config = Lab.cephConfig(registry: directory) + "\n[reconcile]\ninterval = 0\n"
                let agent = try AgentProcess(tgtd: tgtd, extraConfig: config, logLevel: options.profile ? "debug" : "info")
                defer { agent.remove() }
                let comparison = Comparison(options: options, labs: [a, b], tgtd: tgtd, agent: agent, directory: directory)
                try await comparison.measure()
                comparison.report(elapsed: clock.now - started)
            }
        }
    }

    func measure() async throws {
        try await measureIdleMemory(fresh: true)
        try await measureISCSI()
        try await measureWarmRBD()
        try await measureColdRBD()
        try await measureParallel()
        try await measureIdleMemory(fresh: false)
        try await measureManyRecords()
        table.add(
            "kernel iSCSI / multipath attach (guest)", samples: "-", tether: ("-", "-", "-"), peer: "see scripts/guest-lab.sh bench",
            ("-", "-", "-"), ratio: "-")
    }

    func report(elapsed: Duration) {
        print("""
            Tether vs peers, one run: \(Self.build) build, private network namespace, tgtd (2 portals, CHAP) and two Ceph \
            clusters (mon + memstore OSD) on loopback; \(options.samples) samples per latency row unless the row says \
            otherwise, \(warmups) warm-ups before each loop not counted; tetherd at log level \(agent.logLevel), no \
            periodic reconcile. CPU/op: utime+stime of the process doing the work (tetherd from /proc/PID/stat; \
            the floors: this process; os-brick: its Python process). ratio: Tether median / peer median.

            """)
        print(table.render())
        print("")
        for note in table.notes { print("note: " + note) }
        if options.profile { print(""); print(profile()) }
        print("")
        print(String(format: "compare took %.0f s (lab start-up included)", elapsed.milliseconds / 1000))
        for target in table.targets { print(target.line) }
    }

    // MARK: - Helpers

    /// Creates the images of the RBD rows, both clusters at once.
    static func createImages(_ labs: [CephLab]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lab in labs {
                group.addTask {
                    let connection = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
                    for index in 0..<imagesPerCluster {
                        try await connection.createImage(pool: "rbd", image: "volume-\(index)", size: 4 << 20)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Cinder's connection_info of image `volume-INDEX` of `lab`, as the RBD driver sends it.
    static func rbdInfo(_ lab: CephLab, _ index: Int) -> ConnectionInfo {
        ConnectionInfo(driverVolumeType: "rbd", data: [
            "name": .string("rbd/volume-\(index)"), "hosts": [.string(lab.monitorV1.host)], "ports": [.string(String(lab.monitorV1.port))],
            "cluster_name": .string(lab.name), "auth_enabled": true, "auth_username": "cinder", "secret_type": "ceph",
            "volume_id": .string("\(lab.name)-\(index)"), "access_mode": "rw",
        ])
    }

    /// Attach (timed), detach (timed), `warmups` + `samples` times; tetherd's CPU split between the two.
    /// `before` runs untimed ahead of each attach.
    func cycles(
        _ request: CreateAttachmentRequest, label: String, before: (() async throws -> Void)? = nil
    ) async throws -> (attach: Sampled, detach: Sampled) {
        let clock = ContinuousClock()
        var attach: [Duration] = [], detach: [Duration] = []
        var attachCPU = Duration.zero, detachCPU = Duration.zero
        for round in 0..<(warmups + options.samples) {
            try await before?()
            let cpu0 = try ProcessFigures.cpu(pid: pid)
            var id = ""
            let attachTime = try await clock.measure { id = try await client.attach(request).attachment.id }
            let cpu1 = try ProcessFigures.cpu(pid: pid)
            let detachTime = try await clock.measure { _ = try await client.detach(id) }
            let cpu2 = try ProcessFigures.cpu(pid: pid)
            guard round >= warmups else { continue }
            attach.append(attachTime)
            detach.append(detachTime)
            attachCPU += cpu1 - cpu0
            detachCPU += cpu2 - cpu1
            attachTimes[label, default: []].append((id, attachTime))
        }
        return (Sampled(attach, cpu: attachCPU), Sampled(detach, cpu: detachCPU))
    }

    /// `count` runs of `body` on a thread of this process after `warmups` uncounted ones, with
    /// this process's CPU (getrusage, around each timed run). What `body` returns lives until the
    /// clock stopped: a connection made per sample shuts down untimed, as Tether's old one does.
    func floor(count: Int, warmups: Int, _ body: @escaping @Sendable () throws -> AnyObject?) async throws -> Sampled {
        try await ProcessFigures.onThread {
            for _ in 0..<warmups { _ = try body() }
            var samples: [Duration] = []
            var cpu = Duration.zero
            for _ in 0..<count {
                let before = ProcessFigures.ownCPU()
                let start = ContinuousClock.now
                let kept = try body()
                samples.append(start.duration(to: .now))
                cpu += ProcessFigures.ownCPU() - before
                withExtendedLifetime(kept) {}
            }
            return Sampled(samples, cpu: cpu)
        }
    }

    /// Which build of tetherd runs (figures of a debug build say little).
    static var build: String {
        AgentProcess.binary.contains("/release/") ? "release" : AgentProcess.binary.contains("/debug/") ? "DEBUG" : "unknown"
    }

    static func megabytes(_ kib: Int) -> String {
        String(format: "%.1f MB", Double(kib) / 1024)
    }
}
