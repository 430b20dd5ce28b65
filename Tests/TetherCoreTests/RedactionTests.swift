import TetherCore
import Testing

@Suite struct RedactionTests {
    @Test(arguments: [
        "password", "auth_password", "discovery_auth_password", "target_auth_password", "Password", "db-passwd", "secret", "chap_secret",
        "cephx_secret", "token", "X-Auth-Token", "passphrase", "application_credential_secret", "credential", "keyring", "key", "auth_key",
        "apikey", "encryption_key", "keys", "auth", "authorization", "private", "private_key", "auth_url",
    ])
    func secretKeys(key: String) {
        #expect(Redaction.isSecretKey(key))
    }

    /// Names that describe or name a secret; the agent reads them back to undo an attach.
    @Test(arguments: [
        "auth_method", "auth_username", "discovery_auth_method", "discovery_auth_username", "secret_uuid", "secret_type", "auth_enabled",
        "key_secret_uuid", "target_iqn", "volume_id", "hosts", "encrypted", "encryption_key_id", "monkey_business",
    ])
    func harmlessKeys(key: String) {
        #expect(!Redaction.isSecretKey(key))
    }

    @Test func masksAtAnyDepthIncludingUnmodelledKeys() {
        let value: JSONValue = [
            "driver_volume_type": "iscsi",
            "data": [
                "auth_method": "CHAP", "auth_username": "u", "auth_password": "p4ss-word",
                "extra": ["deep": ["password": "deep-one", "note": "kept"]],
                "volume_encryption": ["passphrase": "enc-one", "cipher": "aes"],
                "keyring": ["nested": "whole object masked"],
                "list": [["token": "in-a-list"], "plain"],
                "secret_uuid": "457eb676-33da-42ec-9a8c-9293d545c337",
                "discovery_auth_password": nil,
            ],
        ]
        let masked = Redaction.redact(value)
        let data = masked["data"]
        #expect(data?["auth_method"] == "CHAP")
        #expect(data?["auth_username"] == "u")
        #expect(data?["auth_password"] == "<redacted>")
        #expect(data?["extra"]?["deep"]?["password"] == "<redacted>")
        #expect(data?["extra"]?["deep"]?["note"] == "kept")
        #expect(data?["volume_encryption"]?["passphrase"] == "<redacted>")
        #expect(data?["volume_encryption"]?["cipher"] == "aes")
        #expect(data?["keyring"] == "<redacted>")
        #expect(data?["list"]?.arrayValue?.first?["token"] == "<redacted>")
        #expect(data?["secret_uuid"] == "457eb676-33da-42ec-9a8c-9293d545c337")
        #expect(data?["discovery_auth_password"] == .null)
        #expect(Redaction.redact(value, keeping: ["auth_password"])["data"]?["auth_password"] == "p4ss-word")

        #expect(Redaction.secretValues(in: value) == ["p4ss-word", "deep-one", "enc-one", "whole object masked", "in-a-list"])
    }

    @Test func connectionInfoRedactsDataAndTopLevelExtras() throws {
        let info = try ConnectionInfo(json: [
            "driver_volume_type": "rbd", "serial": "v1", "auth_token": "top-secret-token",
            "data": ["name": "volumes/v1", "keyring": "AQBkey==", "vendor": ["api_key": "k-123456"]],
        ])
        let redacted = info.redacted()
        #expect(redacted.extra["auth_token"] == "<redacted>")
        #expect(redacted.extra["serial"] == "v1")
        #expect(redacted.data["keyring"] == "<redacted>")
        #expect(redacted.data["vendor"]?["api_key"] == "<redacted>")
        #expect(redacted.data["name"] == "volumes/v1")
        #expect(info.secretValues == ["top-secret-token", "AQBkey==", "k-123456"])
    }

    @Test func errorsLoseSecretsButKeepTheirCode() throws {
        let error = TetherError(.iscsiAuthFailed, "login as u with p4ss-word refused", hint: "p4ss-word is wrong", cause: TetherError(.internalError, "p4ss-word"))
        let redacted = try #require(Redaction.redact(error, secrets: ["p4ss-word", "ab"]) as? TetherError)
        #expect(redacted.code == .iscsiAuthFailed)
        #expect(redacted.message == "login as u with <redacted> refused")
        #expect(redacted.hint == "<redacted> is wrong")
        #expect(redacted.cause.map { "\($0)" } == "internal: <redacted>")
        struct Other: Error, CustomStringConvertible { var description: String { "saw p4ss-word" } }
        let other = Redaction.redact(Other(), secrets: ["p4ss-word"])
        #expect(other is RedactedCause && "\(other)" == "saw <redacted>")
        // Nothing to hide: the very error, not a wrapper.
        #expect(Redaction.redact(Other(), secrets: ["elsewhere"]) is Other)
    }
}
