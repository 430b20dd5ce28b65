import Foundation
import Logging
import TetherAPI
import TetherCeph
import TetherCore

/// The libvirt qemu hook's side in tetherd (`POST /v1/hooks/qemu`).
///
/// libvirtd waits on the hook, and libvirt documents that a hook calling back into libvirt can
/// deadlock: nothing here calls libvirt, nor anything that does (SecretSync runs only at start and
/// on cluster changes). It reads the journal and the cluster registry, and attaches or detaches
/// kernel-mode volumes through AttachmentService.
struct HookService: Sendable {
    let attachments: AttachmentService
    let journal: Journal
    let clusters: ClusterService
    let cephDirectory: String
    let logger: Logger

    func qemu(_ request: QemuHookRequest) async throws -> QemuHookResponse {
        // release needs only the domain's name: what it detaches is what the journal says it claimed.
        if request.action == .release { return QemuHookResponse(actions: try await release(request.domain)) }
        let domain = try DomainXML(request.xml)
        switch request.action {
        case .prepare: return QemuHookResponse(actions: try await prepare(request.domain, domain.disks))
        case .release: return QemuHookResponse(actions: try await release(request.domain))
        case .reconnect: return QemuHookResponse(actions: await reconnect(request.domain, domain.disks))
        case .migrate, .restore: return try await filter(request.domain, action: request.action, domain)
        }
    }

    /// Every kernel-mode Tether disk attached: one attached already (by anyone) is left as it is;
    /// a known volume is attached and claimed for this domain; anything else refuses the start.
    /// A refusal undoes what this call attached, so a start that fails leaves the node as it was
    /// whether or not libvirt runs release after it.
    func prepare(_ domain: String, _ disks: [DomainDisk]) async throws -> [String] {
        var attachedHere: [String] = []
        do {
            return try await prepareDisks(domain, disks) { attachedHere.append($0) }
        } catch {
            for id in attachedHere {
                do {
                    _ = try await attachments.detach(id, force: false)
                    _ = log(domain, "undid the attach of \(id): the start is refused")
                } catch let undo {
                    _ = log(domain, "could not undo the attach of \(id): \(Self.describe(undo)); release end or tether detach \(id) removes it", warn: true)
                }
            }
            throw error
        }
    }

    private func prepareDisks(_ domain: String, _ disks: [DomainDisk], attached: (String) -> Void) async throws -> [String] {
        var actions: [String] = []
        for case .kernel(let disk) in disks {
            let volume = disk.volumeID
            for claim in try await journal.hookClaims(volume: volume) where claim.domain != domain {
                throw refusal(domain, "volume \(volume) (\(disk.target)) is held by the hook for domain \(claim.domain)", hint: "stop domain \(claim.domain) first")
            }
            if let existing = try await journal.attachments(volume: volume).first(where: { $0.mode == .kernel && $0.state == .attached }) {
                actions.append(log(domain, "volume \(volume) (\(disk.target)) already attached as \(existing.id); left as it is"))
                continue
            }
            guard let known = try await journal.knownVolume(volume) else {
                throw refusal(
                    domain, "volume \(volume) (\(disk.target)) is not attached and tetherd knows no connection for it",
                    hint: "attach it once with tether attach --mode kernel (a detached kernel volume is remembered)", code: .notFound)
            }
            // The journal masks secrets; a masked value cannot log in.
            guard !(try AttachmentService.json(known.connectionInfo)).contains(Redaction.mask) else {
                throw refusal(
                    domain, "volume \(volume) (\(disk.target)) needs a CHAP password that tetherd does not keep",
                    hint: "attach it with tether attach --mode kernel before starting the domain")
            }
            let record: AttachmentRecord
            do {
                (record, _) = try await attachments.attach(CreateAttachmentRequest(connectionInfo: known.connectionInfo, volumeID: volume, mode: .kernel))
            } catch {
                throw refusal(domain, "volume \(volume) (\(disk.target)) could not be attached: \(Self.describe(error))", hint: nil)
            }
            try await journal.claim(attachmentID: record.id, volumeID: volume, domain: domain)
            attached(record.id)
            actions.append(log(domain, "volume \(volume) (\(disk.target)) attached as \(record.id) for this domain"))
        }
        if actions.isEmpty { actions.append(log(domain, "no kernel-mode Tether disk")) }
        return actions
    }

    /// Detaches what this hook attached for `domain`, and nothing else.
    func release(_ domain: String) async throws -> [String] {
        var actions: [String] = []
        for claim in try await journal.hookClaims(domain: domain) {
            do {
                _ = try await attachments.detach(claim.attachmentID, force: false)
            } catch {
                throw refusal(domain, "volume \(claim.volumeID) could not be detached: \(Self.describe(error))", hint: "tether detach \(claim.attachmentID)")
            }
            actions.append(log(domain, "volume \(claim.volumeID) detached (\(claim.attachmentID), attached by the hook)"))
        }
        if actions.isEmpty { actions.append(log(domain, "nothing the hook attached")) }
        return actions
    }

    /// libvirtd restarted and found the domain running: say what does not match, change nothing.
    /// Never fails: libvirt kills a domain whose reconnect hook fails.
    func reconnect(_ domain: String, _ disks: [DomainDisk]) async -> [String] {
        var actions: [String] = []
        let registry = await clusters.current
        for disk in disks {
            switch disk {
            case .kernel(let kernel):
                // reconnect only verifies: a journal that cannot be read is reported with its error.
                do {
                    let attached = try await journal.attachments(volume: kernel.volumeID).contains { $0.mode == .kernel && $0.state == .attached }
                    actions.append(log(domain, "volume \(kernel.volumeID) (\(kernel.target)) \(attached ? "attached" : "NOT attached on this node")", warn: !attached))
                } catch {
                    actions.append(log(domain, "volume \(kernel.volumeID) (\(kernel.target)) unknown: the journal cannot be read (\(error))", warn: true))
                }
            case .rbd(let rbd):
                let found = Self.resolve(rbd, in: registry)
                switch found {
                case .success(let match):
                    let same = rbd.secret == .uuid(match.cluster.secretUUID(for: match.user).uuidString.lowercased()) || {
                        if case .usage = rbd.secret { return true } else { return false }
                    }()
                    actions.append(log(domain, "\(rbd.target) (rbd \(rbd.name)) on cluster \(match.cluster.name), user \(match.user.name)\(same ? "" : ": its secret is not this node's")", warn: !same))
                case .failure(let problem):
                    actions.append(log(domain, "\(rbd.target) (rbd \(rbd.name)): \(problem.message)", warn: true))
                }
            case .iscsi(let iscsi):
                // A journal that cannot be read is reported like a target without a secret: verify only.
                let secrets = (try? await iscsiSecrets()) ?? []
                switch Self.resolve(iscsi, among: secrets) {
                case .success(let found):
                    let same = found.secret == iscsi.secret && found.username == iscsi.user
                    actions.append(log(domain, "\(iscsi.target) (iscsi \(iscsi.name)): volume \(found.match.volumeID)\(same ? "" : ": its secret or user is not this node's")", warn: !same))
                case .failure(let problem):
                    actions.append(log(domain, problem.message, warn: true))
                }
            }
        }
        if actions.isEmpty { actions.append(log(domain, "no Tether disk")) }
        return actions
    }

    func log(_ domain: String, _ line: String, warn: Bool = false) -> String {
        logger.log(level: warn ? .warning : .info, "hook: \(line)", metadata: ["domain": "\(domain)"])
        return line
    }

    /// The failure the hook prints as its one line: it names the domain and what is wrong.
    func refusal(_ domain: String, _ what: String, hint: String?, code: TetherError.Code = .conflict) -> TetherError {
        logger.warning("hook refused: \(what)", metadata: ["domain": "\(domain)"])
        return TetherError(code, "domain \(domain): \(what)", hint: hint)
    }

    static func describe(_ error: any Error) -> String {
        (error as? TetherError).map(\.message) ?? "\(error)"
    }
}
