import TestSupport

extension Golden {
    /// The plan renderers' golden files: text, JSON and C of the fixtures.
    static let plan = Golden("Tests/PlanTests/Golden")
}
