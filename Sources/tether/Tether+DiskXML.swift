import ArgumentParser
import TetherAPI
import TetherClient
import TetherCore

extension Tether {
    struct DiskXML: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "disk-xml",
            abstract: "Print the libvirt disk XML of an attachment.",
            discussion: """
                The XML is a <disk> element for `virsh attach-device` or a domain definition. Its \
                <target> is one that no other attachment of this node has (vdb, vdc, ...), so the \
                disks of several volumes go into one domain as they are; --target and --bus print \
                it with another. --json prints the attachment as the agent has it.
                """)

        @Argument(help: "An attachment id or a volume id.")
        var ref: String

        @Option(help: "The guest's device name instead of the agent's (vdX, sdX or hdX, 1-3 letters).")
        var target: String?

        @Option(help: "The disk's bus: \(DiskTarget.Bus.allCases.map(\.rawValue).joined(separator: ", ")).")
        var bus: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.reference(ref, global)
            try global.check {
                if let target, !DiskTarget.isValid(target) {
                    throw TetherError.invalidField(
                        "--target", "'\(target)' is not a disk target name", hint: "use vd, sd or hd followed by 1-3 letters, e.g. vdc")
                }
                if let bus, DiskTarget.Bus(rawValue: bus) == nil {
                    throw TetherError.invalidField(
                        "--bus", "'\(bus)' is not a bus", hint: "use one of \(DiskTarget.Bus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
        }

        func run() async throws {
            try await global.report(.attachment(ref)) { attachment in
                var xml = attachment.diskXML ?? ""
                if target != nil || bus != nil, let current = DiskTarget.of(xml) {
                    let newBus = bus.flatMap(DiskTarget.Bus.init(rawValue:)) ?? current.bus
                    // A new bus alone keeps the position: vdc on scsi is sdc.
                    let device = target ?? DiskTarget.index(of: current.device).map { DiskTarget.name(index: $0, bus: newBus) } ?? current.device
                    xml = DiskTarget(device: device, bus: newBus).rewrite(xml)
                }
                // print adds the newline the XML already ends with.
                return String(xml.dropLast(xml.hasSuffix("\n") ? 1 : 0))
            }
        }
    }
}
