/// What a path is, as `stat` tells it (symbolic links followed).
public enum FileKind: String, Sendable, Hashable {
    case regular, blockDevice = "block device", directory, characterDevice = "character device", fifo, socket, other
}
