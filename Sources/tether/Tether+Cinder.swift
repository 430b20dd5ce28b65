import ArgumentParser
import TetherAPI
import TetherClient

extension Tether {
    struct Cinder: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask Cinder to export a volume to this node's connector, or to stop.",
            subcommands: [Initialize.self, Terminate.self])

        struct Initialize: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "init",
                abstract: "Cinder's initialize_connection for this node; prints the connection_info.",
                discussion: "Feed the output to `tether attach --connection-info -`.")

            @Argument(help: "The Cinder volume id.")
            var volume: String

            @Flag(inversion: .prefixedNo, help: "Ask for every path (default: tether.toml [multipath] enabled).")
            var multipath: Bool?

            @OptionGroup var global: GlobalOptions

            func validate() throws {
                try Input.volume(volume, "VOLUME", global)
            }

            func run() async throws {
                try await global.report(.cinderInitialize(volume, multipath: multipath)) { HumanOutput.cinderConnection($0) }
            }
        }

        struct Terminate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "term", abstract: "Cinder's terminate_connection for this node.")

            @Argument(help: "The Cinder volume id.")
            var volume: String

            @Flag(inversion: .prefixedNo, help: "The multipath flag the connection was initialized with.")
            var multipath: Bool?

            @OptionGroup var global: GlobalOptions

            func validate() throws {
                try Input.volume(volume, "VOLUME", global)
            }

            func run() async throws {
                try await global.report(.cinderTerminate(volume, multipath: multipath)) { HumanOutput.cinderConnection($0) }
            }
        }
    }
}
