import Foundation
import Testing
import TetherAPI
import TetherCore

@testable import TetherClient

@Suite struct AgentEndpointTests {
    @Test func refsArePercentEncoded() {
        #expect(AgentEndpoint.attachment("pool/vol 1").target == "/v1/attachments/pool%2Fvol%201")
        #expect(AgentEndpoint.detach("a?b", force: true).target == "/v1/attachments/a%3Fb?force=true")
        #expect(AgentEndpoint.detach("v1", force: false).target == "/v1/attachments/v1?force=false")
    }

    @Test func exportDeletionNamesTheInitiatorInTheQuery() {
        let endpoint = AgentEndpoint.deleteExport(volumeID: "v1", initiator: "iqn.1994-05.com.redhat:node+1")
        #expect(endpoint.method == "DELETE")
        #expect(endpoint.target == "/v1/exports/v1?initiator=iqn.1994-05.com.redhat%3Anode%2B1")
        #expect(AgentEndpoint.deleteExport(volumeID: "v1").target == "/v1/exports/v1")
    }

    @Test func attachSendsTheRequestAsJSON() throws {
        let info = ConnectionInfo(driverVolumeType: "iscsi", data: ["volume_id": "v1"])
        let endpoint = try AgentEndpoint.attach(CreateAttachmentRequest(connectionInfo: info, mode: .kernel, readOnly: true))
        #expect(endpoint.method == "POST")
        #expect(endpoint.target == "/v1/attachments")
        let body = try JSONDecoder().decode(JSONValue.self, from: try #require(endpoint.body))
        #expect(body["connection_info"]?["driver_volume_type"] == "iscsi")
        #expect(body["mode"] == "kernel")
        #expect(body["read_only"] == true)
    }
}
