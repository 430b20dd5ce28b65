#if canImport(Glibc)
import Glibc
#endif

extension LinuxHost {
    /// Ends this process with SIGKILL, as a crash or the OOM killer would: no handler, no
    /// `defer`, no flush; only what was already written (the journal's commits) survives.
    /// For tetherd's failpoints. The corresponding C function is `kill`.
    public static func killSelf() -> Never {
        kill(getpid(), SIGKILL)
        // SIGKILL cannot be caught; should delivery lag, wait for it rather than run on.
        while true { pause() }
    }
}
