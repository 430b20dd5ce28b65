import ArgumentParser
import Foundation
import TetherAPI
import TetherClient
import TetherCore

extension Tether.Export {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export a volume to an initiator (Cinder's initialize_connection).",
            discussion: """
                Exporting again to the same initiator succeeds and shows the export. The CHAP \
                password is never shown: --output saves the connection_info that carries it, \
                which `tether attach --connection-info` takes on the initiator's node.
                """)

        @Option(help: ArgumentHelp("The volume id.", valueName: "id"))
        var volumeID: String

        @Option(help: ArgumentHelp("iSCSI: the backing file or block device.", valueName: "path"))
        var path: String?

        @Option(help: ArgumentHelp("RBD: an image of a registered Ceph cluster, as CLUSTER/POOL/IMAGE.", valueName: "image"))
        var rbd: String?

        @Option(help: ArgumentHelp("RBD: the cluster user to give out (default: the cluster's default user).", valueName: "user"))
        var rbdUser: String?

        @Option(
            help: ArgumentHelp(
                "Create a missing backing file sparse, of this size: bytes, or with a suffix (64M, 1G).",
                valueName: "size"),
            transform: Self.parseSize)
        var size: UInt64?

        @Option(
            help: ArgumentHelp(
                "The initiator's connector properties JSON file (`tether connector --json`), or - for standard input.",
                valueName: "file"))
        var connector: String?

        @Option(help: ArgumentHelp("The initiator's IQN, instead of --connector.", valueName: "iqn"))
        var initiator: String?

        @Option(help: ArgumentHelp("Write the connection_info, CHAP password included, to this file (mode 0600).", valueName: "file"))
        var output: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            switch (path, rbd) {
            case (nil, nil): throw ValidationError("Pass --path (iSCSI) or --rbd CLUSTER/POOL/IMAGE.")
            case (.some, .some): throw ValidationError("Pass only one of --path and --rbd.")
            default: break
            }
            if let rbd, rbd.split(separator: "/", omittingEmptySubsequences: false).count != 3 || rbd.contains("//") {
                throw ValidationError("--rbd takes CLUSTER/POOL/IMAGE, got \"\(rbd)\".")
            }
            try Input.volume(volumeID, "--volume-id", global)
            try Input.initiator(initiator, global)
            if let path {
                try global.check { try BackingPathGrammar.check(path, field: "--path") }
            }
            if let rbd {
                let parts = rbd.split(separator: "/").map(String.init)
                try Input.cluster(parts[0], "--rbd CLUSTER", global)
                try global.check { try IdentifierGrammar.poolName.check(parts[1], field: "--rbd POOL") }
                try global.check { try IdentifierGrammar.imageName.check(parts[2], field: "--rbd IMAGE") }
            }
            if let rbdUser {
                try global.check { try IdentifierGrammar.cephUser.check(rbdUser, field: "--rbd-user") }
            }
            switch (connector, initiator) {
            case (nil, nil) where rbd != nil: break
            case (nil, nil): throw ValidationError("Pass --connector FILE or --initiator IQN.")
            case (.some, .some): throw ValidationError("Pass only one of --connector and --initiator.")
            default: break
            }
            if output == LocalFile.standardInput {
                throw ValidationError("--output needs a file name; --json prints the connection_info.")
            }
        }

        func run() async throws {
            try await global.run { client in
                let image = rbd.map { text -> CreateExportRequest.RBDImage in
                    let parts = text.split(separator: "/").map(String.init)
                    return CreateExportRequest.RBDImage(cluster: parts[0], pool: parts[1], image: parts[2], user: rbdUser)
                }
                let request = CreateExportRequest(
                    volume: .init(id: volumeID, path: path, sizeBytes: size, rbd: image), connector: try readConnector())
                // The same checks as the agent's, so a bad --connector file is refused before it is sent.
                try request.validate()
                if let output {
                    try LocalFile.checkWritable(output)
                }
                let reply = try await client.reply(.createExport(request))
                if let output {
                    try save(try reply.value().connectionInfo, to: output)
                }
                try global.output(reply) { HumanOutput.export(try $0.value(), created: $0.created, savedTo: output) }
            }
        }

        private func readConnector() throws -> ConnectorProperties {
            guard let connector else {
                return ConnectorProperties(initiator: initiator)
            }
            let value = try LocalFile.readJSON(connector, hint: "pass the output of `tether connector --json` on the initiator's node")
            do {
                return try ConnectorProperties(json: value)
            } catch let error as TetherError {
                throw TetherError.invalidInput("\(LocalFile.displayName(connector)): \(error.message)", hint: error.hint)
            }
        }

        private func save(_ info: ConnectionInfo, to output: String) throws {
            let text = HumanOutput.json(info.json(shape: .nested)) + "\n"
            do {
                try LocalFile.writeSecret(Data(text.utf8), to: output)
            } catch let error as TetherError {
                throw TetherError(
                    error.code, error.message,
                    hint: "the export exists; run the same command with another --output, exporting again is harmless")
            }
        }

        private static func parseSize(_ text: String) throws -> UInt64 {
            do {
                return try ByteCount.parse(text)
            } catch let error as TetherError {
                throw ValidationError(error.hint.map { "\(error.message); \($0)" } ?? error.message)
            }
        }
    }
}
