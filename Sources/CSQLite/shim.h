// SQLite's C API, for HeloState's embedded store (SQLiteStateStore).
#include <sqlite3.h>
