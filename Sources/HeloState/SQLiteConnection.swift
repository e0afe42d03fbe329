internal import CSQLite

// The only file that calls SQLite's C API: the connection handle, prepared statements, binding
// and reading values. Everything else in HeloState works with the Swift types below.

/// A SQLite result code and its message, as the C API reported them.
struct SQLiteFailure: Error, Sendable, Hashable {
    /// The primary result code (`SQLITE_FULL`, `SQLITE_NOTADB`, ...), extended bits removed.
    var code: Int32
    /// The extended result code (`SQLITE_IOERR_WRITE`, ...).
    var extendedCode: Int32
    var message: String

    static let busy: Int32 = SQLITE_BUSY
    static let locked: Int32 = SQLITE_LOCKED
    static let ioError: Int32 = SQLITE_IOERR
    static let corrupt: Int32 = SQLITE_CORRUPT
    static let full: Int32 = SQLITE_FULL
    static let cantOpen: Int32 = SQLITE_CANTOPEN
    static let notADatabase: Int32 = SQLITE_NOTADB
    static let readOnly: Int32 = SQLITE_READONLY
}

/// A value to bind to a statement parameter.
enum SQLiteValue: Sendable, Hashable {
    case integer(Int64)
    case text(String)
    case null
}

/// An open database connection. Not thread-safe by itself: its owner serialises every use (the
/// store keeps it inside a `Locked` and touches it only under the lock), which is why it may be
/// declared Sendable; it is opened with SQLITE_OPEN_NOMUTEX for the same reason.
final class SQLiteConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating if missing) the database file at `path`, read-write, symbolic links refused.
    init(path: String) throws(SQLiteFailure) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
            | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw SQLiteFailure(code: rc & 0xFF, extendedCode: rc, message: message)
        }
        handle = db
    }

    deinit { close() }

    var isOpen: Bool { handle != nil }

    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
    func setBusyTimeout(milliseconds: Int32) throws(SQLiteFailure) {
        let db = try open()
        try check(sqlite3_busy_timeout(db, milliseconds))
    }

    /// Runs one or more statements that return nothing of interest.
    func execute(_ sql: String) throws(SQLiteFailure) {
        let db = try open()
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(error)
            throw SQLiteFailure(code: rc & 0xFF, extendedCode: sqlite3_extended_errcode(db), message: message)
        }
    }

    /// Runs `sql` (prepared once and kept) with `parameters`, calling `row` for each result row.
    func run(_ sql: String, _ parameters: [SQLiteValue] = [], row: (SQLiteRow) throws(SQLiteFailure) -> Void = { _ in })
        throws(SQLiteFailure) {
        let db = try open()
        let statement = try prepared(sql, db)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case let .integer(number): rc = sqlite3_bind_int64(statement, index, number)
            case let .text(text): rc = sqlite3_bind_text(statement, index, text, -1, transientDestructor)
            case .null: rc = sqlite3_bind_null(statement, index)
            }
            try check(rc)
        }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { try check(rc); return }
            try row(SQLiteRow(statement: statement))
        }
    }

    /// The first column of the first row of `sql`, as an integer (0 when there is no row).
    func integer(_ sql: String, _ parameters: [SQLiteValue] = []) throws(SQLiteFailure) -> Int64 {
        var value: Int64 = 0
        var seen = false
        try run(sql, parameters) { row in
            if !seen { value = row.integer(0); seen = true }
        }
        return value
    }

    /// The first column of the first row of `sql`, as text (nil when there is no row or it is NULL).
    func text(_ sql: String, _ parameters: [SQLiteValue] = []) throws(SQLiteFailure) -> String? {
        var value: String?
        var seen = false
        try run(sql, parameters) { row in
            if !seen { value = row.text(0); seen = true }
        }
        return value
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int {
        handle.map { Int(sqlite3_changes($0)) } ?? 0
    }

    private func open() throws(SQLiteFailure) -> OpaquePointer {
        guard let handle else {
            throw SQLiteFailure(code: SQLITE_MISUSE, extendedCode: SQLITE_MISUSE, message: "the database is closed")
        }
        return handle
    }

    private func prepared(_ sql: String, _ db: OpaquePointer) throws(SQLiteFailure) -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        try check(sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil))
        guard let statement else {
            throw SQLiteFailure(code: SQLITE_MISUSE, extendedCode: SQLITE_MISUSE, message: "empty statement: \(sql)")
        }
        statements[sql] = statement
        return statement
    }

    private func check(_ rc: Int32) throws(SQLiteFailure) {
        guard rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW else { return }
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        throw SQLiteFailure(code: rc & 0xFF, extendedCode: rc, message: message)
    }
}

/// The current row of a statement being stepped; valid only inside the row callback.
struct SQLiteRow {
    fileprivate let statement: OpaquePointer

    func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: bytes)
    }
}

/// SQLite's SQLITE_TRANSIENT (a destructor of -1: "copy the value now"), which Swift cannot import.
private let transientDestructor = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
