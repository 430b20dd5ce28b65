import Foundation
import TetherAPI
import TetherCore
import TetherLinux
import TetherTesting

extension Comparison {
    /// Warm: Tether's pooled connection against the floor's one open connection, the same checks.
    func measureWarmRBD() async throws {
        let lab = labs[0]
        let tether = try await cycles(CreateAttachmentRequest(connectionInfo: Self.rbdInfo(lab, 0)), label: "rbd-warm")
        warmRBD = tether.attach
        let connection = try await ProcessFigures.onThread {
            UncheckedFloor(try RBDFloor(monitors: lab.monitors, user: "cinder", key: lab.cinderKey, connectTimeoutSeconds: 5))
        }
        let warm = try await self.floor(count: options.samples, warmups: warmups) {
            try connection.value.inspect(pool: "rbd", image: "volume-0")
            return nil
        }
        rbdFloorWarm = warm
        table.add("RBD attach, warm (pooled connection)", tether: tether.attach, peer: "librbd floor", warm)
        table.add("RBD detach", tether: tether.detach, peer: "-", nil, why: "Tether's detach touches no Ceph (QEMU holds the image); os-brick's disconnect is in the cold rows")
        let perCycle = ((tether.attach.cpu ?? .zero) + (tether.detach.cpu ?? .zero)) / options.samples
        table.add(
            "CPU per RBD attach+detach cycle (warm)", samples: "\(options.samples)/\(options.samples)", tether: ("-", "-", ComparisonTable.ms(perCycle)),
            peer: "librbd floor", ("-", "-", warm.cpuPerOperation.map(ComparisonTable.ms) ?? "-"),
            ratio: warm.cpuPerOperation.map { String(format: "%.2fx", perCycle.milliseconds / max(0.001, $0.milliseconds)) } ?? "-")
        table.targets.append(.init(name: "rbd-warm-attach", value: tether.attach.median.milliseconds / warm.median.milliseconds, unit: "x", goal: 1.2))
        table.targets.append(.init(name: "cpu-per-rbd-cycle", value: perCycle.milliseconds, unit: " ms", goal: 4))
    }

    /// Cold: every sample is the first attach on its cluster. Tether's cluster is registered again
    /// through the API before each (untimed), which closes its pooled connection; os-brick connects
    /// per attach by design; the floor connects per sample.
    func measureColdRBD() async throws {
        let lab = labs[0]
        let registration = CreateClusterRequest(
            name: lab.name, fsid: lab.fsid, monHost: [lab.monitors], users: [.init(name: "cinder", key: lab.cinderKey)])
        let tether = try await cycles(CreateAttachmentRequest(connectionInfo: Self.rbdInfo(lab, 1)), label: "rbd-cold") {
            _ = try await self.client.send(.addCluster(registration))
            // The old connection shuts down on a queue of its own: let it finish before the clock starts.
            try await Task.sleep(for: .milliseconds(30))
        }
        let osBrick = try await runOSBrick(lab, image: 1)
        let floor = try await self.floor(count: options.samples, warmups: warmups) {
            let floor = try RBDFloor(monitors: lab.monitors, user: "cinder", key: lab.cinderKey, connectTimeoutSeconds: 5)
            try floor.inspect(pool: "rbd", image: "volume-1")
            return floor
        }
        table.add("RBD attach, cold (first on its cluster)", tether: tether.attach, peer: "os-brick connect_volume", osBrick.attach, why: osBrick.why)
        table.add("RBD attach, cold", tether: tether.attach, peer: "librbd floor, connecting", floor)
        table.add("RBD detach after a cold attach", tether: tether.detach, peer: "os-brick disconnect", osBrick.detach, why: osBrick.why)
        table.notes.append(
            "cold rows: before each Tether sample the cluster is registered again (POST /v1/clusters, untimed), which closes its pooled "
                + "connection; os-brick's connect_volume connects, opens the image and keeps it open, its disconnect_volume closes it and "
                + "shuts the connection down (unlike Tether's detach, which touches no Ceph); the floor's cold figure is connect + the checks "
                + "(its shutdown untimed, its CPU not counted).")
        table.targets.append(.init(
            name: "rbd-cold-attach", value: osBrick.attach.map { tether.attach.median.milliseconds / $0.median.milliseconds }, unit: "x", goal: 0.8))
    }

    /// os-brick's RBDConnector on the same image in its own Python process (scripts/bench-osbrick.py).
    func runOSBrick(_ lab: CephLab, image: Int) async throws -> (attach: Sampled?, detach: Sampled?, why: String) {
        let probe = try Lab.run("/usr/bin/python3", ["-c", "import os_brick.initiator.connectors.rbd, rados, rbd"])
        guard probe.status == 0 else {
            return (nil, nil, "os-brick is not installed (scripts/packages.sh install cinder): \(probe.output.suffix(200))")
        }
        // os-brick reads /etc/ceph/<cluster>.client.<user>.keyring unless connection_info carries
        // the keyring inline (cinderlib's way): inline, in a 0600 file.
        let keyring = lab.cinderKey.reveal { "[client.cinder]\n\tkey = \($0)\n" }
        var properties = Self.rbdInfo(lab, image).data
        properties["keyring"] = .string(keyring)
        let file = directory.file("osbrick.json")
        try LinuxHost.writeFileAtomically(file, contents: Array(try JSONEncoder().encode(properties)), mode: 0o600)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/bench-osbrick.py").path
        let result = try Lab.run("/usr/bin/python3", [script, file, String(options.samples), String(warmups)])
        guard result.status == 0, let line = result.output.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }) else {
            return (nil, nil, "os-brick failed: \(result.output.suffix(400))")
        }
        let figures = try JSONDecoder().decode(OSBrickFigures.self, from: Data(line.dropFirst("RESULT ".count).utf8))
        let seconds = { (values: [Double]) in values.map { Duration.milliseconds($0 * 1000) } }
        return (
            Sampled(seconds(figures.attach), cpu: .milliseconds(figures.attachCPU * 1000)),
            Sampled(seconds(figures.detach), cpu: .milliseconds(figures.detachCPU * 1000)), "")
    }

    struct OSBrickFigures: Decodable {
        var attach: [Double]
        var detach: [Double]
        var attachCPU: Double
        var detachCPU: Double

        enum CodingKeys: String, CodingKey {
            case attach, detach
            case attachCPU = "attach_cpu"
            case detachCPU = "detach_cpu"
        }
    }

    /// 64 and 256 attaches at once over two clusters (half each), timed as a whole, against one
    /// warm attach; detached again (untimed) between rounds.
    func measureParallel() async throws {
        for (count, rounds) in [(64, max(3, options.samples / 20)), (256, max(3, options.samples / 40))] {
            let infos = labs.flatMap { lab in (0..<count / 2).map { Self.rbdInfo(lab, Self.parallelBase + $0) } }
            let client = self.client
            var samples: [Duration] = []
            var cpu = Duration.zero
            for round in 0...rounds {
                var ids: [String] = []
                let (elapsed, spent) = try await ProcessFigures.measuringCPU(of: pid) {
                    try await ContinuousClock().measure {
                        ids = try await withThrowingTaskGroup(of: String.self) { group in
                            for info in infos { group.addTask { try await client.attach(CreateAttachmentRequest(connectionInfo: info)).attachment.id } }
                            return try await group.reduce(into: []) { $0.append($1) }
                        }
                    }
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for id in ids { group.addTask { _ = try await client.detach(id) } }
                    try await group.waitForAll()
                }
                guard round > 0 else { continue }  // the first round warms up
                samples.append(elapsed)
                cpu += spent
            }
            let all = Sampled(samples, cpu: cpu, operations: rounds * count)
            let one = warmRBD?.median ?? .zero
            let multiple = all.median.milliseconds / max(0.001, one.milliseconds)
            table.add(
                "\(count) RBD attaches at once (2 clusters)", samples: "\(rounds)/\(warmRBD?.samples.count ?? 0)",
                tether: (ComparisonTable.ms(all.median), ComparisonTable.ms(all.p99), all.cpuPerOperation.map(ComparisonTable.ms) ?? "-"),
                peer: "one warm attach", (ComparisonTable.ms(one), "-", "-"), ratio: String(format: "%.1fx", multiple))
            if count == 64 { table.targets.append(.init(name: "rbd-64-at-once", value: multiple, unit: "x", goal: 15)) }
        }
        table.notes.append("parallel rows: samples are whole rounds (the time until the last of the attaches answered); CPU/op is per attach")
    }
}

/// The warm floor's connection, handed to the thread that uses it; one thread at a time does.
struct UncheckedFloor: @unchecked Sendable {
    let value: RBDFloor
    init(_ value: RBDFloor) { self.value = value }
}
