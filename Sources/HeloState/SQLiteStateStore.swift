import Foundation
import HeloPolicy
import Locking

/// The embedded state store: one SQLite file, `heloguard.sqlite` in the state directory
/// (`/var/lib/heloguard` by default), through the system's libsqlite3.
///
/// - **Created on first use.** A missing directory is created with mode 0750 (its missing parents
///   too) and a missing file with mode 0640, so heloguard runs with no database configured at all.
/// - **WAL mode** with `synchronous=NORMAL`: writers do not block readers (`heloguard stats` while
///   the milter writes), and a commit costs no fsync of the database file. Every statement waits at
///   most ``busyTimeoutMilliseconds`` for another process's lock (the design's rule: every
///   blocking call has a deadline).
/// - **Schema versioned** by `PRAGMA user_version`; a later heloguard migrates it forward step by
///   step. A file written by a newer heloguard (a higher version) is refused, not downgraded.
/// - **Prepared statements** are kept for the life of the connection.
///
/// **A file that is not a heloguard database** — not SQLite at all, damaged, or another
/// program's SQLite database — is refused with ``SQLiteStoreError/notADatabase(path:message:)``,
/// ``SQLiteStoreError/corrupt(path:message:)`` or ``SQLiteStoreError/foreignDatabase(path:)``,
/// each naming the file and telling the administrator to move it aside. heloguard never deletes or
/// renames it itself: the file may hold the only copy of a box someone wants to recover, or the
/// path may be a configuration mistake that points at somebody else's data.
///
/// One connection serves all callers, one at a time. Do not call the store on the per-connection
/// path; reads happen at start, writes through a ``StateWriter``.
public final class SQLiteStateStore: StateStore {
    /// The file the milter uses when the configuration names none.
    public static let defaultPath = "/var/lib/heloguard/heloguard.sqlite"
    /// The schema this code writes (`PRAGMA user_version`).
    public static let schemaVersion = 2
    /// How long a statement waits for a lock held by another process.
    public static let busyTimeoutMilliseconds: Int32 = 2000

    /// The database file.
    public let path: String
    private let connection: Locked<SQLiteConnection>
    /// `data_version` at the previous ``mayHaveChangedElsewhere()``; nil before the first.
    private let lastDataVersion = Locked<Int64?>(nil)

    /// Opens the store at `path`, creating the file (and its directory) when missing.
    public init(path: String = SQLiteStateStore.defaultPath) throws(SQLiteStoreError) {
        self.path = path
        try Self.prepareFile(path)
        let db: SQLiteConnection
        do {
            db = try SQLiteConnection(path: path)
        } catch {
            throw SQLiteStoreError(error, path: path, operation: "open")
        }
        do {
            try db.setBusyTimeout(milliseconds: Self.busyTimeoutMilliseconds)
            // The first statement that reads the file: a file that is not SQLite fails here, and
            // a file that is not ours is refused before anything is written to it.
            let version = try Self.checkSchema(db, path: path)
            let mode = try db.text("PRAGMA journal_mode=WAL")
            if mode?.lowercased() != "wal" {
                throw SQLiteFailure(code: 1, extendedCode: 1,
                                    message: "journal_mode=WAL was refused (the mode stays \(mode ?? "unknown"))")
            }
            try db.execute("PRAGMA synchronous=NORMAL")
            try Self.migrate(db, from: version)
        } catch let failure as SQLiteFailure {
            db.close()
            throw SQLiteStoreError(failure, path: path, operation: "open")
        } catch let error as SQLiteStoreError {
            db.close()
            throw error
        } catch {
            db.close()
            throw .failed(path: path, operation: "open", code: 1, message: "\(error)")
        }
        connection = Locked(db)
    }

    // MARK: StateStore

    public func loadPenalties(rememberedSince cutoff: Date) throws -> [PenaltyEntry] {
        try withConnection("load the penalty box") { db throws(SQLiteFailure) in
            var entries: [PenaltyEntry] = []
            try db.run("SELECT key, reason, first_seen, expires, offences FROM penalty WHERE expires >= ?",
                       [.integer(Self.seconds(cutoff))]) { row in
                // A row whose key does not parse (edited by hand) is skipped rather than
                // keeping the whole box from loading.
                guard let keyText = row.text(0),
                      let key = try? PenaltyKey(parsing: keyText, ipv6PrefixLength: 128) else { return }
                entries.append(PenaltyEntry(
                    key: key, reason: row.text(1) ?? "",
                    firstSeen: Self.date(row.integer(2)), expires: Self.date(row.integer(3)),
                    offences: Int(max(1, row.integer(4)))))
            }
            return entries
        }
    }

    /// SQLite's `data_version`: it changes when another connection (`heloguard penalty`,
    /// another process) commits to the file, and not for this connection's own writes.
    public func mayHaveChangedElsewhere() throws -> Bool {
        let current = try withConnection("read the data version") { db throws(SQLiteFailure) in
            try db.integer("PRAGMA data_version")
        }
        return lastDataVersion.withLock { last in
            defer { last = current }
            return last != current
        }
    }

    public func apply(_ changes: [StateChange]) throws {
        guard !changes.isEmpty else { return }
        try withConnection("write \(changes.count) change(s)") { db throws(SQLiteFailure) in
            try Self.transaction(db) { () throws(SQLiteFailure) in
                for change in changes {
                    switch change {
                    case let .upsertPenalty(entry):
                        try db.run("""
                            INSERT INTO penalty (key, reason, first_seen, expires, offences) VALUES (?, ?, ?, ?, ?)
                            ON CONFLICT (key) DO UPDATE SET reason = excluded.reason, first_seen = excluded.first_seen,
                                expires = excluded.expires, offences = excluded.offences
                            """, [.text(entry.key.description), .text(entry.reason),
                                  .integer(Self.seconds(entry.firstSeen)), .integer(Self.seconds(entry.expires)),
                                  .integer(Int64(entry.offences))])
                    case let .removePenalty(key):
                        try db.run("DELETE FROM penalty WHERE key = ?", [.text(key.description)])
                    case let .heloLog(record):
                        try db.run("""
                            INSERT INTO helo_log (time, client, helo, verdict, restriction, client_name)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """, [.integer(Self.seconds(record.time)), .text(record.client.description),
                                  .text(record.helo), .text(record.verdict),
                                  record.restriction.map { .text($0) } ?? .null,
                                  record.clientName.map { .text($0) } ?? .null])
                    }
                }
            }
        }
    }

    @discardableResult
    public func prune(_ limits: RetentionLimits, at now: Date) throws -> PruneResult {
        try withConnection("prune") { db throws(SQLiteFailure) in
            var result = PruneResult()
            try Self.transaction(db) { () throws(SQLiteFailure) in
                try db.run("DELETE FROM helo_log WHERE time < ?",
                           [.integer(Self.seconds(now.addingTimeInterval(-limits.heloLogRetention)))])
                result.heloLogRecordsRemoved += db.changes
                try db.run("""
                    DELETE FROM helo_log WHERE id <= (SELECT id FROM helo_log ORDER BY id DESC LIMIT 1 OFFSET ?)
                    """, [.integer(Int64(limits.heloLogMaxRecords))])
                result.heloLogRecordsRemoved += db.changes
                try db.run("DELETE FROM penalty WHERE expires < ?",
                           [.integer(Self.seconds(now.addingTimeInterval(-limits.penaltyMemory)))])
                result.penaltiesRemoved += db.changes
                try db.run("""
                    DELETE FROM penalty WHERE key IN
                        (SELECT key FROM penalty ORDER BY expires DESC, key DESC LIMIT -1 OFFSET ?)
                    """, [.integer(Int64(limits.penaltyMaxEntries))])
                result.penaltiesRemoved += db.changes
            }
            return result
        }
    }

    public func close() {
        connection.withLock { $0.close() }
    }

    // MARK: Internals

    /// Runs `body` on the connection under the lock, turning SQLite's errors into ours.
    func withConnection<T>(_ operation: String, _ body: (SQLiteConnection) throws(SQLiteFailure) -> T)
        throws(SQLiteStoreError) -> T {
        // nil: the connection was closed.
        let outcome: Result<T, SQLiteFailure>? = connection.withLock { db in
            guard db.isOpen else { return nil }
            do throws(SQLiteFailure) { return .success(try body(db)) } catch { return .failure(error) }
        }
        switch outcome {
        case let .success(value): return value
        case nil: throw .closed(path: path)
        case let .failure(failure): throw SQLiteStoreError(failure, path: path, operation: operation)
        }
    }

    private static func transaction(_ db: SQLiteConnection, _ body: () throws(SQLiteFailure) -> Void)
        throws(SQLiteFailure) {
        try db.execute("BEGIN IMMEDIATE")
        do {
            try body()
            try db.execute("COMMIT")
        } catch {
            // SQLite may have rolled back already (SQLITE_FULL, I/O errors): a second rollback
            // then fails with "no transaction is active", which is fine.
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    /// Creates the directory (0750) and the empty file (0640) when they do not exist yet.
    private static func prepareFile(_ path: String) throws(SQLiteStoreError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        if !files.fileExists(atPath: directory, isDirectory: &isDirectory) {
            do {
                try files.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                          attributes: [.posixPermissions: 0o750])
                try files.setAttributes([.posixPermissions: 0o750], ofItemAtPath: directory)
            } catch {
                throw .cannotCreateDirectory(path: directory, reason: error.localizedDescription)
            }
        } else if !isDirectory.boolValue {
            throw .cannotCreateDirectory(path: directory, reason: "it exists and is not a directory")
        }
        try checkWritable(directory: directory, path: path)
        if !files.fileExists(atPath: path) {
            guard files.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]) else {
                throw .cannotCreateFile(path: path, reason: "permission denied or no space")
            }
            try? files.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        }
    }

    /// The directory and every file of the database that exists must be writable by the account
    /// heloguard runs as; otherwise SQLite would open the file read-only and every write would
    /// fail later. Typically `heloguard penalty` or `stats` was run as root before the milter
    /// (running as its own user) ever started, and created them owned by root.
    private static func checkWritable(directory: String, path: String) throws(SQLiteStoreError) {
        for candidate in [directory, path, path + "-wal", path + "-shm"] {
            var info = stat()
            guard lstat(candidate, &info) == 0 else { continue }
            if access(candidate, R_OK | W_OK) != 0 {
                throw .notWritable(path: candidate, directory: directory, owner: userName(info.st_uid), user: userName(geteuid()))
            }
        }
    }

    static func userName(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }

    /// The file's schema version, after making sure this code may use the file: not a newer
    /// heloguard's, not another program's. Reads only.
    private static func checkSchema(_ db: SQLiteConnection, path: String) throws -> Int {
        let version = Int(try db.integer("PRAGMA user_version"))
        if version > schemaVersion {
            throw SQLiteStoreError.schemaTooNew(path: path, version: version, supported: schemaVersion)
        }
        if version == 0 {
            let tables = try db.integer("SELECT count(*) FROM sqlite_schema WHERE type = 'table'")
            if tables > 0 { throw SQLiteStoreError.foreignDatabase(path: path) }
        }
        return version
    }

    /// Brings the schema from `version` to ``schemaVersion``: each step runs in its own
    /// transaction and sets `user_version`, so a crash mid-way leaves a consistent, older schema.
    private static func migrate(_ db: SQLiteConnection, from version: Int) throws(SQLiteFailure) {
        for step in version..<schemaVersion {
            try transaction(db) { () throws(SQLiteFailure) in
                try db.execute(migrations[step])
                try db.execute("PRAGMA user_version = \(step + 1)")
            }
        }
    }

    /// migrations[n] takes the schema from version n to n + 1.
    ///
    /// The HELO log's indices serve `heloguard stats`: (helo, client, time) counts the distinct
    /// clients per HELO name, (client, helo, time) the distinct names per client, both without
    /// touching the table and with a `--since` filter; (time) serves retention and `--since`
    /// alone; the partial (restriction, helo) index covers the rejected records only.
    /// Version 2 adds `client_name`, the client's reverse name.
    static let migrations: [String] = [
        """
        CREATE TABLE penalty (
            key        TEXT PRIMARY KEY,
            reason     TEXT NOT NULL,
            first_seen INTEGER NOT NULL,
            expires    INTEGER NOT NULL,
            offences   INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX penalty_expires ON penalty (expires);
        CREATE TABLE helo_log (
            id          INTEGER PRIMARY KEY,
            time        INTEGER NOT NULL,
            client      TEXT NOT NULL,
            helo        TEXT NOT NULL,
            verdict     TEXT NOT NULL,
            restriction TEXT
        );
        CREATE INDEX helo_log_time ON helo_log (time);
        CREATE INDEX helo_log_helo ON helo_log (helo, client, time);
        CREATE INDEX helo_log_client ON helo_log (client, helo, time);
        CREATE INDEX helo_log_restriction ON helo_log (restriction, helo) WHERE restriction IS NOT NULL;
        """,
        // Version 2: the client's reverse name, for the provider-name findings of `heloguard stats`.
        """
        ALTER TABLE helo_log ADD COLUMN client_name TEXT;
        """,
    ]

    /// Times are stored as whole seconds since the Unix epoch (rounded down).
    static func seconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }

    static func date(_ seconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}

/// Why the SQLite store failed. Every case names the database file (or its directory) and, where
/// SQLite said something, SQLite's own message.
public enum SQLiteStoreError: StateStoreFailure, Hashable {
    /// The state directory is missing and could not be created.
    case cannotCreateDirectory(path: String, reason: String)
    /// A state file or the directory exists but the account heloguard runs as cannot write it.
    case notWritable(path: String, directory: String, owner: String, user: String)
    /// The database file is missing and could not be created.
    case cannotCreateFile(path: String, reason: String)
    /// SQLite could not open the file (permissions, a symbolic link, a directory in the way).
    case cannotOpen(path: String, message: String)
    /// The file is not an SQLite database. Refused; the administrator moves it aside.
    case notADatabase(path: String, message: String)
    /// The file is an SQLite database, but damaged. Refused; the administrator moves it aside.
    case corrupt(path: String, message: String)
    /// The file is an SQLite database of some other program (tables, but no heloguard schema version).
    case foreignDatabase(path: String)
    /// A newer heloguard wrote the file; this one does not know its schema.
    case schemaTooNew(path: String, version: Int, supported: Int)
    /// The disk (or the file's size limit) is full. Transient: writes are retried.
    case diskFull(path: String, message: String)
    /// The operating system reported an I/O error. Transient: writes are retried.
    case ioError(path: String, message: String)
    /// Another process held a lock longer than the busy timeout. Transient.
    case busy(path: String, message: String)
    /// The store was closed.
    case closed(path: String)
    /// Anything else SQLite refused.
    case failed(path: String, operation: String, code: Int32, message: String)

    init(_ failure: SQLiteFailure, path: String, operation: String) {
        switch failure.code {
        case SQLiteFailure.notADatabase: self = .notADatabase(path: path, message: failure.message)
        case SQLiteFailure.corrupt: self = .corrupt(path: path, message: failure.message)
        case SQLiteFailure.full: self = .diskFull(path: path, message: failure.message)
        case SQLiteFailure.ioError: self = .ioError(path: path, message: failure.message)
        case SQLiteFailure.busy, SQLiteFailure.locked: self = .busy(path: path, message: failure.message)
        case SQLiteFailure.cantOpen: self = .cannotOpen(path: path, message: failure.message)
        default: self = .failed(path: path, operation: operation, code: failure.extendedCode, message: failure.message)
        }
    }

    public var isTransient: Bool {
        switch self {
        case .diskFull, .ioError, .busy: return true
        // A read-only file or directory is usually a permission an administrator will fix.
        case let .failed(_, _, code, _): return code & 0xFF == SQLiteFailure.readOnly
        default: return false
        }
    }

    /// The advice for a file heloguard will not use.
    private static func moveAside(_ path: String) -> String {
        "heloguard leaves it untouched: move it aside (mv \(path) \(path).broken) and heloguard creates a new, empty state database"
    }

    public var description: String {
        switch self {
        case let .cannotCreateDirectory(path, reason):
            return "cannot create the state directory \(path): \(reason)"
        case let .cannotCreateFile(path, reason):
            return "cannot create the state database \(path): \(reason)"
        case let .notWritable(path, directory, owner, user):
            return "the state file \(path) belongs to \(owner) and \(user), the account heloguard runs as, cannot write it "
                + "(was `heloguard penalty` or `stats` run as root?): give the state directory to \(user) "
                + "(chown -R \(user): \(directory)) and run those commands as \(user)"
        case let .cannotOpen(path, message):
            return "cannot open the state database \(path): \(message)"
        case let .notADatabase(path, message):
            return "\(path) is not an SQLite database (SQLite: \(message)); \(Self.moveAside(path))"
        case let .corrupt(path, message):
            return "the state database \(path) is damaged (SQLite: \(message)); \(Self.moveAside(path))"
        case let .foreignDatabase(path):
            return "\(path) is an SQLite database of some other program, not heloguard's; \(Self.moveAside(path))"
        case let .schemaTooNew(path, version, supported):
            return "the state database \(path) has schema version \(version), written by a newer heloguard; "
                + "this one knows up to version \(supported)"
        case let .diskFull(path, message):
            return "cannot write the state database \(path): the disk is full (SQLite: \(message))"
        case let .ioError(path, message):
            return "I/O error on the state database \(path) (SQLite: \(message))"
        case let .busy(path, message):
            return "the state database \(path) stayed locked by another process (SQLite: \(message))"
        case let .closed(path):
            return "the state database \(path) is closed"
        case let .failed(path, operation, code, message):
            return "state database \(path): cannot \(operation): SQLite error \(code): \(message)"
        }
    }
}
