import ArgumentParser
import Foundation
import TetherAPI
import Testing

@testable import tether

/// Every subcommand, found by walking `Tether.configuration.subcommands`: what README promises of
/// all of them (--json; --timeout where tether waits for tetherd) holds for each.
@Suite struct CommandTreeTests {
    /// Leaves that never ask tetherd, so have nothing to wait for: the udev helper reads sysfs.
    static let notAskingTheAgent: Set<String> = ["udev rbd"]
    /// Leaves whose output a program reads in its own format: libvirt takes the qemu hook's stdout
    /// as domain XML and its stderr as the one line it shows, so it has no --json.
    static let libvirtProtocol: Set<String> = ["hook qemu"]

    static func leaves(_ command: any ParsableCommand.Type = Tether.self, path: [String] = []) -> [(name: String, type: any ParsableCommand.Type)] {
        let subcommands = command.configuration.subcommands
        guard !subcommands.isEmpty else { return [(path.joined(separator: " "), command)] }
        return subcommands.flatMap { sub in
            leaves(sub, path: path + [sub.configuration.commandName ?? sub._commandName])
        }
    }

    @Test func everySubcommandTakesJSONAndTheWaitingOnesTimeout() {
        let leaves = Self.leaves()
        // The walk found the tree, not just the root: connector ... udev rbd.
        #expect(leaves.count >= 20, "\(leaves.map(\.name))")
        #expect(Set(leaves.map(\.name)).isSuperset(of: ["attach", "detach", "extend", "local-attach", "local-detach", "export create", "export delete", "cluster add", "cluster remove", "cluster sync", "cinder init", "cinder term", "udev rbd"]))
        for leaf in leaves {
            let help = Tether.helpMessage(for: leaf.type, columns: 400)
            #expect(help.contains("--json") != Self.libvirtProtocol.contains(leaf.name), "tether \(leaf.name) has no --json")
            if Self.notAskingTheAgent.contains(leaf.name) {
                #expect(!help.contains("--timeout"), "tether \(leaf.name)")
            } else {
                #expect(help.contains("--timeout <seconds>"), "tether \(leaf.name) has no --timeout")
            }
        }
    }

    @Test func timeoutIsReadWithTheAPIGrammar() throws {
        let health = try #require(try Tether.parseAsRoot(["health", "--timeout", "86400"]) as? Tether.Health)
        #expect(try health.global.timeoutSeconds() == 86_400)
        #expect(health.global.client.http.timeout == .seconds(86_400))
        let attach = try #require(try Tether.parseAsRoot(["detach", "v1"]) as? Tether.Detach)
        #expect(attach.global.client.http.timeout == .seconds(GlobalOptions.defaultTimeoutSeconds))
    }
}
