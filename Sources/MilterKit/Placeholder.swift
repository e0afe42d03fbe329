/// Placeholder while the milter adapter is written.
enum MilterKitPlaceholder {}
