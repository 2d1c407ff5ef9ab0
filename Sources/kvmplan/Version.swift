/// kvmplan's version, for `--version` and SARIF's `tool.driver.version`.
enum KVMPlanVersion {
    static let number = "0.1.0"
}
