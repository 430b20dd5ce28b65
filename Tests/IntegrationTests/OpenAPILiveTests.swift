import Foundation
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// A live agent's answers fit docs/openapi.json: success bodies of the main routes (with a real
/// tgtd export and a real libiscsi attach), and error bodies.
@Suite(.tags(.integration), .enabled(if: Lab.has("tgtd")), .timeLimit(.minutes(2)))
struct OpenAPILiveTests {
    let document: OpenAPIDocument

    init() throws {
        document = try OpenAPIDocument.repository()
    }

    /// Sends one request and checks the answer against the documented schema of `path` (the
    /// document's template) for the status it got; returns that status and body.
    @discardableResult
    func check(
        _ socket: String, _ method: String, _ target: String, as path: String, body: JSONValue? = nil, expect status: Int
    ) async throws -> JSONValue {
        let data = try body.map { try JSONEncoder().encode($0) }
        let response = try await UnixHTTPClient(socketPath: socket).send(HTTPRequest(method: method, target: target, body: data))
        #expect(response.status == status, "\(method) \(target): \(String(decoding: response.body, as: UTF8.self))")
        let answer = try JSONDecoder().decode(JSONValue.self, from: response.body)
        let problems = document.problems(answer: answer, status: response.status, of: .init(method: method, path: path))
        #expect(problems == [], "\(method) \(target) answered \(response.status) outside the schema")
        return answer
    }

    @Test func answersOfTheMainRoutesFitTheSchemas() async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                let socket = agent.socketPath
                try await check(socket, "GET", "/v1/health", as: "/v1/health", expect: 200)
                try await check(socket, "GET", "/v1/connector", as: "/v1/connector", expect: 200)
                try await check(socket, "GET", "/v1/doctor", as: "/v1/doctor", expect: 200)
                let request: JSONValue = [
                    "volume": ["id": "vol-api", "path": .string(tgtd.directory.file("vol-api.img")), "size_bytes": .int(16 << 20)],
                    "connector": ["initiator": .string(agent.initiator), "host": "node1", "multipath": false],
                ]
                let export = try await check(socket, "POST", "/v1/exports", as: "/v1/exports", body: request, expect: 201)
                try await check(socket, "POST", "/v1/exports", as: "/v1/exports", body: request, expect: 200)
                try await check(socket, "GET", "/v1/exports", as: "/v1/exports", expect: 200)

                let attach: JSONValue = ["connection_info": export["connection_info"] ?? .null, "mode": "network"]
                try await check(socket, "POST", "/v1/attachments", as: "/v1/attachments", body: attach, expect: 201)
                try await check(socket, "GET", "/v1/attachments", as: "/v1/attachments", expect: 200)
                try await check(socket, "GET", "/v1/attachments/vol-api", as: "/v1/attachments/{ref}", expect: 200)
                try await check(socket, "DELETE", "/v1/attachments/vol-api", as: "/v1/attachments/{ref}", expect: 200)
                try await check(socket, "DELETE", "/v1/exports/vol-api", as: "/v1/exports/{volume}", expect: 200)
                try await check(socket, "GET", "/v1/clusters", as: "/v1/clusters", expect: 200)
                try await check(socket, "GET", "/v1/local-attachments", as: "/v1/local-attachments", expect: 200)
            }
        }
    }

    @Test func errorAnswersFitTheErrorSchema() async throws {
        try await AgentProcess.with(tgtd: nil) { agent in
            let socket = agent.socketPath
            let missing = try await check(socket, "GET", "/v1/attachments/no-such", as: "/v1/attachments/{ref}", expect: 404)
            #expect(missing["error"]?["code"] == "not_found")
            let malformed = try await check(
                socket, "POST", "/v1/attachments", as: "/v1/attachments", body: ["connection_info": "not an object"], expect: 400)
            #expect(malformed["error"]?["code"] == "invalid_input")
            // No [cinder] in this agent's configuration.
            let unconfigured = try await check(
                socket, "POST", "/v1/local-attachments", as: "/v1/local-attachments", body: ["volume_id": "6a1d2a8e-4b0f-4c5e-9d7a-3f2b1c0d9e8f"],
                expect: 503)
            #expect(unconfigured["error"]?["code"] == "not_configured")
        }
    }
}
