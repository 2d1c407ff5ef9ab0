import ArgumentParser

extension KVMPlan {
    /// Every subcommand, in the order `--help` lists them.
    static let allSubcommands: [any ParsableCommand.Type] = [
        CheckCommand.self, PlanCommand.self, DiffCommand.self, MapCommand.self, ExplainCommand.self, SchemaCommand.self, ProbeCommand.self, LaunchCommand.self,
    ]
}
