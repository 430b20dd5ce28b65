import ArgumentParser
import TetherAPI

@main
struct Tether: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tether",
        abstract: "Attach and export volumes through this node's tetherd.",
        discussion: """
            tether only talks to tetherd, over its unix socket; every subcommand takes --json to \
            print the agent's answer as JSON.

            Exit codes:
              0   success
              1   the operation failed
              2   invalid input
              3   not found
              4   conflict
              5   access denied by the storage
              6   storage unreachable, or timed out
              7   tetherd unavailable
              64  usage error
            """,
        version: TetherVersion.current,
        subcommands: [
            Connector.self, Attach.self, Detach.self, List.self, Show.self, DiskXML.self, LocalAttach.self, LocalDetach.self, LocalList.self,
            Extend.self, Cinder.self, Export.self, Cluster.self, Health.self, Udev.self,
        ])
}
