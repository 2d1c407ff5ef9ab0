import Manifest

// The manifest's `BootMode`, `OnShare` and `OnUnshare`, by names that files importing the Plan module too can
// use (the module `Manifest` is shadowed by its struct `Manifest`).
typealias ManifestBootMode = BootMode
typealias ManifestOnShare = OnShare
typealias ManifestOnUnshare = OnUnshare
typealias ManifestPayloadFormat = PayloadFormat
