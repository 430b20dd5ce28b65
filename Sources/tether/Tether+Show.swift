import ArgumentParser
import TetherClient

extension Tether {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one attachment, with its libvirt disk XML and QEMU blockdev.")

        @Argument(help: "An attachment id or a volume id.")
        var ref: String

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.reference(ref, global)
        }

        func run() async throws {
            try await global.report(.attachment(ref), human: HumanOutput.attachmentDetails)
        }
    }
}
