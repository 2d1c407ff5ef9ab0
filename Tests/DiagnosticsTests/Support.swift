import Diagnostics

/// `Diagnostics.SourceLocation`, spelt so that files importing both Testing and Diagnostics (each with a
/// `SourceLocation`) can name it.
typealias Location = SourceLocation
