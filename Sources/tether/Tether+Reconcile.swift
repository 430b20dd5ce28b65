import ArgumentParser
import TetherAPI
import TetherClient

extension Tether {
    struct Reconcile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare every attachment tetherd journaled with this node now, and repair what it safely can.",
            discussion: """
                Each attachment comes out healthy, degraded (a path of several lost), missing (no \
                device) or unknown (the check itself failed). With healing (the default, or \
                [reconcile] heal), a lost iSCSI path is logged back in and re-added to its map, and \
                an unmapped krbd image is mapped again under the same stable names. Orphans (sessions, \
                maps, mappings, secret files that look like Tether's but are not journaled) are only \
                reported, unless --clean. tetherd also does this at start and every [reconcile] interval.

                Exits 0 when the round ran, whatever it found (tether doctor gives the verdict), and 1 \
                when part of it could not be done: an orphan it was asked to remove stayed, or a \
                connector could not be asked for its orphans.
                """)

        @Flag(help: "Remove the orphans found.")
        var clean = false

        @Flag(name: .customLong("no-heal"), help: "Only look: repair nothing.")
        var noHeal = false

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let endpoint = try AgentEndpoint.reconcile(ReconcileRequest(heal: noHeal ? false : nil, clean: clean))
            var incomplete = false
            try await global.run { client in
                let reply = try await client.reply(endpoint)
                try global.output(reply) { HumanOutput.reconcile(try $0.value()) }
                let report = try reply.value()
                incomplete = !report.errors.isEmpty || report.orphans.contains { $0.error != nil }
            }
            if incomplete { throw ExitCode.failure }
        }
    }
}
