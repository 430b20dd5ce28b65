import ArgumentParser
import TetherAPI
import TetherClient
import TetherCore

extension Tether {
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check this node's prerequisites and the journal against the host.",
            discussion: """
                tetherd checks what its configuration uses: kernel-modules, iscsid, initiator-name, \
                multipathd, udev-rules, ceph-permissions, libvirt, socket, clock-skew, and journal \
                (attachments against the host). Each finding is ok, warning, failed or skipped, with \
                a hint. Exit 0 when no finding failed (warnings are printed and do not fail), 1 when \
                one did; when tetherd cannot be asked, a failed "agent" finding and the error's exit \
                code (7: unavailable, 5: denied, 6: timed out).
                """)

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let reply: AgentReply<DoctorReport>
            let report: DoctorReport
            do {
                reply = try await global.client.reply(.doctor)
                report = try reply.value()
            } catch {
                let failure = error as? TetherError ?? TetherError(.internalError, "\(error)", cause: error)
                if global.json {
                    GlobalOptions.printError(failure, json: true)
                } else {
                    let hint = failure.hint ?? "start tetherd (systemctl start tetherd), and check --socket and that you may use it ([api] group)"
                    print(HumanOutput.doctor(DoctorReport(findings: [DoctorFinding(.agent, .failed, failure.message, hint: hint)])))
                }
                throw ExitCode(failure.code.exitCode)
            }
            try global.output(reply) { _ in HumanOutput.doctor(report) }
            if !report.ok { throw ExitCode.failure }
        }
    }
}
