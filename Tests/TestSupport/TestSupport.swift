/// Paths shared by the test targets.
public enum Repo {
    /// The repository root, found from this file's path.
    public static var root: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        parts.removeLast(3)  // Tests/TestSupport/TestSupport.swift
        return parts.joined(separator: "/")
    }

    public static func path(_ relative: String) -> String { root + "/" + relative }
}
