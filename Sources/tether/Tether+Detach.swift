import ArgumentParser
import TetherClient

extension Tether {
    struct Detach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detach a volume from this node.",
            discussion: "Detaching what is not attached succeeds, so a detach can be repeated.")

        @Argument(help: "An attachment id or a volume id.")
        var ref: String

        @Flag(help: "Detach even if cleaning up fails; writes not yet flushed may be lost.")
        var force = false

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.reference(ref, global)
        }

        func run() async throws {
            try await global.report(.detach(ref, force: force)) { HumanOutput.detached($0, ref: ref) }
        }
    }
}
