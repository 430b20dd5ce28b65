import Foundation
import TetherCinder
import TetherCore
import Testing

@Suite struct CinderDocumentsTests {
    static func json(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// Cinder Zed's `GET /` (300 Multiple Choices).
    static let zedVersions = """
        {"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.70", "min_version": "3.0",
          "updated": "2023-08-31T00:00:00Z", "links": [{"rel": "self", "href": "http://127.0.0.1:8776/v3/"}],
          "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]}]}
        """

    @Test func versionDocument() throws {
        let range = CinderDocuments.versions(try Self.json(Self.zedVersions))
        #expect(range?.min == Microversion(3, 0))
        #expect(range?.max == Microversion(3, 70))
        #expect(CinderDocuments.versions(["versions": []]) == nil)
    }

    @Test func microversionsCompareNumerically() {
        #expect(Microversion(3, 9) < Microversion(3, 44))
        #expect(Microversion("3.44")! >= .attachments)
        #expect(Microversion("3.x") == nil)
        #expect(min(Microversion(3, 71), .newestKnown) == Microversion(3, 70))
    }

    @Test func catalogPicksInterfaceAndRegion() throws {
        let token = try Self.json("""
            {"token": {"catalog": [
              {"type": "identity", "endpoints": [{"interface": "public", "url": "http://keystone:5000/v3"}]},
              {"type": "volumev3", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": "https://cinder.example:8776/v3/abc"},
                {"interface": "internal", "region_id": "RegionOne", "url": "http://10.0.0.5:8776/v3/abc"},
                {"interface": "internal", "region_id": "RegionTwo", "url": "http://10.1.0.5:8776/v3/abc"}]}]}}
            """)
        #expect(CinderDocuments.endpoint(catalog: token, interface: "internal", region: "RegionTwo") == "http://10.1.0.5:8776/v3/abc")
        #expect(CinderDocuments.endpoint(catalog: token, interface: "public", region: nil) == "https://cinder.example:8776/v3/abc")
        #expect(CinderDocuments.endpoint(catalog: token, interface: "admin", region: nil) == nil)
    }

    @Test(arguments: [
        (404, TetherError.Code.notFound), (400, .invalidInput), (409, .conflict), (401, .cinderDenied), (403, .cinderDenied),
        (406, .unsupported), (500, .cinderFailed),
    ])
    func errorBodies(status: Int, code: TetherError.Code) {
        let body = Data(#"{"itemNotFound": {"code": 404, "message": "Volume 1234 could not be found."}}"#.utf8)
        let error = CinderDocuments.error(status: status, body: body, what: "show volume 1234")
        #expect(error.code == code)
        #expect(error.message.contains("Volume 1234 could not be found."))
    }

    @Test func attachModeNullIsAbsent() throws {
        #expect(CinderDocuments.attachMode(try Self.json(#"{"attach_mode": "null"}"#)) == nil)
        #expect(CinderDocuments.attachMode(try Self.json(#"{"attach_mode": "ro"}"#)) == "ro")
        #expect(CinderDocuments.attachMode(try Self.json(#"{}"#)) == nil)
    }

    @Test func keystoneBodiesCarryTheSecretOnlyInside() throws {
        let auth = CinderAuth.password(authURL: "http://k:5000/v3", user: "tether", userDomain: "Default", password: Secret("s3cret"), project: "p", projectDomain: "Default")
        #expect(!"\(auth)".contains("s3cret"))
    }
}
