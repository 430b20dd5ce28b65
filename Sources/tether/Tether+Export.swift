import ArgumentParser

extension Tether {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export volumes from this node to initiators over iSCSI.",
            subcommands: [Create.self, Delete.self, List.self])
    }
}
