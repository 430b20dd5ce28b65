import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// The caller's credentials (issue #16): `tether --os-cloud` and the caller's OS_* variables
/// against the lab's real Keystone, with tetherd's own `[cinder]` password wrong, so that only the
/// caller's can work; the secrets reach no command line, log line, answer or journal byte.
extension CinderLocalAttachTests.Keystone {
    @Test func theCallersCredentialsAreUsedAndNeverKept() async throws {
        let lab = try await CinderLab.running()
        try #require(lab.usesKeystone, "the lab runs without Keystone (CINDER_LAB_AUTH=noauth)")
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        let password = try Self.secret(lab.values["TETHER_PASSWORD_FILE"])
        let appCredentialSecret = try Self.secret(lab.values["APPCRED_SECRET_FILE"])
        try await TemporaryDirectory.with(prefix: "caller") { directory in
            let wrong = directory.file("wrong.password")
            try CinderLab.writePrivate("not-the-password", to: wrong)
            let clouds = directory.file("clouds.yaml")
            try CinderLab.writePrivate(
                """
                clouds:
                  lab:
                    region_name: RegionOne
                    auth:
                      auth_url: \(lab.keystoneURL)
                      username: \(lab.values["TETHER_USER"] ?? "")
                      password: "\(password)"
                      project_name: admin
                      user_domain_name: Default
                      project_domain_name: Default

                """, to: clouds)
            try await Self.withAgent(lab, cinder: lab.agentConfig(auth: .passwordFile(wrong))) { agent, client in
                let watch = CommandLineWatch(for: [password, appCredentialSecret])
                // tetherd's own credentials are refused: exit 5, nothing made in Cinder.
                let own = try CLIFlowTests.tether(agent, ["local-attach", volume])
                #expect(own.status == 5, "\(own.output)")
                #expect(try lab.attachments(volume).isEmpty)

                let attach = try Lab.run(
                    CLIFlowTests.binary, ["local-attach", volume, "--os-cloud", "lab", "--json"],
                    environment: ["TETHER_SOCKET": agent.socketPath, "OS_CLIENT_CONFIG_FILE": clouds, "OS_CLIENT_SECURE_FILE": directory.file("none.yaml")])
                #expect(attach.status == 0, "\(attach.output)")
                let attached = try JSONDecoder().decode(LocalAttachmentBody.self, from: Data(attach.output.utf8))
                try Self.expectAttached(lab, volume, attached)

                // Detach with the application credential from the caller's OS_* variables.
                let detach = try Lab.run(
                    CLIFlowTests.binary, ["local-detach", volume, "--json"],
                    environment: [
                        "TETHER_SOCKET": agent.socketPath, "OS_AUTH_URL": lab.keystoneURL, "OS_AUTH_TYPE": "v3applicationcredential",
                        "OS_APPLICATION_CREDENTIAL_ID": lab.values["APPCRED_ID"] ?? "", "OS_APPLICATION_CREDENTIAL_SECRET": appCredentialSecret,
                        "OS_REGION_NAME": "RegionOne",
                    ])
                #expect(detach.status == 0, "\(detach.output)")
                try await CinderLocalAttachTests.expectClean(lab, volume, client, agent)

                let report = watch.stop()
                #expect(report.passes > 0)
                #expect(report.offending.isEmpty, "on a command line: \(report.offending)")
                for text in [password, appCredentialSecret] {
                    #expect(!attach.output.contains(text) && !detach.output.contains(text), "in tether's output")
                    #expect(!agent.log().contains(text), "in tetherd's log")
                    #expect(try Self.filesHolding(text, under: agent.stateDirectory).isEmpty, "in the state directory")
                }
            }
        }
    }

    /// Incomplete credentials from the caller are refused before anything is sent, naming the key.
    @Test func incompleteCallerCredentialsNameTheMissingKey() async throws {
        let lab = try await CinderLab.running()
        try #require(lab.usesKeystone, "the lab runs without Keystone (CINDER_LAB_AUTH=noauth)")
        try await Self.withAgent(lab, cinder: lab.agentConfig()) { agent, _ in
            let refused = try Lab.run(
                CLIFlowTests.binary, ["local-attach", "5b8e0c1a-0000-4000-8000-000000000001"],
                environment: ["TETHER_SOCKET": agent.socketPath, "OS_AUTH_URL": lab.keystoneURL, "OS_USERNAME": "tether"])
            #expect(refused.status == 2, "\(refused.output)")
            #expect(refused.output.contains("auth.password"), "\(refused.output)")
        }
    }

    static func secret(_ path: String?) throws -> String {
        try String(contentsOfFile: path ?? "", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every regular file under `directory` (the journal, its WAL, secrets) whose bytes hold `text`.
    static func filesHolding(_ text: String, under directory: String) throws -> [String] {
        let needle = Data(text.utf8)
        var found: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let name = enumerator?.nextObject() as? String {
            let path = directory + "/" + name
            if let data = FileManager.default.contents(atPath: path), data.range(of: needle) != nil { found.append(path) }
        }
        return found
    }
}
