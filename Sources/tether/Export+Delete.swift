import ArgumentParser
import TetherClient

extension Tether.Export {
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke access to an exported volume (Cinder's terminate_connection).",
            discussion: "Deleting what is not exported succeeds, so a delete can be repeated.")

        @Argument(help: "The volume id.")
        var volume: String

        @Option(help: ArgumentHelp("Revoke only this initiator's access (default: remove the whole export).", valueName: "iqn"))
        var initiator: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.volume(volume, "VOLUME", global)
            try Input.initiator(initiator, global)
        }

        func run() async throws {
            try await global.report(.deleteExport(volumeID: volume, initiator: initiator)) {
                HumanOutput.exportDeletion($0, initiator: initiator)
            }
        }
    }
}
