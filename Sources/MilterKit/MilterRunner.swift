internal import CMilter
import Locking
#if canImport(Glibc)
import Glibc
#endif

/// Runs libmilter: registers the callbacks, opens the listening socket, and serves connections
/// until ``stop()``. libmilter's own thread for SIGTERM, SIGINT and SIGHUP is never started (see
/// `mi_control_startup` in CMilter): ``SignalWatcher`` takes those signals and calls ``stop()``.
/// One per process: libmilter keeps its configuration in globals.
public final class MilterRunner {
    public let name: String
    public let socket: MilterSocket
    // libmilter keeps pointers to both strings until smfi_main returns.
    private let nameCString: UnsafeMutablePointer<CChar>
    private let socketCString: UnsafeMutablePointer<CChar>

    public init(name: String, socket: MilterSocket, factory: any MilterHandlerFactory) {
        self.name = name
        self.socket = socket
        nameCString = strdup(name)
        socketCString = strdup(socket.libmilterSpec)
        MilterRegistration.factory = factory
        MilterRegistration.overNetwork = socket.isNetwork
    }

    deinit {
        free(nameCString)
        free(socketCString)
    }

    /// Registers with libmilter and creates the listening socket. A stale unix socket (nobody
    /// accepts on it) or an empty regular file at the path is removed first; anything else there
    /// is an error. `mode` and `owner` are applied to a unix socket.
    public func open(backlog: Int32 = 128, timeoutSeconds: Int32 = 7210,
                     mode: mode_t? = nil, owner: (uid: uid_t, gid: gid_t)? = nil) throws(MilterRunnerError) {
        var callbacks = CMilter_Callbacks(
            negotiate: milterNegotiate, connect: milterConnect, helo: milterHelo,
            envfrom: milterMail, envrcpt: milterRecipient, data: milterData,
            eom: milterEndOfMessage, abort: milterAbort, close: milterClose)
        let actions = MilterActions([.addHeaders, .addRecipients, .deleteRecipients, .quarantine, .setSymbolList])
        guard CMilter_register(nameCString, actions.rawValue, &callbacks) == 0 else {
            throw .library("smfi_register failed")
        }
        guard CMilter_setconn(socketCString) == 0 else { throw .library("smfi_setconn(\(socket)) failed") }
        _ = CMilter_setbacklog(backlog)
        _ = CMilter_settimeout(timeoutSeconds)
        if let path = socket.path { try Self.clearStale(path) }
        // The socket gets its mode at creation and its owner through a descriptor (SocketFile):
        // nothing is changed by a path that could be swapped for a symlink meanwhile.
        let umaskBefore = umask(SocketFile.umask(for: mode))
        defer { umask(umaskBefore) }
        guard CMilter_opensocket(1) == 0 else {
            throw .cannotListen("cannot listen on \(socket): \(String(cString: strerror(errno)))")
        }
        if let path = socket.path, let owner {
            try SocketFile.setOwner(path: path, uid: owner.uid, gid: owner.gid)
        }
    }

    /// Serves connections; returns when the milter was stopped. Throws when libmilter failed,
    /// unless a stop had been asked for: ``stop()`` closes the listening socket under
    /// libmilter's listener, which then may end with a failure of its own making (seen once,
    /// with SIGTERM a fraction of a second after the start). A stop asked for is a clean stop.
    public func run() throws(MilterRunnerError) {
        guard CMilter_main() == 0 || Self.stopRequested.withLock({ $0 }) else {
            throw .library("smfi_main failed")
        }
    }

    /// Set by ``stop()``: the end of the main loop was asked for.
    private static let stopRequested = Locked(false)

    /// Asks the main loop to end (safe from any thread).
    public static func stop() {
        stopRequested.withLock { $0 = true }
        _ = CMilter_stop()
    }

    /// libmilter's version as `major.minor.patch`.
    public static var libraryVersion: String {
        var major: UInt32 = 0, minor: UInt32 = 0, patch: UInt32 = 0
        CMilter_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    static func clearStale(_ path: String) throws(MilterRunnerError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        let type = info.st_mode & S_IFMT
        if type == S_IFSOCK {
            if Self.someoneListens(at: path) {
                throw .cannotListen("\(path): another process accepts connections on this socket")
            }
        } else if type == S_IFREG {
            guard info.st_size == 0 else {
                throw .cannotListen("\(path) is a regular file with content, not a socket; remove it or choose another socket path")
            }
        } else {
            throw .cannotListen("\(path) exists and is not a socket")
        }
        guard unlink(path) == 0 else {
            throw .cannotListen("cannot remove the stale \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func someoneListens(at path: String) -> Bool {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(path.utf8.prefix(buffer.count - 1))
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}

/// Why the milter could not start or stopped with an error.
public enum MilterRunnerError: Error, Sendable, Hashable, CustomStringConvertible {
    case library(String)
    case cannotListen(String)

    public var description: String {
        switch self {
        case .library(let text), .cannotListen(let text): return text
        }
    }
}
