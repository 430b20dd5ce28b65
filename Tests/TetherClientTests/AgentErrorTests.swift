import Foundation
import Testing
import TetherAPI
import TetherCore

@testable import TetherClient

@Suite struct AgentErrorTests {
    @Test(arguments: [
        ("iscsi.auth_failed", 403, 5),
        ("not_found", 404, 3),
        ("invalid_input", 400, 2),
        ("conflict", 409, 4),
        ("timed_out", 504, 6),
        ("shutting_down", 503, 7),
        ("rbd.something_new", 502, 1),
    ] as [(String, Int, Int32)])
    func errorBodyBecomesTheAgentsError(code: String, status: Int, exitCode: Int32) throws {
        let body = #"{"error":{"code":"\#(code)","message":"volume v1: it failed","hint":"try again"}}"#
        let response = HTTPResponse(status: status, body: Data(body.utf8))
        let error = #expect(throws: TetherError.self) { try TetherAgentClient.check(response) }
        #expect(error?.code == TetherError.Code(rawValue: code))
        #expect(error?.message == "volume v1: it failed")
        #expect(error?.hint == "try again")
        #expect(error?.code.exitCode == exitCode)
    }

    @Test func errorBodyWithoutHint() throws {
        let response = HTTPResponse(status: 404, body: Data(#"{"error":{"code":"not_found","message":"no attachment x"}}"#.utf8))
        let error = #expect(throws: TetherError.self) { try TetherAgentClient.check(response) }
        #expect(error?.code == .notFound)
        #expect(error?.hint == nil)
    }

    @Test(arguments: ["<html>Bad Gateway</html>", "", #"{"message":"no error key"}"#])
    func undecodableErrorBodyIsInternal(body: String) throws {
        let response = HTTPResponse(status: 502, body: Data(body.utf8))
        let error = #expect(throws: TetherError.self) { try TetherAgentClient.check(response) }
        #expect(error?.code == .internalError)
        #expect(error?.message.hasPrefix("agent answered HTTP 502: ") == true)
    }

    @Test func successPasses() throws {
        try TetherAgentClient.check(HTTPResponse(status: 201, body: Data("{}".utf8)))
    }

    @Test func answerOfTheWrongShapeIsInternal() throws {
        let reply = AgentReply(endpoint: .health, status: 200, body: Data(#"{"status":"ok"}"#.utf8))
        let error = #expect(throws: TetherError.self) { try reply.value() }
        #expect(error?.code == .internalError)
    }
}
