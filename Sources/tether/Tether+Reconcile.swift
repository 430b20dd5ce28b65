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
                """)

        @Flag(help: "Remove the orphans found.")
        var clean = false

        @Flag(name: .customLong("no-heal"), help: "Only look: repair nothing.")
        var noHeal = false

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.report(try .reconcile(ReconcileRequest(heal: noHeal ? false : nil, clean: clean)), human: HumanOutput.reconcile)
        }
    }
}
