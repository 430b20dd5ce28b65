import ArgumentParser
import TetherAPI
import TetherClient
import TetherCore

extension Tether {
    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach a volume to this node.",
            discussion: """
                Reads Cinder's connection_info: nested, flat, or wrapped in {"connection_info": ...}. \
                Attaching a volume that is already attached succeeds and shows the attachment.
                """)

        @Option(
            name: .customLong("connection-info"),
            help: ArgumentHelp("The connection_info JSON file, or - for standard input.", valueName: "file"))
        var connectionInfo: String

        @Option(help: ArgumentHelp("The volume id (default: connection_info's volume_id).", valueName: "id"))
        var volume: String?

        @Option(help: "How to attach: network (QEMU connects to the storage itself; the default) or kernel (a host block device).")
        var mode: AttachMode?

        @Flag(help: "Attach read-only, whatever connection_info's access_mode says.")
        var readOnly = false

        @Flag(help: "RBD read-write: take the volume over from another client that uses it, once that client is fenced (tether fence).")
        var force = false

        @Flag(help: "With --force: break the other client's exclusive lock instead (librbd blocklists it as it does); for when you know it is gone.")
        var breakLock = false

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if let volume { try Input.volume(volume, "--volume", global) }
        }

        func run() async throws {
            try await global.run { client in
                let request = CreateAttachmentRequest(
                    connectionInfo: try readConnectionInfo(), volumeID: volume, mode: mode,
                    readOnly: readOnly ? true : nil, force: force ? true : nil, breakLock: breakLock ? true : nil)
                // The agent's own checks, so bad input never reaches it.
                try request.validate()
                let reply = try await client.reply(.attach(request))
                try global.output(reply) { HumanOutput.attached(try $0.value(), created: $0.created) }
            }
        }

        /// The connection_info, checked here so that bad input never reaches the agent.
        private func readConnectionInfo() throws -> ConnectionInfo {
            let hint = "pass the connection_info of Cinder's initialize_connection or attachment create"
            let name = LocalFile.displayName(connectionInfo)
            let value = try LocalFile.readJSON(connectionInfo, hint: hint)
            let info: ConnectionInfo
            do {
                info = try ConnectionInfo(json: value)
            } catch let error as TetherError {
                throw TetherError.invalidInput("\(name): \(error.message)", hint: error.hint ?? hint)
            }
            if volume == nil, info.volumeID == nil {
                throw TetherError.invalidInput("\(name): connection_info.data has no volume_id", hint: "pass --volume ID")
            }
            return info
        }
    }
}

extension AttachMode: ExpressibleByArgument {}
