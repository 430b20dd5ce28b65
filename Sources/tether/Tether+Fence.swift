import ArgumentParser
import TetherAPI
import TetherClient
import TetherCore

extension Tether {
    struct Fence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fence a Ceph client: blocklist it in a cluster so it can no longer read or write.",
            discussion: """
                Takes one client instance, IP:PORT/NONCE as Ceph prints it (tether attach's refusal names it; so do \
                `rbd status` and `rbd lock ls`). Fencing it again sets its expiry again. Once it is fenced, \
                `tether attach --force` takes over the images it used. tetherd logs who asked.
                """)

        @Argument(help: ArgumentHelp("The client instance, IP:PORT/NONCE (e.g. 192.0.2.50:0/3305813894).", valueName: "client-addr"))
        var address: String

        @Option(help: ArgumentHelp("The registered Ceph cluster the client uses.", valueName: "name"))
        var cluster: String

        @Option(help: ArgumentHelp(
            "Seconds until the cluster lifts the fence, \(FenceRequest.expireRange.lowerBound)-\(FenceRequest.expireRange.upperBound) (default: the cluster's, 1 hour).",
            valueName: "seconds"))
        var expire: Int64?

        @Option(help: ArgumentHelp("The cluster user to fence as (default: the cluster's default user).", valueName: "user"))
        var user: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.cluster(cluster, "--cluster", global)
        }

        func run() async throws {
            try await global.run { client in
                let request = FenceRequest(address: address, expireSeconds: expire, user: user)
                // The agent's own checks, so bad input never reaches it.
                _ = try request.validate()
                let reply = try await client.reply(.fence(cluster: cluster, request))
                try global.output(reply) { reply in
                    let fenced = try reply.value()
                    return "fenced \(fenced.address) in Ceph cluster \(fenced.cluster)\(fenced.alreadyFenced ? " (it was already; expiry set again)" : "")"
                        + " until \(fenced.until ?? "(not listed)")"
                }
            }
        }
    }
}
