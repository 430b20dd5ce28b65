import ArgumentParser
import TetherAPI
import TetherClient
import TetherCore

extension Tether {
    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach a volume exported by another node's agent: it exports, this node attaches.",
            discussion: """
                This node's tetherd asks the storage node's tetherd (its TLS listener, with \
                tether.toml [connect]'s certificate) to export the volume to this node's \
                initiator, then attaches it here. Both halves are journaled; any failure undoes \
                both. Repeating it shows the connection.
                """)

        @Option(help: ArgumentHelp("The storage node's agent, https://HOST[:PORT].", valueName: "url"))
        var storage: String

        @Argument(help: "The volume id (the storage node's export id).")
        var volume: String

        @Option(help: ArgumentHelp("iSCSI: the backing file or block device on the storage node.", valueName: "path"))
        var path: String?

        @Option(help: ArgumentHelp("iSCSI: create a missing backing file sparse, of this size (bytes, or 64M, 1G).", valueName: "size"))
        var size: String?

        @Option(help: ArgumentHelp("RBD: an image of a cluster registered on the storage node, as CLUSTER/POOL/IMAGE.", valueName: "image"))
        var rbd: String?

        @Option(help: "How to attach: network (QEMU connects to the storage itself; the default) or kernel.")
        var mode: String?

        @Flag(help: "Attach read-only.")
        var readOnly = false

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try global.check { try self.request().validate() }
        }

        /// The API request; every value checked by the API's grammar, naming the option.
        func request() throws -> ConnectRequest {
            if path != nil, rbd != nil { throw TetherError.invalidInput("pass only one of --path and --rbd") }
            if path == nil, rbd == nil { throw TetherError.invalidInput("pass --path (iSCSI) or --rbd CLUSTER/POOL/IMAGE") }
            var image: CreateExportRequest.RBDImage?
            if let rbd {
                let parts = rbd.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 3 else { throw TetherError.invalidInput("--rbd takes CLUSTER/POOL/IMAGE, got \"\(rbd)\"") }
                image = CreateExportRequest.RBDImage(cluster: parts[0], pool: parts[1], image: parts[2])
            }
            let attachMode = try mode.map { text in
                guard let parsed = AttachMode(rawValue: text) else { throw TetherError.invalidInput("--mode \(text) is not network or kernel") }
                return parsed
            }
            let bytes = try size.map { try ByteCount.parse($0) }
            try IdentifierGrammar.volumeID.check(volume, field: "VOLUME")
            _ = try StorageAgentURL(storage, field: "--storage")
            return ConnectRequest(
                storage: storage, volume: .init(id: volume, path: path, sizeBytes: bytes, rbd: image), mode: attachMode, readOnly: readOnly ? true : nil)
        }

        func run() async throws {
            let request = try request()
            try await global.run { client in
                let reply = try await client.reply(.connect(request))
                try global.output(reply) { HumanOutput.connection(try $0.value(), created: $0.created) }
            }
        }
    }

    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detach a connected volume here, then revoke this node's access on the storage node.",
            discussion: "Disconnecting what is not connected succeeds, so it can be repeated.")

        @Argument(help: "The volume id.")
        var volume: String

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.volume(volume, "VOLUME", global)
        }

        func run() async throws {
            try await global.report(.disconnect(volume)) { HumanOutput.disconnected($0) }
        }
    }

    struct Connections: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List volumes connected from storage nodes, with anything still pending there.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.report(.connections) { HumanOutput.connections($0.connections) }
        }
    }
}
