/// Plain-text layouts for the CLI's human output.
public enum TextTable {
    /// `rows` under `header` in columns padded to their widest cell, two spaces apart.
    /// The last column is not padded, so lines carry no trailing blanks.
    public static func render(header: [String], rows: [[String]]) -> String {
        let columns = ([header] + rows).map(\.count).max() ?? 0
        let lines = [header] + rows
        var widths = [Int](repeating: 0, count: columns)
        for line in lines {
            for (column, cell) in line.enumerated() {
                widths[column] = max(widths[column], cell.count)
            }
        }
        return lines.map { line in
            line.enumerated().map { column, cell in
                column == line.count - 1 ? cell : cell.padding(to: widths[column])
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// One `label: value` per line with the values aligned, for a single object.
    /// A value of several lines continues under the first, indented to the value column.
    public static func fields(_ fields: [(label: String, value: String)]) -> String {
        let width = (fields.map(\.label.count).max() ?? 0) + 1
        return fields.map { label, value in
            let indent = String(repeating: " ", count: width + 1)
            let text = value.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n" + indent)
            return "\(label):".padding(to: width) + " " + text
        }.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
