// SQLite's C API, for HeloState's embedded store (SQLiteStateStore); no other module imports it.
#include <sqlite3.h>
