import GRDB

extension Journal {
    /// The disk XML of every journaled attachment that has one, read out of the `result` JSON by
    /// SQLite. Every attach asks for the disk targets in use; decoding each record for it made N
    /// attaches in a row cost N² record decodes. A row whose result is not JSON is skipped (the
    /// doctor reports it); one whose result parses keeps its target even when another column of
    /// it is broken: safer than handing its name out twice.
    func diskXMLs() async throws -> [String] {
        try await writer.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT json_extract(result, '$.diskXML') FROM attachment
                    WHERE json_valid(result) AND json_type(result, '$.diskXML') = 'text'
                    """)
        }
    }
}
