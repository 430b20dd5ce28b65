import TetherCore

extension CephRegistry {
    /// `<directory>/clusters.d`: one `<name>.toml` per cluster.
    public static func clustersDirectory(_ directory: String) -> String {
        "\(directory)/clusters.d"
    }

    public static func clusterFile(name: String, directory: String) -> String {
        "\(clustersDirectory(directory))/\(name).toml"
    }

    /// Where a user's key lives when its file names no `key_file`.
    public static func defaultKeyFile(cluster: String, user: String, directory: String) -> String {
        "\(directory)/keys/\(cluster).client.\(user).key"
    }

    /// Reads every `clusters.d/*.toml` under `directory` and the key file of every user.
    ///
    /// A file that cannot be read or parsed, or that clashes with one read before it (same fsid,
    /// same secret UUID; files are read in name order), is a `problem` and is skipped. A key file
    /// that is missing, fails `SecretFile`'s rule (owner, mode), or holds no cephx key is a problem too: its
    /// cluster stays, that user has no key. A missing `clusters.d` is an empty registry.
    /// - Throws: only when `clusters.d` exists and cannot be listed.
    public static func load(directory: String, host: any Host, inspector: any FileInspector = LocalFileInspector()) async throws -> CephRegistry {
        var registry = CephRegistry()
        let folder = clustersDirectory(directory)
        // Hidden names are editors' and atomic writers' temporary files.
        let names = (try await inspector.contentsOfDirectory(folder) ?? []).filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }.sorted()
        for name in names {
            let path = "\(folder)/\(name)"
            let cluster: CephCluster
            do {
                cluster = try CephClusterFile.parse(try await host.read(path), path: path, registryDirectory: directory)
                try registry.insert(cluster)
            } catch let problem as ConfigurationError {
                registry.problems.append(problem)
                continue
            } catch let error as TetherError {
                registry.problems.append(ConfigurationError(file: path, line: nil, message: error.message))
                continue
            } catch {
                registry.problems.append(ConfigurationError(file: path, line: nil, message: "cannot read the file: \(error)"))
                continue
            }
            for user in cluster.users {
                let id = CephUserID(cluster: cluster.name, user: user.name)
                switch await readKey(of: user, host: host, inspector: inspector) {
                case .success(let key): try? registry.setKey(key, for: id)
                case .failure(let reason):
                    registry.noteKeyProblem(ConfigurationError(file: user.keyFile, line: nil, message: "key of \(id): \(reason.message)"), for: id)
                }
            }
        }
        return registry
    }

    private struct KeyProblem: Error {
        var message: String
    }

    private static func readKey(of user: CephUser, host: any Host, inspector: any FileInspector) async -> Result<Secret, KeyProblem> {
        do {
            guard let status = try await inspector.status(of: user.keyFile) else {
                return .failure(KeyProblem(message: "the key file is missing"))
            }
            // The key lets anyone who reads it act as this user on the whole cluster.
            if let problem = SecretFile.problem(path: user.keyFile, status: status) {
                return .failure(KeyProblem(message: problem.description))
            }
            let key = CephKey.fromKeyFile(try await host.read(user.keyFile))
            if let problem = CephKey.problem(with: key) {
                return .failure(KeyProblem(message: problem))
            }
            return .success(key)
        } catch let error as TetherError {
            return .failure(KeyProblem(message: "cannot read the key file: \(error.message)"))
        } catch {
            return .failure(KeyProblem(message: "cannot read the key file: \(error)"))
        }
    }

    static func octal(_ mode: UInt32) -> String {
        SecretFile.octal(mode)
    }

    /// Writes `cluster`'s registry file under `directory`, and the key files (0600) of the users
    /// in `keys` (by user name). Users without a key here keep whatever their key file holds.
    ///
    /// Keys are written before the registry file, so a crash in between never leaves a cluster
    /// file that names a key that was not written.
    /// - Throws: `invalid_input` for a key of a user the cluster does not have, or a key that is
    ///   not a cephx key; what `host.writeFile` throws.
    public static func write(_ cluster: CephCluster, keys: [String: Secret], directory: String, host: any Host) async throws {
        for (userName, key) in keys.sorted(by: { $0.key < $1.key }) {
            guard cluster.user(named: userName) != nil else {
                throw TetherError.invalidInput("cluster \(cluster.name) has no user \(userName) to write a key for (users: \(cluster.users.map(\.name).joined(separator: ", ")))")
            }
            if let problem = CephKey.problem(with: key) {
                throw TetherError.invalidInput("the key given for client.\(userName) of cluster \(cluster.name) is unusable: \(problem)")
            }
        }
        for user in cluster.users {
            guard let key = keys[user.name] else { continue }
            // The one place a key file's bytes exist: made here and handed straight to the host.
            let bytes = CephKey.keyFileContents(key).reveal { Array($0.utf8) }
            try await host.writeFile(user.keyFile, contents: bytes, mode: 0o600)
        }
        try await host.writeFile(clusterFile(name: cluster.name, directory: directory), contents: Array(CephClusterFile.render(cluster).utf8), mode: 0o644)
    }

    /// Removes the registry file of the cluster `name` and the key files it names, and returns
    /// the paths removed. Key files go first, so a crash never leaves keys nobody refers to.
    /// A file that no longer parses is removed alone: its key files cannot be known.
    /// - Throws: `not_found` when there is no such registry file.
    @discardableResult
    public static func remove(_ name: String, directory: String, host: any Host) async throws -> [String] {
        try CephCluster.validate(name: name)
        let path = clusterFile(name: name, directory: directory)
        guard await host.fileExists(path) else {
            throw TetherError(.notFound, "no Ceph cluster named \(name) is registered (no \(path))")
        }
        var removed: [String] = []
        if let cluster = try? CephClusterFile.parse(try await host.read(path), path: path, registryDirectory: directory) {
            for keyFile in Set(cluster.users.map(\.keyFile)).sorted() where await host.fileExists(keyFile) {
                try await host.removeFile(keyFile)
                removed.append(keyFile)
            }
        }
        try await host.removeFile(path)
        removed.append(path)
        return removed
    }
}
