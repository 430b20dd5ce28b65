import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting

/// local-attach and local-detach through tetherd against the lab Cinder (two RBD backends on two
/// Ceph clusters, network mode), with the time spent waiting for Cinder's API shown apart from
/// the rest (Tether's own work, local attach included).
enum CinderBench {
    static func run(runs: Int) async throws {
        let lab = try await CinderLab.running()
        defer { lab.stop() }
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        try await TemporaryDirectory.with(prefix: "bench") { directory in
            for ceph in [lab.cephA, lab.cephB] {
                try await ceph.register(in: directory.path)
            }
            let config = Lab.cephConfig(registry: directory) + "\n" + lab.agentConfig()
            let agent = try AgentProcess(tgtd: nil, extraConfig: config)
            defer { agent.remove() }
            let client = TetherAgentClient(socketPath: agent.socketPath)
            let clock = ContinuousClock()
            for _ in 0..<3 {
                _ = try await client.send(.localAttach(LocalAttachRequest(volumeID: volume)))
                _ = try await client.send(.localDetach(volume, force: false))
            }
            var attach: [Duration] = [], attachCinder: [Duration] = [], attachOwn: [Duration] = []
            var detach: [Duration] = [], detachCinder: [Duration] = [], detachOwn: [Duration] = []
            for _ in 0..<runs {
                var attached: LocalAttachmentBody?
                let attachTime = try await clock.measure { attached = try await client.send(.localAttach(LocalAttachRequest(volumeID: volume))) }
                var detached: LocalDetachResponse?
                let detachTime = try await clock.measure { detached = try await client.send(.localDetach(volume, force: false)) }
                let inCinder = Self.duration(attached?.timing?.cinderMilliseconds ?? 0)
                let inCinderDetach = Self.duration(detached?.timing?.cinderMilliseconds ?? 0)
                attach.append(attachTime)
                attachCinder.append(inCinder)
                attachOwn.append(attachTime - inCinder)
                detach.append(detachTime)
                detachCinder.append(inCinderDetach)
                detachOwn.append(detachTime - inCinderDetach)
            }
            print("local-attach / local-detach through tetherd, lab Cinder (Zed, noauth, RBD backend, attachments API), network mode, \(runs) runs")
            print(Bench.row("local-attach", attach))
            print(Bench.row("  in Cinder's API", attachCinder))
            print(Bench.row("  the rest (Tether)", attachOwn))
            print(Bench.row("local-detach", detach))
            print(Bench.row("  in Cinder's API", detachCinder))
            print(Bench.row("  the rest (Tether)", detachOwn))
        }
    }

    static func duration(_ milliseconds: Double) -> Duration {
        .microseconds(Int64((milliseconds * 1000).rounded()))
    }
}
