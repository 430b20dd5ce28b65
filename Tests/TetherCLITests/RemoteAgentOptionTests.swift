import ArgumentParser
import Foundation
import TetherClient
import TetherCore
import Testing

@testable import tether

/// `--agent`, `--cert`, `--key`, `--ca` and their TETHER_* variables: every command that asks
/// tetherd can ask a remote one, and a half-given identity is refused naming what is missing.
@Suite struct RemoteAgentOptionTests {
    static let identity = ["--cert", "/tls/c.crt", "--key", "/tls/c.key", "--ca", "/tls/ca.crt"]

    /// The qemu hook is the exception: libvirtd runs it on the node where the domain runs, and it
    /// must ask that node's own agent, over its socket, whatever the caller's environment says.
    @Test func everyCommandThatAsksTheAgentTakesAgent() {
        let local = CommandTreeTests.notAskingTheAgent.union(CommandTreeTests.libvirtProtocol)
        for leaf in CommandTreeTests.leaves() where !local.contains(leaf.name) {
            let help = Tether.helpMessage(for: leaf.type, columns: 400)
            #expect(help.contains("--agent <url>") && help.contains("--cert <file>") && help.contains("--key <file>") && help.contains("--ca <file>"), "tether \(leaf.name)")
        }
    }

    @Test func agentOptionsMakeATLSClient() throws {
        let health = try #require(try Tether.parseAsRoot(["health", "--agent", "https://storage-1:9443"] + Self.identity) as? Tether.Health)
        let transport = try #require(health.global.client.http as? TLSHTTPClient)
        #expect(transport.agent == (try RemoteAgent(url: "https://storage-1:9443", certificateFile: "/tls/c.crt", keyFile: "/tls/c.key", caFile: "/tls/ca.crt")))
        let local = try #require(try Tether.parseAsRoot(["health"]) as? Tether.Health)
        #expect(local.global.client.http is UnixHTTPClient)
    }

    @Test func environmentNamesTheAgentToo() throws {
        let health = try #require(try Tether.parseAsRoot(["list"]) as? Tether.List)
        let remote = try health.global.remoteAgent(environment: [
            "TETHER_AGENT": "https://[fd00::2]", "TETHER_CERT": "/c", "TETHER_KEY": "/k", "TETHER_CA": "/a",
        ])
        #expect(remote?.host == "fd00::2" && remote?.port == 8443 && remote?.url == "https://[fd00::2]:8443")
        #expect(try health.global.remoteAgent(environment: ["TETHER_CERT": "/c"]) == nil)
        let local = try Self.options(["socket": "/s.sock"])
        #expect(try local.remoteAgent(environment: ["TETHER_AGENT": "https://s:8443"]) == nil)
    }

    /// The options as given on the command line (validation, which prints, is not run here).
    static func options(_ given: [String: String]) throws -> GlobalOptions {
        var options = try GlobalOptions.parse([])
        options.agent = given["agent"]
        options.cert = given["cert"]
        options.key = given["key"]
        options.ca = given["ca"]
        options.socket = given["socket"]
        return options
    }

    @Test(arguments: [
        (["agent": "https://s:8443", "cert": "/c", "key": "/k"], [String: String](), "--agent needs --ca"),
        (["agent": "https://s:8443"], ["TETHER_CERT": "/c", "TETHER_CA": "/a"], "--agent needs --key"),
        (["agent": "http://s:8443", "cert": "/c", "key": "/k", "ca": "/a"], [:], "is not https://HOST:PORT"),
        (["agent": "https://s:8443/v1", "cert": "/c", "key": "/k", "ca": "/a"], [:], "is not https://HOST:PORT"),
        (["cert": "/c"], [:], "--cert is only for a remote agent"),
        (["socket": "/s.sock", "agent": "https://s", "cert": "/c", "key": "/k", "ca": "/a"], [:], "--socket and --agent name two agents"),
    ])
    func halfGivenIdentityIsRefused(given: [String: String], environment: [String: String], expected: String) throws {
        let error = #expect(throws: TetherError.self) { try Self.options(given).remoteAgent(environment: environment) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
    }

    @Test func usageErrorExitsWithTheInvalidInputCode() {
        let error = #expect(throws: (any Error).self) { try Tether.parseAsRoot(["health", "--agent", "https://s:8443"]) }
        #expect(error.map { Tether.exitCode(for: $0).rawValue } == TetherError.Code.invalidInput.exitCode)
    }

    @Test func connectionOptionsMayComeBeforeTheCommand() throws {
        let moved = Tether.connectionOptionsAfterCommand(["--agent", "https://s:8443", "--cert=/c", "--key", "/k", "--ca", "/a", "export", "list", "--json"])
        #expect(moved == ["export", "list", "--json", "--agent", "https://s:8443", "--cert=/c", "--key", "/k", "--ca", "/a"])
        #expect(Tether.connectionOptionsAfterCommand(["--socket", "/s", "show", "--", "--odd"]) == ["show", "--socket", "/s", "--", "--odd"])
        #expect(Tether.connectionOptionsAfterCommand(["list", "--agent", "u"]) == ["list", "--agent", "u"])
        let list = try #require(try Tether.parseAsRoot(Tether.connectionOptionsAfterCommand(["--agent", "https://s:8443"] + Self.identity + ["list"])) as? Tether.List)
        #expect((list.global.client.http as? TLSHTTPClient)?.agent.host == "s")
    }
}
