/// kvmplan's version, for `--version` and SARIF's `tool.driver.version`.
enum KVMPlanVersion {
    static let number = "0.1.0"

    /// `0.1.0 (abc1234def56)`: the release number and the commit the binary was built from (`git describe`,
    /// stamped by the GitVersion build plugin; `-dirty` when the tree had uncommitted changes).
    static var full: String {
        guard let commit = gitDescription, !commit.isEmpty else { return number }
        return "\(number) (\(commit))"
    }
}
