"""The online checks of `nr.watch`: one file per check, each a measure on a `WatchRecord` and a pure judge."""
