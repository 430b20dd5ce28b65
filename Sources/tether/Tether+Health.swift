import ArgumentParser
import TetherClient

extension Tether {
    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check that tetherd is up and answering.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.report(.health, human: HumanOutput.health)
        }
    }
}
