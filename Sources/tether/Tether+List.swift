import ArgumentParser
import TetherClient

extension Tether {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the volumes attached to this node.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.report(.attachments) { HumanOutput.attachments($0.attachments) }
        }
    }
}
