import ArgumentParser
import Manifest

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (2020-12) of the manifest format, for editors and CI validators."
    )

    func run() throws {
        Console.outData(ManifestSchema.json.serialized(pretty: true) + "\n")
    }
}
