import Foundation
import HeloPolicy

/// Where a walk through the HELO log stopped: the last record handed out, by time and by the
/// store's record id (which breaks ties between records of the same second).
public struct HeloLogCursor: Sendable, Hashable {
    public var time: Int64
    public var id: Int64

    public init(time: Int64, id: Int64) {
        self.time = time
        self.id = id
    }
}

/// One page of the HELO log, newest record first.
public struct HeloLogPage: Sendable {
    public var records: [HeloLogRecord]
    /// Where the next page starts; nil when this page was the last.
    public var next: HeloLogCursor?
    /// Rows of this page whose client address could not be read (never written by heloguard):
    /// counted, not handed out.
    public var unreadable: Int

    public init(records: [HeloLogRecord], next: HeloLogCursor?, unreadable: Int = 0) {
        self.records = records
        self.next = next
        self.unreadable = unreadable
    }
}

/// The HELO log read record by record, newest first, for `heloguard replay`.
///
/// A store hands out pages (keyset paging on time and id, never an offset), so a walk over a
/// million records never holds more than one page in memory, every page is one indexed query,
/// and no lock or transaction is held between pages. Walking newest first keeps the walk
/// consistent while the milter goes on writing: new records are newer than the walk's start
/// and are never reached; records pruned meanwhile are simply not seen.
public protocol HeloLogReading: Sendable {
    /// At most `count` records at or after `since` (nil: the whole log) and strictly older than
    /// `cursor` (nil: from the newest), newest first.
    func heloLogPage(since: Date?, before cursor: HeloLogCursor?, count: Int) throws -> HeloLogPage
}

extension HeloLogReading {
    /// Calls `body` with every record at or after `since`, newest first, at most `limit` of them
    /// (nil: all), one page of `pageSize` in memory at a time. Returns how many rows could not
    /// be read (see ``HeloLogPage/unreadable``).
    @discardableResult
    public func forEachHeloLogRecord(since: Date?, limit: Int?, pageSize: Int = 5_000,
                                     _ body: (HeloLogRecord) throws -> Void) throws -> Int {
        var cursor: HeloLogCursor? = nil
        var remaining = limit ?? Int.max
        var unreadable = 0
        while remaining > 0 {
            let page = try heloLogPage(since: since, before: cursor, count: min(max(1, pageSize), remaining))
            unreadable += page.unreadable
            for record in page.records { try body(record) }
            remaining -= page.records.count + page.unreadable
            guard let next = page.next else { break }
            cursor = next
        }
        return unreadable
    }
}
