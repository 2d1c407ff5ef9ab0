import Diagnostics

/// `Diagnostics.SourceLocation`, spelt so that files importing both Testing and Diagnostics (each with a
/// `SourceLocation`) can name it; `Diagnostics.SourceLocation` would name a member of the `Diagnostics` struct.
typealias ManifestLocation = SourceLocation
