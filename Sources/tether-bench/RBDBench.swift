import Foundation
import TetherAPI
import TetherCeph
import TetherClient
import TetherCore
import TetherLinux
import TetherRBD
import TetherTesting

/// Network-mode RBD through tetherd against two real Ceph clusters: attach/detach latency of one
/// volume, and 64 volumes (32 per cluster) attached at once. With python3-os-brick installed, the
/// same volumes through os-brick's RBDConnector (do_local_attach=False) as the comparison row.
enum RBDBench {
    static func run(runs: Int) async throws {
        try await CephLab.withTwo { a, b in
            try await TemporaryDirectory.with(prefix: "bench") { directory in
                var infos: [ConnectionInfo] = []
                for lab in [a, b] {
                    try await lab.register(in: directory.path)
                    let connection = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
                    for index in 0..<32 {
                        try await connection.createImage(pool: "rbd", image: "volume-\(index)", size: 4 << 20)
                        infos.append(ConnectionInfo(driverVolumeType: "rbd", data: [
                            "name": .string("rbd/volume-\(index)"), "hosts": [.string(lab.monitorV1.host)], "ports": [.string(String(lab.monitorV1.port))],
                            "cluster_name": .string(lab.name), "auth_enabled": true, "auth_username": "cinder", "secret_type": "ceph",
                            "volume_id": .string("\(lab.name)-\(index)"), "access_mode": "rw",
                        ]))
                    }
                }
                let config = "[ceph]\nregistry_dir = \"\(directory.path)\"\nceph_dir = \"\(directory.file("ceph"))\""
                let agent = try AgentProcess(tgtd: nil, extraConfig: config)
                defer { agent.remove() }
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let clock = ContinuousClock()
                let request = CreateAttachmentRequest(connectionInfo: infos[0])
                // The first attach on a cluster connects to it: the cold row (one sample per run).
                var coldID = ""
                let cold = try await clock.measure { coldID = try await client.attach(request).attachment.id }
                _ = try await client.detach(coldID)
                for _ in 0..<5 {
                    _ = try await client.detach(try await client.attach(request).attachment.id)
                }
                var attach: [Duration] = []
                var detach: [Duration] = []
                let ticksBefore = try cpuTicks(pid: agent.pid)
                for _ in 0..<runs {
                    var id = ""
                    attach.append(try await clock.measure { id = try await client.attach(request).attachment.id })
                    detach.append(try await clock.measure { _ = try await client.detach(id) })
                }
                let cycleCPU = Double(try cpuTicks(pid: agent.pid) - ticksBefore) * 1000 / Double(sysconf(Int32(_SC_CLK_TCK))) / Double(runs)
                // The floor: the same checks (open read-write, size, features, watchers, lock owners)
                // in this process on a warm connection, no agent in between.
                let floorConnection = try await RADOSConnection.connect(clusterName: a.name, monitors: a.monitors, user: "cinder", key: a.cinderKey)
                var floor: [Duration] = []
                for _ in 0..<runs {
                    floor.append(try await clock.measure { _ = try await floorConnection.inspect(pool: "rbd", image: "volume-0") })
                }
                let parallel = try await clock.measure {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for info in infos { group.addTask { _ = try await client.attach(CreateAttachmentRequest(connectionInfo: info)) } }
                        try await group.waitForAll()
                    }
                }
                print("network-mode RBD through tetherd's API, two Ceph clusters (mon + memstore OSD) on loopback, \(runs) runs")
                print(Bench.row("attach", attach))
                print(Bench.row("detach", detach))
                print(Bench.row("floor: librbd inspect", floor))
                print(Bench.pad("cold attach") + String(format: "%6.2f ms", Bench.milliseconds(cold)) + "   (first on cluster \(a.name), one sample)")
                print(Bench.pad("tetherd CPU per cycle") + String(format: "%6.2f ms   (utime+stime over the %d attach+detach runs)", cycleCPU, runs))
                print(Bench.pad("64 attaches at once") + String(format: "total  %6.1f ms   (32 volumes per cluster)", Bench.milliseconds(parallel)))
                try osBrick(a, runs: runs, directory: directory)
            }
        }
    }

    /// utime + stime of `pid` in clock ticks, fields 14 and 15 of /proc/PID/stat.
    static func cpuTicks(pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        return Int(fields[11])! + Int(fields[12])!
    }

    /// os-brick's RBDConnector on the same cluster, timed in its own Python process.
    static func osBrick(_ lab: CephLab, runs: Int, directory: TemporaryDirectory) throws {
        guard (try? Lab.run("/usr/bin/python3", ["-c", "import os_brick.initiator.connectors.rbd, rados"]))?.status == 0 else {
            print(Bench.pad("os-brick RBDConnector") + "not installed (apt-get install python3-os-brick python3-rados python3-rbd)")
            return
        }
        // os-brick reads the keyring from /etc/ceph/<cluster>.client.<user>.keyring unless the
        // connection_info carries one inline (cinderlib style): give it inline.
        let keyring = lab.cinderKey.reveal { "[client.cinder]\n\tkey = \($0)\n" }
        let script = """
            import json, statistics, sys, time
            from os_brick.initiator.connectors.rbd import RBDConnector
            props = json.load(open(sys.argv[1]))
            connector = RBDConnector(None, do_local_attach=False)
            attach, detach = [], []
            for _ in range(int(sys.argv[2])):
                t = time.perf_counter(); device = connector.connect_volume(props); attach.append(time.perf_counter() - t)
                t = time.perf_counter(); connector.disconnect_volume(props, device); detach.append(time.perf_counter() - t)
            def row(name, samples):
                samples = sorted(samples)
                p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99 + 0.999) - 1)]
                return "%-24smedian %6.2f ms   p99 %6.2f ms" % (name, statistics.median(samples) * 1000, p99 * 1000)
            print(row("os-brick attach", attach))
            print(row("os-brick detach", detach))
            """
        let properties: JSONValue = [
            "name": "rbd/volume-0", "hosts": [.string(lab.monitorV1.host)], "ports": [.string(String(lab.monitorV1.port))],
            "cluster_name": .string(lab.name), "auth_enabled": true, "auth_username": "cinder", "volume_id": "bench",
            "keyring": .string(keyring),
        ]
        let propertiesFile = directory.file("osbrick.json")
        try LinuxHost.writeFileAtomically(propertiesFile, contents: Array(try JSONEncoder().encode(properties)), mode: 0o600)
        let scriptFile = directory.file("osbrick.py")
        try script.write(toFile: scriptFile, atomically: true, encoding: .utf8)
        let result = try Lab.run("/usr/bin/python3", [scriptFile, propertiesFile, String(runs)])
        print(result.status == 0 ? result.output.trimmingCharacters(in: .newlines) : Bench.pad("os-brick RBDConnector") + "failed: \(result.output.suffix(400))")
    }
}
