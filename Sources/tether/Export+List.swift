import ArgumentParser
import TetherClient

extension Tether.Export {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the volumes this node exports.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.report(.exports) { HumanOutput.exports($0.exports) }
        }
    }
}
