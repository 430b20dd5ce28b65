import TetherCore

/// What to do to the ceph directory so that it holds exactly the files of `CephFileSet` for every
/// registered cluster: files to write, Tether's files that are no longer wanted, and files Tether
/// would write but must not because someone else made them.
///
/// Tether's files are known by their look, never by a list kept elsewhere: a conf by its first
/// line (`CephFileSet.header`); a keyring by its name `<cluster>.client.<user>.keyring` next to a
/// Tether conf of that cluster, and by holding only `[client.<user>]` and one key.
public struct CephSyncPlan: Sendable {
    /// A file now in the ceph directory.
    public struct ExistingFile: Sendable {
        /// The name in the ceph directory, no path.
        public var name: String
        public var mode: UInt32
        /// As read; a `Secret` because any file here may be a keyring.
        public var contents: Secret

        public init(name: String, mode: UInt32, contents: Secret) {
            self.name = name
            self.mode = mode
            self.contents = contents
        }
    }

    /// Files whose contents or mode differ from the registry's: for each cluster its keyrings,
    /// then the conf that names them.
    public private(set) var write: [CephFile] = []
    /// Paths of Tether's files that no registered cluster wants: keyrings before confs, so a crash
    /// in between leaves the conf that still marks the rest as Tether's.
    public private(set) var delete: [String] = []
    /// Paths Tether would write that hold a file Tether did not write; left alone.
    public private(set) var conflicts: [String] = []

    public var isEmpty: Bool { write.isEmpty && delete.isEmpty && conflicts.isEmpty }

    /// The plan for `registry` against the files `existing` in `cephDirectory`. Pure.
    ///
    /// A user whose key could not be read keeps the keyring it has: the load reported why, and
    /// deleting working credentials would turn a mistake in a file into an outage.
    public init(registry: CephRegistry, cephDirectory: String, existing: [ExistingFile]) {
        let files = Dictionary(existing.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        let tetherConfs = Set(existing.compactMap { file in
            file.name.hasSuffix(".conf") && Self.isTetherConf(file.contents) ? String(file.name.dropLast(".conf".count)) : nil
        })
        var wantedKeyrings: Set<String> = []

        for cluster in registry.clusters {
            let set = CephFileSet(cluster, registry: registry, cephDirectory: cephDirectory)
            wantedKeyrings.formUnion(cluster.users.map { "\(cluster.name).client.\($0.name).keyring" })
            for file in set.keyrings + [set.conf] {
                let name = Self.name(of: file.path)
                guard let old = files[name] else {
                    write.append(file)
                    continue
                }
                if file.hasContents(old.contents), old.mode == file.mode { continue }
                let isTethers = switch file.kind {
                case .conf: Self.isTetherConf(old.contents)
                case .keyring: Self.keyringUser(name, cluster: cluster.name).map { CephKey.isTetherKeyring(old.contents, user: $0) } ?? false
                }
                if isTethers { write.append(file) } else { conflicts.append(file.path) }
            }
        }

        for file in existing.sorted(by: { $0.name < $1.name }) where file.name.hasSuffix(".keyring") && !wantedKeyrings.contains(file.name) {
            guard let (cluster, user) = Self.splitKeyringName(file.name), tetherConfs.contains(cluster),
                CephKey.isTetherKeyring(file.contents, user: user)
            else { continue }
            delete.append("\(cephDirectory)/\(file.name)")
        }
        for cluster in tetherConfs.sorted() where registry.cluster(named: cluster) == nil {
            delete.append(CephFileSet.confPath(cluster: cluster, cephDirectory: cephDirectory))
        }
    }

    /// Reads the ceph directory through `host` and `inspector` and plans against it. Only confs
    /// and the keyrings of clusters that are registered or have a conf there are read.
    public static func make(registry: CephRegistry, cephDirectory: String, host: any Host, inspector: any FileInspector = LocalFileInspector()) async throws -> CephSyncPlan {
        let names = try await inspector.contentsOfDirectory(cephDirectory) ?? []
        let confs = Set(names.filter { $0.hasSuffix(".conf") }.map { String($0.dropLast(".conf".count)) })
        var existing: [ExistingFile] = []
        for name in names.sorted() {
            if !name.hasSuffix(".conf") {
                guard let (cluster, _) = splitKeyringName(name), confs.contains(cluster) || registry.cluster(named: cluster) != nil else { continue }
            }
            let path = "\(cephDirectory)/\(name)"
            guard let mode = try await inspector.permissions(of: path) else { continue }
            existing.append(ExistingFile(name: name, mode: mode, contents: Secret(try await host.read(path))))
        }
        return CephSyncPlan(registry: registry, cephDirectory: cephDirectory, existing: existing)
    }

    /// Writes, then deletes, through `host`.
    public func apply(to host: any Host) async throws {
        for file in write {
            try await file.write(to: host)
        }
        for path in delete {
            try await host.removeFile(path)
        }
    }

    static func isTetherConf(_ contents: Secret) -> Bool {
        // A conf holds no secret; revealing it to read its first line is safe.
        contents.reveal { $0.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first == Substring(CephFileSet.header) }
    }

    /// `<cluster>.client.<user>.keyring` split into its parts; cluster names have no dots.
    static func splitKeyringName(_ name: String) -> (cluster: String, user: String)? {
        guard name.hasSuffix(".keyring"), let dot = name.firstIndex(of: ".") else { return nil }
        let cluster = String(name[..<dot])
        let rest = name[name.index(after: dot)...].dropLast(".keyring".count)
        guard rest.hasPrefix("client."), (try? CephCluster.validate(name: cluster)) != nil else { return nil }
        let user = String(rest.dropFirst("client.".count))
        guard (try? CephUser.validate(name: user)) != nil else { return nil }
        return (cluster, user)
    }

    private static func keyringUser(_ name: String, cluster: String) -> String? {
        splitKeyringName(name).flatMap { $0.cluster == cluster ? $0.user : nil }
    }

    private static func name(of path: String) -> String {
        String(path.split(separator: "/").last ?? Substring(path))
    }
}
