import ArgumentParser
import TetherClient

extension Tether {
    struct DiskXML: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "disk-xml",
            abstract: "Print the libvirt disk XML of an attachment.",
            discussion: "The XML is a <disk> element for `virsh attach-device` or a domain definition; change <target> to suit the domain.")

        @Argument(help: "An attachment id or a volume id.")
        var ref: String

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.reference(ref, global)
        }

        func run() async throws {
            try await global.report(.attachment(ref)) { attachment in
                // print adds the newline the XML already ends with.
                String((attachment.diskXML ?? "").dropLast(attachment.diskXML?.hasSuffix("\n") == true ? 1 : 0))
            }
        }
    }
}
