import ArgumentParser
import Foundation
import TetherAPI
import TetherClient
import TetherCore

extension Tether {
    struct Cluster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the Ceph clusters this node knows (clusters.d/ of the agent).",
            subcommands: [Add.self, List.self, Show.self, Remove.self, Sync.self])
    }
}

extension Tether.Cluster {
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a Ceph cluster, or replace one of the same name.",
            discussion: "Keys are read from files (the base64 key, or a keyring), never from the command line.")

        @Option(help: "The cluster's name on this node (A-Z a-z 0-9 _ -).")
        var name: String

        @Option(help: "The cluster's fsid.")
        var fsid: String

        @Option(name: .customLong("mon-host"), help: ArgumentHelp("A monitor address, as Ceph's mon host takes it; repeat for each.", valueName: "address"))
        var monHost: [String]

        @Option(help: ArgumentHelp("A user and the file holding its key, as USER=FILE; repeat for each.", valueName: "user=file"))
        var user: [String]

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.cluster(name, "--name", global)
            try global.check { try UUIDGrammar.check(fsid, field: "--fsid") }
            if monHost.isEmpty { throw ValidationError("Give at least one --mon-host.") }
            if user.isEmpty { throw ValidationError("Give at least one --user USER=KEYFILE.") }
            for entry in user where !entry.contains("=") {
                throw ValidationError("--user takes USER=KEYFILE, got \"\(entry)\".")
            }
        }

        func run() async throws {
            try await global.run { client in
                let users = try user.map { entry in
                    let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                    return CreateClusterRequest.User(name: parts[0], key: try Self.readKey(parts[1]))
                }
                let request = CreateClusterRequest(name: name, fsid: fsid, monHost: monHost, users: users)
                try request.validate()
                let reply = try await client.reply(.addCluster(request))
                try global.output(reply) { "registered Ceph cluster \(name)\n\n" + HumanOutput.cluster(try $0.value()) }
            }
        }

        /// The key alone, or the "key = ..." line of a keyring.
        static func readKey(_ path: String) throws -> Secret {
            let text = String(decoding: try LocalFile.read(path, hint: "a key file holds the base64 cephx key, or a keyring"), as: UTF8.self)
            for line in text.split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("key"), let equals = trimmed.firstIndex(of: "=") {
                    return Secret(trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces))
                }
            }
            let bare = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !bare.isEmpty, !bare.contains("\n") else {
                throw TetherError.invalidInput("\(LocalFile.displayName(path)) holds no cephx key", hint: "give the base64 key alone, or a keyring with a key = line")
            }
            return Secret(bare)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the registered Ceph clusters.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.report(.clusters, human: HumanOutput.clusters)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one cluster: monitors, users, secret UUIDs, files.")
        @Argument(help: "The cluster's name.") var name: String
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.cluster(name, "NAME", global)
        }

        func run() async throws {
            try await global.report(.cluster(name), human: HumanOutput.cluster)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unregister a cluster and remove every file Tether made for it.")
        @Argument(help: "The cluster's name.") var name: String
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try Input.cluster(name, "NAME", global)
        }

        func run() async throws {
            try await global.report(.removeCluster(name), human: HumanOutput.clusterSync)
        }
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read clusters.d and make the ceph directory match it.",
            discussion: "Writes missing or stale confs and keyrings, removes those of unregistered clusters, never touches files Tether did not write.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.report(.syncClusters, human: HumanOutput.clusterSync)
        }
    }
}
