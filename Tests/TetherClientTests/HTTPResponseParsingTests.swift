import Foundation
import Testing
import TetherCore

@testable import TetherClient

@Suite struct HTTPResponseParsingTests {
    @Test func contentLength() throws {
        let bytes = Array("HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\":\"a\"}\nextra".utf8)
        let response = try #require(try HTTPResponse.parse(bytes, atEnd: false))
        #expect(response.status == 201)
        #expect(response.reason == "Created")
        #expect(response.header("CONTENT-TYPE") == "application/json")
        #expect(response.body == Data("{\"id\":\"a\"}\n".utf8))
    }

    @Test func chunked() throws {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "4\r\n{\"st\r\n" + "A;name=value\r\natus\":\"ok\"\r\n" + "1\r\n}\r\n" + "0\r\nX-Trailer: 1\r\n\r\n"
        let response = try HTTPResponse(parsing: Array(text.utf8))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "{\"status\":\"ok\"}")
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Len",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\":",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n",
    ])
    func incompleteWaitsForMoreThenFailsAtEnd(text: String) throws {
        #expect(try HTTPResponse.parse(Array(text.utf8), atEnd: false) == nil)
        let error = #expect(throws: TetherError.self) { try HTTPResponse.parse(Array(text.utf8), atEnd: true) }
        #expect(error?.code == .internalError)
    }

    @Test func bodyWithoutFramingRunsToTheEnd() throws {
        let bytes = Array("HTTP/1.0 500 Internal Server Error\r\nServer: x\r\n\r\noops".utf8)
        #expect(try HTTPResponse.parse(bytes, atEnd: false) == nil)
        let response = try HTTPResponse(parsing: bytes)
        #expect(response.status == 500)
        #expect(response.body == Data("oops".utf8))
    }

    @Test func interimResponsesAreSkipped() throws {
        let bytes = Array("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n".utf8)
        let response = try HTTPResponse(parsing: bytes)
        #expect(response.status == 204)
        #expect(response.body.isEmpty)
    }

    @Test(arguments: [
        "SSH-2.0-OpenSSH\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        "",
    ])
    func malformed(text: String) {
        let error = #expect(throws: TetherError.self) { try HTTPResponse.parse(Array(text.utf8), atEnd: true) }
        #expect(error?.code == .internalError)
    }

    @Test func requestCarriesFramingHeaders() {
        let request = HTTPRequest(method: "POST", target: "/v1/attachments", body: Data("{}".utf8))
        let text = String(decoding: request.serialized(), as: UTF8.self)
        #expect(text.hasPrefix("POST /v1/attachments HTTP/1.1\r\n"))
        #expect(text.contains("\r\nConnection: close\r\n"))
        #expect(text.contains("\r\nContent-Type: application/json\r\n"))
        #expect(text.hasSuffix("\r\nContent-Length: 2\r\n\r\n{}"))
    }
}
