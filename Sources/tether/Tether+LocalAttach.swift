import ArgumentParser
import TetherAPI
import TetherClient
import TetherCore

extension Tether {
    struct LocalAttach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "local-attach",
            abstract: "Attach a Cinder volume to this node, Cinder exporting it to this node's connector.",
            discussion: """
                tetherd creates a Cinder attachment (microversion 3.44+; reserve and \
                initialize_connection below it), attaches the volume here and completes the \
                attachment. Any failure rolls back both sides. Repeating it shows the attachment.
                """)

        @Argument(help: "The Cinder volume id.")
        var volume: String

        @Option(help: "How to attach: kernel (a host block device) or network (QEMU connects to the storage itself); default: tether.toml [local_attach] mode.")
        var mode: String?

        @Flag(inversion: .prefixedNo, help: "Ask Cinder for every path (default: tether.toml [multipath] enabled).")
        var multipath: Bool?

        @Flag(help: "Attach read-only.")
        var readOnly = false

        @Flag(help: "Attach even if another client holds the volume.")
        var force = false

        // python-brick-cinderclient-ext's `cinder local-attach` options: refused with Tether's
        // equivalent, so a script written for it fails at once and says what to change.
        @Option(name: [.customLong("enforce-multipath"), .customLong("enforce_multipath")], help: .hidden)
        var enforceMultipath: String?
        @Option(help: .hidden) var mountpoint: String?
        @Option(help: .hidden) var hostname: String?
        @Option(help: .hidden) var nic: String?
        /// brick-ext's `--multipath True`: the value lands here.
        @Argument(help: .hidden) var extra: [String] = []

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if let refusal = BrickCompatibility.refusal(
                mode: mode, extra: extra, enforceMultipath: enforceMultipath, mountpoint: mountpoint, hostname: hostname, nic: nic)
            {
                throw ValidationError(refusal)
            }
            try Input.volume(volume, "VOLUME", global)
        }

        func run() async throws {
            try await global.run { client in
                let request = LocalAttachRequest(
                    volumeID: volume, mode: mode.flatMap(AttachMode.init(rawValue:)), multipath: multipath, readOnly: readOnly ? true : nil, force: force ? true : nil)
                let reply = try await client.reply(.localAttach(request))
                try global.output(reply) { HumanOutput.localAttachment(try $0.value(), created: $0.created) }
            }
        }
    }

    struct LocalDetach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "local-detach",
            abstract: "Detach a local-attached Cinder volume here, then release it in Cinder.",
            discussion: "Detaching what is not local-attached succeeds, so it can be repeated.")

        @Argument(help: "The Cinder volume id.")
        var volume: String

        @Flag(help: "Detach even if cleaning up here fails; writes not yet flushed may be lost.")
        var force = false

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.volume(volume, "VOLUME", global)
        }

        func run() async throws {
            try await global.report(.localDetach(volume, force: force)) { HumanOutput.localDetached($0) }
        }
    }

    struct LocalList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "local-list",
            abstract: "List local-attached Cinder volumes, with anything still pending in Cinder.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.report(.localAttachments) { HumanOutput.localAttachments($0.localAttachments) }
        }
    }
}
