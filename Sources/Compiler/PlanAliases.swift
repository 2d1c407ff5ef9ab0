import Plan

// The Plan and Manifest modules both name a `BootMode`, `OnShare` and `OnUnshare`, and the module `Plan`
// is shadowed by its struct `Plan`, so files importing both refer to the plan's types by these names.
typealias PlanBootMode = BootMode
typealias PlanOnShare = OnShare
typealias PlanOnUnshare = OnUnshare
