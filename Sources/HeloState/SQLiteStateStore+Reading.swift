import Foundation
import HeloPolicy

/// `heloguard replay`'s walk over the embedded HELO log: each page is one range scan of the
/// (time) index backwards (SQLite's index on `time` holds the row id too, so `(time, id)` is
/// its order), the connection's lock held for that page only.
extension SQLiteStateStore: HeloLogReading {
    public func heloLogPage(since: Date?, before cursor: HeloLogCursor?, count: Int) throws -> HeloLogPage {
        try withConnection("read the HELO log") { db throws(SQLiteFailure) in
            var page = HeloLogPage(records: [], next: nil)
            page.records.reserveCapacity(count)
            var last: HeloLogCursor? = nil
            var rows = 0
            try db.run("""
                SELECT id, time, client, helo, verdict, restriction, client_name FROM helo_log
                WHERE time >= ? AND (time, id) < (?, ?)
                ORDER BY time DESC, id DESC LIMIT ?
                """, [.integer(since.map(Self.seconds) ?? Int64.min), .integer(cursor?.time ?? Int64.max),
                      .integer(cursor?.id ?? Int64.max), .integer(Int64(max(1, count)))]) { row in
                rows += 1
                let time = row.integer(1)
                last = HeloLogCursor(time: time, id: row.integer(0))
                guard let client = row.text(2).flatMap(IPAddress.init) else {
                    page.unreadable += 1
                    return
                }
                page.records.append(HeloLogRecord(time: Self.date(time), client: client, helo: row.text(3) ?? "",
                                                  verdict: row.text(4) ?? "", restriction: row.text(5),
                                                  clientName: row.text(6)))
            }
            page.next = rows < count ? nil : last
            return page
        }
    }
}
