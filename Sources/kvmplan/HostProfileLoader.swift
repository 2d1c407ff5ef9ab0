import ArgumentParser
import Compiler
import Diagnostics
import Rules

/// Loads `--host PROFILE|local`.
enum HostProfileLoader {
    enum Loaded {
        case profile(HostProfile)
        case failure(Diagnostic)
    }

    /// A profile, or the `io.host-profile` diagnostic that says why it cannot be loaded. Probing this host
    /// (`local`) that fails exits as `probe` does.
    static func load(_ argument: String) throws -> Loaded {
        if argument == "local" {
            return .profile(try localHostProfile())
        }
        let bytes: [UInt8]
        do {
            bytes = try LocalFileAccess().read(argument)
        } catch let error as LocalFileAccess.ReadError {
            return .failure(IOMessages.hostProfile(argument, error.reason))
        } catch {
            return .failure(IOMessages.hostProfile(argument, "\(error)"))
        }
        do {
            let json = try JSONValue.parse(String(decoding: bytes, as: UTF8.self))
            return .profile(try HostProfile(json: json))
        } catch {
            return .failure(IOMessages.hostProfile(argument, "\(error)"))
        }
    }
}
