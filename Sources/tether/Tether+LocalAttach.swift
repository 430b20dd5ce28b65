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

        @Option(name: .customLong("os-cloud"), help: ArgumentHelp(Tether.osCloudHelp, valueName: "NAME"))
        var osCloud: String?

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
                let auth = try CallerCredentialsReader().credentials(cloud: osCloud)
                let request = LocalAttachRequest(
                    volumeID: volume, mode: mode.flatMap(AttachMode.init(rawValue:)), multipath: multipath, readOnly: readOnly ? true : nil, force: force ? true : nil,
                    auth: auth)
                try request.validate()
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

        @Option(name: .customLong("os-cloud"), help: ArgumentHelp(Tether.osCloudHelp, valueName: "NAME"))
        var osCloud: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.volume(volume, "VOLUME", global)
        }

        func run() async throws {
            try await global.run { client in
                let endpoint: AgentEndpoint<LocalDetachResponse>
                if let auth = try CallerCredentialsReader().credentials(cloud: osCloud) {
                    try auth.validate(field: "auth")
                    endpoint = try .localDetach(volume, force: force, auth: auth)
                } else {
                    endpoint = .localDetach(volume, force: force)
                }
                let reply = try await client.reply(endpoint)
                try global.output(reply) { HumanOutput.localDetached(try $0.value()) }
            }
        }
    }

    static let osCloudHelp = """
        Your OpenStack credentials for this request, from clouds.yaml's cloud NAME (./clouds.yaml, \
        ~/.config/openstack/, /etc/openstack/; secure.yaml merged; or OS_CLOUD); without it, your \
        OS_* variables when OS_AUTH_URL or OS_TOKEN is set, else tetherd's own [cinder] credentials. \
        Sent to tetherd over its socket, never kept.
        """

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
