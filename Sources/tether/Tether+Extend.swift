import ArgumentParser
import TetherClient

extension Tether {
    struct Extend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make this node see a volume the storage grew (kernel mode: rescan, resize the multipath map).")

        @Argument(help: "An attachment id or a volume id.")
        var ref: String

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.reference(ref, global)
        }

        func run() async throws {
            try await global.report(.extend(ref)) { HumanOutput.attachment($0) }
        }
    }
}
