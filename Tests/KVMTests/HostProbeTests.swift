import Foundation
import KVM
import TestSupport
import Testing

/// The C compiler the probe comparison builds Tests/KVMFixtures/probe.c with.
enum CCompiler {
    static let path: String? = ["/usr/bin/cc", "/usr/local/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}

extension KVMDeviceTests {
    // Nested in the serialized real-KVM suite: the probe creates VMs, which must not overlap the
    // descriptor-leak check there.
    /// Compares `HostInfo.probe()` with an independent C program (Tests/KVMFixtures/probe.c, raw
    /// ioctl and capability numbers, no shared code) compiled at test time.
    @Suite("Host probe", .enabled(if: CCompiler.path != nil, "no C compiler"))
    struct HostProbeTests {
        /// Runs `executable` with `arguments`; returns standard output, failing the test on a non-zero exit.
        static func run(_ executable: String, _ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let output = Pipe()
            let errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let errorData = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let stderr = String(decoding: errorData, as: UTF8.self)
            try #require(process.terminationStatus == 0, "\(executable) failed: \(stderr)")
            return String(decoding: data, as: UTF8.self)
        }

        /// The C probe's output as `key → [rest of line]`, in order.
        static func cProbe() throws -> [(key: String, fields: [String])] {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtests-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let binary = directory.appendingPathComponent("probe").path
            let compiler = try #require(CCompiler.path)
            _ = try run(compiler, ["-Wall", "-Werror", "-o", binary, Repo.path("Tests/KVMFixtures/probe.c")])
            return try run(binary, []).split(separator: "\n").map { line in
                let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                return (words[0], Array(words.dropFirst()))
            }
        }

        @Test func probeMatchesIndependentCProgram() throws {
            let info = try HostInfo.probe()
            let lines = try Self.cProbe()

            var systemCaps: [KVMCapability: Int] = [:]
            var createdTypes: Set<VMType> = []
            var failedTypes: Set<VMType> = []
            var vmCaps: [VMType: [KVMCapability: Int]] = [:]
            var sawVendor = false

            for (key, fields) in lines {
                switch key {
                case "api":
                    #expect(info.apiVersion == Int(fields[0]))
                case "cap":
                    systemCaps[KVMCapability(rawValue: try #require(UInt32(fields[0])))] = Int(fields[1])
                case "vm_types_bitmap":
                    #expect(info.vmTypesBitmap == UInt64(fields[0]))
                case "vm":
                    let type = VMType(rawValue: try #require(UInt(fields[0])))
                    if fields[1] == "created" {
                        if fields[2] == "1" { createdTypes.insert(type) } else { failedTypes.insert(type) }
                    } else {
                        let cap = KVMCapability(rawValue: try #require(UInt32(fields[2])))
                        vmCaps[type, default: [:]][cap] = Int(fields[3])
                    }
                case "page_size":
                    #expect(info.pageSize == Int(fields[0]))
                case "vendor":
                    sawVendor = true
                    #expect(info.cpuVendor == fields[0])
                case "phys_addr_bits":
                    #expect(info.physAddrBits == Int(fields[0]))
                case "sev_cbit":
                    #expect(info.sevCBit == (fields[0] == "none" ? nil : Int(fields[0])))
                case "release":
                    #expect(info.kernelRelease == fields.joined(separator: " "))
                case "machine":
                    #expect(info.machine == fields[0])
                default:
                    Issue.record("unknown probe.c line '\(key)'")
                }
            }

            #expect(info.capabilities == systemCaps, "system-fd capabilities")
            #if arch(x86_64)
            #expect(sawVendor)
            #expect(Set(info.perVMType.keys) == createdTypes, "VM types created")
            #expect(Set(info.vmTypeFailures.keys) == failedTypes, "VM types that failed")
            #expect(info.perVMType == vmCaps, "VM-fd capabilities")
            #expect(info.vmTypes == (createdTypes.union(failedTypes)).sorted { $0.rawValue < $1.rawValue })
            #endif
        }

        /// The facts KVM_UAPI.md §6 records for the development machines, checked where they apply
        /// (a software KVM without private-memory VM types).
        @Test func developmentMachineFactsOfKVMUAPIsection6() throws {
            let info = try HostInfo.probe()
            guard info.vmTypesBitmap == 1, info.capabilities[.memoryAttributes] == 0 else { return }  // not a §6 host
            #expect(info.apiVersion == 12)
            #expect(info.vmTypes == [.default])
            #expect(info.capabilities[.userMemory2] == 1)
            #expect(info.capabilities[.memoryFaultInfo] == 1)
            #expect(info.capabilities[.memoryAttributes] == 0)
            #expect(info.capabilities[.guestMemfd] == 1)
            #expect(info.capabilities[.preFaultMemory] == 0)
            #expect(info.capabilities[.guestMemfdFlags] == 3)
            #expect(info.capabilities[.exitHypercall] == 4096)
            #expect(info.capabilities[.nrMemslots] == 32764)
            #expect(info.capabilities[.maxVCPUs] == 1024)
            #expect(info.perVMType[.default]?[.guestMemfdFlags] == 3)
            #expect(info.perVMType[.default]?[.memoryAttributes] == 0)
        }

        /// The committed `Manifests/hosts/this-machine-kind.json` is this kind of machine's probe
        /// (checked with Foundation's JSON parser, independent of `HostProfile`).
        @Test func committedProfileMatchesThisMachine() throws {
            let info = try HostInfo.probe()
            let data = try Data(contentsOf: URL(fileURLWithPath: Repo.path("Manifests/hosts/this-machine-kind.json")))
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            // Only meaningful on the machine kind it was captured on.
            guard json["kernel"] as? String == info.kernelRelease, json["cpuVendor"] as? String == info.cpuVendor
            else { return }
            #expect(json["arch"] as? String == info.architecture)
            #expect(json["apiVersion"] as? Int == info.apiVersion)
            #expect(json["vmTypes"] as? [String] == info.vmTypes.map(\.name))
            #expect(json["pageSize"] as? Int == info.pageSize)
            #expect(json["physAddrBits"] as? Int == info.physAddrBits)
            #expect(json["sevCBit"] as? Int == info.sevCBit)
            let caps = try #require(json["caps"] as? [String: Int])
            #expect(caps.count == info.capabilities.count)
            for (name, value) in caps {
                let capability = try #require(KVMCapability(name: name), "unknown capability \(name)")
                #expect(info.capabilities[capability] == value, "\(name)")
            }
            let perVMType = try #require(json["perVMType"] as? [String: [String: Int]])
            for (typeName, table) in perVMType {
                let type = try #require(VMType(name: typeName))
                for (name, value) in table {
                    let capability = try #require(KVMCapability(name: name))
                    #expect(info.perVMType[type]?[capability] == value, "\(typeName) \(name)")
                }
            }
        }
    }
}
