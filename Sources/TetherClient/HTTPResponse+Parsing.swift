import Foundation
import TetherCore

extension HTTPResponse {
    /// Parses one response from the bytes read so far.
    ///
    /// The body is delimited by `Transfer-Encoding: chunked` (which SwiftNIO servers use for
    /// streamed bodies), else by `Content-Length`, else by the end of the connection.
    /// Interim `1xx` responses are skipped.
    ///
    /// - Parameters:
    ///   - bytes: everything read from the connection so far.
    ///   - atEnd: true when the peer closed the connection, so no more bytes will come.
    /// - Returns: the response, or nil when `bytes` holds only its beginning and `atEnd` is false.
    /// - Throws: `TetherError` with code `.internalError` when the bytes are not an HTTP/1.x
    ///   response, or when the connection ended before the response did.
    public static func parse(_ bytes: [UInt8], atEnd: Bool) throws -> HTTPResponse? {
        var start = 0
        while true {
            guard let headEnd = bytes.offset(of: crlfcrlf, from: start) else {
                guard atEnd else { return nil }
                throw malformed(start == bytes.count ? "the connection closed before a response" : "the connection closed inside the response headers")
            }
            var response = try parseHead(bytes[start..<headEnd])
            let bodyStart = headEnd + crlfcrlf.count
            if (100..<200).contains(response.status) {
                start = bodyStart
                continue
            }
            guard let body = try parseBody(of: response, in: bytes, from: bodyStart, atEnd: atEnd) else {
                return nil
            }
            response.body = Data(body)
            return response
        }
    }

    /// Parses a complete response.
    /// - Throws: `TetherError` with code `.internalError` when `bytes` is not one.
    public init(parsing bytes: [UInt8]) throws {
        // With atEnd set, parse either returns a response or throws.
        self = try Self.parse(bytes, atEnd: true)!
    }

    private static let crlf: [UInt8] = Array("\r\n".utf8)
    private static let crlfcrlf: [UInt8] = Array("\r\n\r\n".utf8)

    private static func malformed(_ what: String) -> TetherError {
        TetherError(.internalError, "malformed HTTP response: \(what)")
    }

    private static func parseHead(_ head: ArraySlice<UInt8>) throws -> HTTPResponse {
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0]
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."),
            parts[1].count == 3, parts[1].allSatisfy(\.isASCIIDigit), let status = Int(parts[1])
        else {
            throw malformed("bad status line \"\(statusLine.prefix(80))\"")
        }
        var headers: [Header] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw malformed("bad header line \"\(line.prefix(80))\"")
            }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append(Header(name: String(line[..<colon]), value: value))
        }
        return HTTPResponse(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers)
    }

    private static func parseBody(of response: HTTPResponse, in bytes: [UInt8], from start: Int, atEnd: Bool) throws -> ArraySlice<UInt8>? {
        if response.status == 204 || response.status == 304 {
            return []
        }
        if let coding = response.header("Transfer-Encoding"),
            coding.split(separator: ",").last?.trimmingCharacters(in: .whitespaces).lowercased() == "chunked"
        {
            guard let body = try dechunk(bytes, from: start) else {
                guard atEnd else { return nil }
                throw malformed("the connection closed inside a chunked body")
            }
            return body[...]
        }
        if let lengthText = response.header("Content-Length") {
            guard !lengthText.isEmpty, lengthText.allSatisfy(\.isASCIIDigit), let length = Int(lengthText) else {
                throw malformed("bad Content-Length \"\(lengthText.prefix(40))\"")
            }
            guard bytes.count - start >= length else {
                guard atEnd else { return nil }
                throw malformed("the connection closed after \(bytes.count - start) of \(length) body bytes")
            }
            return bytes[start..<(start + length)]
        }
        // No framing: the body runs to the end of the connection.
        return atEnd ? bytes[start...] : nil
    }

    /// The body of a chunked message starting at `start`, or nil if it is not complete yet.
    private static func dechunk(_ bytes: [UInt8], from start: Int) throws -> [UInt8]? {
        var body: [UInt8] = []
        var index = start
        while true {
            guard let lineEnd = bytes.offset(of: crlf, from: index) else { return nil }
            let line = String(decoding: bytes[index..<lineEnd], as: UTF8.self)
            // A size line may carry extensions after ";"; nobody uses them, so they are ignored.
            let sizeText = line.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces)
            guard !sizeText.isEmpty, sizeText.allSatisfy(\.isHexDigit), let size = Int(sizeText, radix: 16) else {
                throw malformed("bad chunk size \"\(line.prefix(40))\"")
            }
            index = lineEnd + crlf.count
            if size == 0 {
                // Trailer fields, if any, up to an empty line.
                while true {
                    guard let end = bytes.offset(of: crlf, from: index) else { return nil }
                    if end == index { return body }
                    index = end + crlf.count
                }
            }
            guard bytes.count - index >= size + crlf.count else { return nil }
            body += bytes[index..<(index + size)]
            guard bytes[index + size] == crlf[0], bytes[index + size + 1] == crlf[1] else {
                throw malformed("chunk of \(size) bytes is not followed by CRLF")
            }
            index += size + crlf.count
        }
    }
}

extension Array where Element == UInt8 {
    /// The index where `pattern` first occurs at or after `start`.
    fileprivate func offset(of pattern: [UInt8], from start: Int) -> Int? {
        guard count >= pattern.count, start <= count - pattern.count else { return nil }
        for index in start...(count - pattern.count) where self[index] == pattern[0] {
            if self[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
        }
        return nil
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
