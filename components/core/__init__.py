"""The ground floor: errors, file I/O, default paths, column names, the strict config base, code dependencies.
Imports no other Keel package."""
