import Foundation
import TetherAPI
import TetherCore
import Testing

@testable import TetherClient

/// clouds.yaml, secure.yaml and OS_* as `tether --os-cloud` reads them.
@Suite struct CallerCredentialsReaderTests {
    static let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clouds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }  // a leftover temporary directory harms nothing
        try body(directory)
    }

    func write(_ text: String, _ path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test func aCloudOfTheCurrentDirectoryWithSecureYAMLMergedOverIt() throws {
        try withDirectory { directory in
            try write(Self.pem, directory + "/ca.pem")
            try write(
                """
                clouds:
                  lab:
                    region_name: RegionTwo
                    interface: internal
                    cacert: \(directory)/ca.pem
                    auth:
                      auth_url: https://keystone.example:5000/v3
                      username: tether
                      project_name: admin
                      user_domain_name: Default
                  other:
                    auth:
                      auth_url: https://elsewhere/v3
                """, directory + "/clouds.yaml")
            try write("clouds:\n  lab:\n    auth:\n      password: from-secure\n", directory + "/secure.yaml")
            let reader = CallerCredentialsReader(environment: ["HOME": directory + "/nohome"], currentDirectory: directory)
            let credentials = try #require(try reader.credentials(cloud: "lab"))
            #expect(credentials.authType == .password)
            #expect(credentials.authURL == "https://keystone.example:5000/v3")
            #expect(credentials.username == "tether")
            #expect(credentials.password == Secret("from-secure"))
            #expect(credentials.regionName == "RegionTwo")
            #expect(credentials.interface == "internal")
            #expect(credentials.caCertificates == Self.pem)
            try credentials.validate(field: "auth")
        }
    }

    @Test func osCloudAndTheConfigFileVariableChooseTheFile() throws {
        try withDirectory { directory in
            try write(
                "clouds:\n  ac:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: http://k/v3\n      application_credential_id: abc\n      application_credential_secret: s\n",
                directory + "/elsewhere.yaml")
            let reader = CallerCredentialsReader(
                environment: ["OS_CLOUD": "ac", "OS_CLIENT_CONFIG_FILE": directory + "/elsewhere.yaml", "OS_AUTH_URL": "http://ignored/v3"],
                currentDirectory: directory)
            let credentials = try #require(try reader.credentials(cloud: nil))
            #expect(credentials.authType == .applicationCredential)
            #expect(credentials.applicationCredentialID == "abc")
            #expect(credentials.applicationCredentialSecret == Secret("s"))
        }
    }

    @Test func aMissingCloudOrFileSaysWhereItLooked() throws {
        try withDirectory { directory in
            let reader = CallerCredentialsReader(environment: ["HOME": directory], currentDirectory: directory)
            let none = #expect(throws: TetherError.self) { try reader.credentials(cloud: "lab") }
            #expect(none?.code == .invalidInput)
            #expect(none?.message.contains(directory + "/clouds.yaml") == true)
            #expect(none?.message.contains("/etc/openstack/clouds.yaml") == true)
            try write("clouds:\n  other: {}\n", directory + "/clouds.yaml")
            let missing = #expect(throws: TetherError.self) { try reader.credentials(cloud: "lab") }
            #expect(missing?.message.contains("no cloud lab") == true)
        }
    }

    @Test func verifyFalseAndUnknownAuthTypesAreRefused() throws {
        try withDirectory { directory in
            try write("clouds:\n  a:\n    verify: false\n    auth: {auth_url: 'https://k/v3'}\n  b:\n    auth_type: v3oidcpassword\n", directory + "/clouds.yaml")
            let reader = CallerCredentialsReader(environment: [:], currentDirectory: directory)
            #expect((#expect(throws: TetherError.self) { try reader.credentials(cloud: "a") })?.message.contains("verify") == true)
            #expect((#expect(throws: TetherError.self) { try reader.credentials(cloud: "b") })?.message.contains("v3oidcpassword") == true)
        }
    }

    @Test func theOSVariablesWhenOSAuthURLIsSet() throws {
        #expect(try CallerCredentialsReader(environment: ["OS_PASSWORD": "x"], currentDirectory: "/").credentials(cloud: nil) == nil)
        let environment = [
            "OS_AUTH_URL": "http://k:5000/v3", "OS_USERNAME": "tether", "OS_PASSWORD": "pw", "OS_PROJECT_NAME": "admin", "OS_REGION_NAME": "RegionOne",
            "OS_INTERFACE": "public",
        ]
        let credentials = try #require(try CallerCredentialsReader(environment: environment, currentDirectory: "/").credentials(cloud: nil))
        #expect(credentials.authType == .password)
        #expect(credentials.password == Secret("pw"))
        #expect(credentials.projectName == "admin")
        try credentials.validate(field: "auth")
        let token = try #require(try CallerCredentialsReader(environment: ["OS_TOKEN": "t", "OS_AUTH_URL": "http://k/v3"], currentDirectory: "/").credentials(cloud: nil))
        #expect(token.authType == .token)
    }
}
