import TetherAPI

extension HumanOutput {
    /// The findings as a table (check, status, message), then a hint line for each warning or
    /// failure, then a count per status.
    public static func doctor(_ report: DoctorReport) -> String {
        var text = TextTable.render(
            header: ["CHECK", "STATUS", "MESSAGE"], rows: report.findings.map { [$0.check.rawValue, $0.status.rawValue, $0.message] })
        let hinted = report.findings.filter { ($0.status == .failed || $0.status == .warning) && $0.hint != nil }
        if !hinted.isEmpty {
            text += "\n\n" + hinted.map { "hint: \($0.check.rawValue): \($0.hint ?? "")" }.joined(separator: "\n")
        }
        let counts = DoctorFinding.Status.allCases.map { status in "\(report.findings.filter { $0.status == status }.count) \(status.rawValue)" }
        text += "\n\n\(report.ok ? "doctor: ok" : "doctor: FAILED") (\(counts.joined(separator: ", ")))"
        return text
    }
}
