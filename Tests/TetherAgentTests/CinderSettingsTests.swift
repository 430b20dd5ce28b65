import Foundation
import TetherAgent
import TetherCinder
import TetherCore
import TetherFakes
import Testing

@Suite struct CinderSettingsTests {
    @Test func noCinderAnywhereMeansNotConfigured() throws {
        #expect(try AgentConfiguration.parse("", file: "t.toml", environment: ["PATH": "/bin"]).cinder == nil)
    }

    @Test func noauthFromTheFile() throws {
        let text = """
            [cinder]
            auth_type = "noauth"
            endpoint = "http://127.0.0.1:8776/v3/abc"
            project_id = "abc"
            microversion = "3.27"
            retry_interval = 2
            """
        let cinder = try #require(try AgentConfiguration.parse(text, file: "t.toml").cinder)
        #expect(cinder.client.endpoint == "http://127.0.0.1:8776/v3/abc")
        #expect(cinder.microversion == Microversion(3, 27))
        #expect(cinder.retryInterval == .seconds(2))
        guard case .noauth(let user, let project) = cinder.client.auth else {
            Issue.record("not noauth: \(cinder.client.auth)")
            return
        }
        #expect(user == "admin" && project == "abc")
    }

    @Test func passwordFromTheEnvironmentAsOpenStackClientsReadIt() throws {
        let environment = [
            "OS_AUTH_URL": "http://keystone:5000/v3", "OS_USERNAME": "tether", "OS_PASSWORD": "s3cret", "OS_PROJECT_NAME": "service",
            "OS_USER_DOMAIN_NAME": "corp", "OS_REGION_NAME": "r1",
        ]
        let cinder = try #require(try AgentConfiguration.parse("", file: "t.toml", environment: environment).cinder)
        guard case .password(let url, let user, let domain, let password, let project, let projectDomain) = cinder.client.auth else {
            Issue.record("not password: \(cinder.client.auth)")
            return
        }
        #expect(url == "http://keystone:5000/v3" && user == "tether" && domain == "corp" && project == "service" && projectDomain == "Default")
        #expect(password.reveal { $0 } == "s3cret")
        #expect(cinder.client.region == "r1")
        #expect(cinder.microversion == nil)
    }

    @Test func passwordFileMustBePrivate() throws {
        let directory = try TemporaryDirectory(prefix: "cin")
        defer { directory.remove() }
        let file = directory.file("password")
        try "from-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        let text = """
            [cinder]
            auth_url = "http://keystone:5000"
            username = "tether"
            password_file = "\(file)"
            project_name = "service"
            """
        // Readable or writable by group or others: Cinder is off, the rest of the agent is not.
        for mode: mode_t in [0o644, 0o640, 0o620, 0o604] {
            chmod(file, mode)
            let configuration = try AgentConfiguration.parse(text, file: "t.toml")
            #expect(configuration.cinder == nil)
            let refusal = try #require(configuration.cinderRefusal)
            #expect(refusal.key == "password_file")
            #expect(refusal.description.contains(file) && refusal.description.contains(SecretFile.octal(UInt32(mode))))
            #expect(refusal.problem.hint == "run chmod 600 \(file)")
        }
        // Owned by someone who is neither root nor tetherd's user.
        chmod(file, 0o600)
        chown(file, 4242, 4242)
        let foreign = try #require(try AgentConfiguration.parse(text, file: "t.toml").cinderRefusal)
        #expect(foreign.description.contains("uid 4242"))
        #expect(foreign.problem.hint.hasPrefix("run chown "))
        chown(file, geteuid(), getegid())
        let cinder = try #require(try AgentConfiguration.parse(text, file: "t.toml", environment: ["OS_PASSWORD": "env-loses"]).cinder)
        guard case .password(_, _, _, let password, _, _) = cinder.client.auth else {
            Issue.record("not password")
            return
        }
        #expect(password.reveal { $0 } == "from-file")
    }

    @Test func incompleteSettingsSayWhatIsMissing() throws {
        let noProject = #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.parse("[cinder]\nauth_type = \"noauth\"\nendpoint = \"http://x/v3/p\"", file: "t.toml")
        }
        #expect(noProject?.message.contains("project_id") == true)
        let noPassword = #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.parse("[cinder]\nauth_url = \"http://k\"\nusername = \"u\"\nproject_name = \"p\"", file: "t.toml")
        }
        #expect(noPassword?.message.contains("password_file") == true)
        let badVersion = #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.parse("[cinder]\nendpoint = \"http://x/v3/p\"\nproject_id = \"p\"\nmicroversion = \"2.1\"", file: "t.toml")
        }
        #expect(badVersion?.message.contains("microversion") == true)
        let typo = #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.parse("[cinder]\nendpont = \"http://x\"", file: "t.toml")
        }
        #expect(typo?.message.contains("endpont") == true)
    }
}
