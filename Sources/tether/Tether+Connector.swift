import ArgumentParser
import TetherClient

extension Tether {
    struct Connector: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show this node's connector properties.",
            discussion: """
                With --json, the os-brick connector properties to hand to storage, e.g. to \
                `tether export create --connector` on the storage node.
                """)

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.report(.connector, human: HumanOutput.connector)
        }
    }
}
