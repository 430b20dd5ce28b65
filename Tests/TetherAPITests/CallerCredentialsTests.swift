import Foundation
import TetherAPI
import TetherCore
import Testing

/// The caller's credentials in a local-attach or local-detach body: checked field by field, the
/// secrets never echoed, printed or dumped.
@Suite struct CallerCredentialsTests {
    static let password = "pa55-w0rd-that-must-not-leak"

    static var good: CallerCredentials {
        CallerCredentials(
            authType: .password, authURL: "https://keystone.example:5000/v3", username: "tether", password: Secret(password), projectName: "admin")
    }

    @Test func aCompleteRequestPassesAndRoundTrips() throws {
        let request = LocalAttachRequest(volumeID: "5b8e0c1a-0000-4000-8000-000000000001", auth: Self.good)
        try request.validate()
        let decoded = try JSONDecoder().decode(LocalAttachRequest.self, from: JSONEncoder().encode(request))
        #expect(decoded.auth == Self.good)
    }

    @Test func secretsNeverPrint() {
        let text = "\(Self.good) \(String(reflecting: Self.good)) \(LocalDetachRequest(auth: Self.good))"
        var dumped = ""
        dump(Self.good, to: &dumped)
        #expect(!text.contains(Self.password))
        #expect(!dumped.contains(Self.password))
    }

    @Test(arguments: [
        (CallerCredentials(authType: .password, authURL: "https://k/v3", password: Secret("x"), projectName: "p"), "auth.username"),
        (CallerCredentials(authType: .password, authURL: "https://k/v3", username: "u", projectName: "p"), "auth.password"),
        (CallerCredentials(authType: .password, authURL: "https://k/v3", username: "u", password: Secret("x")), "auth.project_name"),
        (CallerCredentials(authType: .applicationCredential, authURL: "https://k/v3", applicationCredentialID: "id"), "auth.application_credential_secret"),
        (CallerCredentials(authType: .token, authURL: "https://k/v3"), "auth.token"),
        (CallerCredentials(authType: .token, token: Secret("t")), "auth.auth_url"),
        (CallerCredentials(authType: .password, authURL: "ftp://k/v3", username: "u", password: Secret("x"), projectName: "p"), "auth.auth_url"),
        (CallerCredentials(authType: .password, authURL: "https://k/v3", username: "u\nroot", password: Secret("x"), projectName: "p"), "auth.username"),
        (CallerCredentials(authType: .password, authURL: "https://k/v3", username: "u", password: Secret("x"), projectName: "p", interface: "private"), "auth.interface"),
        (CallerCredentials(authType: .password, authURL: "https://k/v3", username: "u", password: Secret("x"), projectName: "p", caCertificates: "not pem"), "auth.cacert_pem"),
    ])
    func badCredentialsNameTheField(credentials: CallerCredentials, field: String) {
        let error = #expect(throws: TetherError.self) { try LocalAttachRequest(volumeID: "v", auth: credentials).validate() }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.hasPrefix(field + ":") == true, "\(String(describing: error))")
        #expect(error?.hint != nil)
    }

    @Test func aBadSecretIsRefusedWithoutEchoingIt() {
        let secret = "s3cret\u{0}tail"
        var credentials = Self.good
        credentials.password = Secret(secret)
        let error = #expect(throws: TetherError.self) { try LocalDetachRequest(auth: credentials).validate() }
        #expect(error?.message.hasPrefix("auth.password:") == true)
        #expect(error.map { !"\($0.message) \($0.hint ?? "")".contains("s3cret") } == true)
    }

    @Test func anUnknownAuthTypeIsRefusedWhileDecoding() {
        let body = #"{"volume_id": "v", "auth": {"auth_type": "kerberos", "auth_url": "https://k/v3"}}"#
        #expect(throws: (any Error).self) { try JSONDecoder().decode(LocalAttachRequest.self, from: Data(body.utf8)) }
    }
}
