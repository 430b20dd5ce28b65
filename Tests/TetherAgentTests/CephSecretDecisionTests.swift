import Foundation
@testable import TetherAgent
import TetherCeph
import TetherCore
import Testing

/// What the secret sync does with what libvirt already has, case by case (the real libvirtd runs
/// the same cases in LibvirtSecretTests).
@Suite struct CephSecretDecisionTests {
    static let fsid = UUID(uuidString: "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c")!
    static let novaUUID = UUID(uuidString: "457eb676-33da-42ec-9a8c-9293d545c337")!
    static let otherUUID = UUID(uuidString: "11111111-2222-4333-8444-555555555555")!
    let key: [UInt8] = Array("the key".utf8)

    static func cluster(secretUUID: UUID? = nil) throws -> (CephCluster, CephUser) {
        let user = try CephUser(name: "cinder", keyFile: "/etc/tether/keys/a.cinder.key", secretUUID: secretUUID)
        let cluster = try CephCluster(name: "ceph-a", fsid: fsid, monitors: try CephMonitor.parse(["127.0.0.1:6789"]), users: [user])
        return (cluster, user)
    }

    static func secret(_ uuid: UUID, _ usage: String, private isPrivate: Bool = false) -> LibvirtSecretInfo {
        LibvirtSecretInfo(uuid: uuid, usage: LibvirtSecretUsage(.ceph, usage), isPrivate: isPrivate)
    }

    @Test func nothingThereDefinesTethersOwn() throws {
        let (cluster, user) = try Self.cluster()
        let decision = CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [], values: [:], adopted: nil)
        #expect(decision == .define(uuid: cluster.secretUUID(for: user), removing: []))
    }

    /// A node upgraded from "tether <cluster> client.<user>": the same UUID is defined again with
    /// the fsid-based usage (libvirt never changes a UUID's usage), so one secret remains.
    @Test func theOldUsageNameIsMovedToTheNewOne() throws {
        let (cluster, user) = try Self.cluster()
        let uuid = cluster.secretUUID(for: user)
        let old = Self.secret(uuid, "tether ceph-a client.cinder", private: true)
        let decision = CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [old], values: [:], adopted: nil)
        #expect(decision == .define(uuid: uuid, removing: [uuid]))
        let current = Self.secret(uuid, cluster.secretUsage(for: user), private: true)
        #expect(CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [current], values: [:], adopted: nil) == .define(uuid: uuid, removing: []))
    }

    @Test func tethersSecretUnderAnEarlierUUIDGoes() throws {
        let (cluster, user) = try Self.cluster(secretUUID: Self.novaUUID)
        let earlier = Self.secret(Self.otherUUID, cluster.legacySecretUsage(for: user), private: true)
        let decision = CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [earlier], values: [:], adopted: nil)
        #expect(decision == .define(uuid: Self.novaUUID, removing: [Self.otherUUID]))
    }

    @Test func novasSecretAtTheWantedUUIDWithTheSameKeyIsAdopted() throws {
        let (cluster, user) = try Self.cluster(secretUUID: Self.novaUUID)
        let nova = Self.secret(Self.novaUUID, "client.cinder secret")
        let decision = CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [nova], values: [Self.novaUUID: key], adopted: nil)
        #expect(decision == .adopt(nova, .sameUUID, removing: []))
    }

    @Test func aSecretWithTheSameKeyElsewhereIsAdopted() throws {
        let (cluster, user) = try Self.cluster()
        let nova = Self.secret(Self.novaUUID, "client.cinder secret")
        let unrelated = Self.secret(Self.otherUUID, "something else")
        let values = [Self.novaUUID: key, Self.otherUUID: Array("another".utf8)]
        let decision = CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [unrelated, nova], values: values, adopted: nil)
        #expect(decision == .adopt(nova, .sameKey, removing: []))
    }

    @Test func anotherKeyAtTheWantedUUIDIsRefusedNamingBothUUIDs() throws {
        let (cluster, user) = try Self.cluster(secretUUID: Self.novaUUID)
        let nova = Self.secret(Self.novaUUID, "client.cinder secret")
        let decision = CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [nova], values: [Self.novaUUID: Array("other".utf8)], adopted: nil)
        guard case .refuse(let error) = decision else { Issue.record("\(decision)"); return }
        #expect(error.code == .conflict)
        #expect(error.message.contains(Self.novaUUID.uuidString.lowercased()) && error.message.contains("client.cinder secret"))
        let derived = CephCluster.derivedSecretUUID(fsid: Self.fsid, user: "cinder").uuidString.lowercased()
        #expect(error.hint?.contains(derived) == true, "\(error.hint ?? "")")
    }

    @Test func aPrivateSecretAtTheWantedUUIDCannotBeCompared() throws {
        let (cluster, user) = try Self.cluster(secretUUID: Self.novaUUID)
        let nova = Self.secret(Self.novaUUID, "client.cinder secret", private: true)
        let decision = CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [nova], values: [:], adopted: nil)
        guard case .refuse(let error) = decision else { Issue.record("\(decision)"); return }
        #expect(error.message.contains("private"))
    }

    @Test func anAdoptionHoldsWhileTheSecretKeepsTheKeyAndEndsWhenItIsGone() throws {
        let (cluster, user) = try Self.cluster()
        let nova = Self.secret(Self.novaUUID, "client.cinder secret")
        let record = AdoptedSecretRecord(
            fsid: Self.fsid.uuidString.lowercased(), user: "cinder", uuid: Self.novaUUID.uuidString.lowercased(), usage: "client.cinder secret", reason: .sameKey,
            adoptedAt: "2026-12-07T00:00:00Z")
        #expect(CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [nova], values: [Self.novaUUID: key], adopted: record) == .adopt(nova, .sameKey, removing: []))
        let changed = CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [nova], values: [Self.novaUUID: Array("rotated".utf8)], adopted: record)
        guard case .refuse = changed else { Issue.record("\(changed)"); return }
        #expect(CephSecretDecision.decide(cluster: cluster, user: user, key: key, existing: [], values: [:], adopted: record) == .define(uuid: cluster.secretUUID(for: user), removing: []))
    }

    @Test func theDiskNamesTethersSecretByUsageAndAnAdoptedOneByUUID() throws {
        let (cluster, user) = try Self.cluster()
        let usage = LibvirtSecretReference.usage(LibvirtSecretUsage(.ceph, cluster.secretUsage(for: user)))
        #expect(usage.xmlElement == "<secret type='ceph' usage='tether ceph \(Self.fsid.uuidString.lowercased()) client.cinder'/>")
        #expect(LibvirtSecretReference.uuid(Self.novaUUID, .ceph).xmlElement == "<secret type='ceph' uuid='\(Self.novaUUID.uuidString.lowercased())'/>")
    }
}
