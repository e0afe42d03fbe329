#if canImport(Glibc)
import Glibc
#endif
import PostfixSyntax

/// How serious a log line is; maps onto syslog priorities.
public enum LogPriority: Sendable, Hashable {
    case info, warning, error

    var syslogPriority: Int32 {
        switch self {
        case .info: return LOG_INFO
        case .warning: return LOG_WARNING
        case .error: return LOG_ERR
        }
    }
}

/// Where heloguard's log lines go. Implementations must accept calls from any thread.
public protocol MailLog: Sendable {
    func log(_ priority: LogPriority, _ message: String)
}

extension MailLog {
    public func info(_ message: String) { log(.info, message) }
    public func warning(_ message: String) { log(.warning, "warning: " + message) }
    public func error(_ message: String) { log(.error, "error: " + message) }
}

/// Text safe for one log line, as every ``MailLog`` writes it: the sanitiser's `.logLine`
/// flavour (CR, LF and other control bytes become `?`), so nothing a client sends can forge or
/// split a line.
func logSafe(_ text: String) -> String {
    Printable.sanitized(text, for: .logLine)
}

/// syslog, facility mail, ident `heloguard`, with the process id: lines land next to Postfix's.
public struct SyslogLog: MailLog {
    public init(ident: String = "heloguard") {
        // openlog keeps the pointer: the copy is never freed.
        openlog(strdup(ident), LOG_PID | LOG_NDELAY, LOG_MAIL)
    }

    public func log(_ priority: LogPriority, _ message: String) {
        logSafe(message).withCString { text in
            withVaList([text]) { vsyslog(priority.syslogPriority, "%s", $0) }
        }
    }
}

/// One line per message on standard error, `heloguard[PID]: message`, for `--foreground`
/// (systemd's journal adds the time). Each line is one write(2), so threads never interleave.
public struct StderrLog: MailLog {
    private let prefix: String

    public init(ident: String = "heloguard") {
        prefix = "\(ident)[\(getpid())]: "
    }

    public func log(_ priority: LogPriority, _ message: String) {
        let line = prefix + logSafe(message) + "\n"
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 {
                if written < 0 && errno == EINTR { continue }
                return
            }
            offset += written
        }
        bytes.removeAll()
    }
}
